"""`analyze-gpu`: the model work of `process-video` (animals, language, transcript) as its own flow.

Deploy it on a GPU work pool and set VIDP_GPU_DEPLOYMENT=analyze-gpu/default where
`process-video` and `process-segment` run: the encodes stay on CPU workers, the models run here,
for a whole video or for one segment of a long one. Its result is persisted, so the run that
asked reads it from the shared result storage.
"""

from __future__ import annotations

from prefect import flow
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from vidp.analysis import Analysis, AnalysisModels, VideoPart
from vidp.ingest import VideoRef, source_filename
from vidp.options import ProcessOptions
from vidp.preload import preload
from vidp.probe import MediaInfo
from vidp.settings import get_settings
from vidp.speech import Transcript
from vidp.tasks.animals import detect_frames, sample_video_frames
from vidp.tasks.futures import still_working, value
from vidp.tasks.media import ingest_video, probe_video
from vidp.tasks.part import part_audio, sample_part_frames
from vidp.tasks.speech import submit_speech
from vidp.workfiles import WorkFile

__all__ = ["analyze_gpu"]


def _run_name() -> str:
    part = flow_run.parameters.get("part")
    if part:
        of = VideoPart.model_validate(part)
        return f"analyze-segment-{of.segment.index:03d}-{of.video.video_id}"
    return f"analyze-{source_filename(flow_run.parameters['source'])}"


@flow(
    name="analyze-gpu",
    flow_run_name=_run_name,
    persist_result=True,
    task_runner=ThreadPoolTaskRunner(max_workers=8),
)
def analyze_gpu(
    source: str,
    options: ProcessOptions = ProcessOptions(),  # noqa: B008
    part: VideoPart | None = None,
) -> Analysis:
    """Detect animals, identify the language and transcribe one video; return the results as data.

    Args:
        source: The video: s3://bucket/key, or a path this worker can read.
        options: The same processing options as the run that asked.
        part: One segment of the video, for a `process-segment` run: `source` is then where
            the whole video is stored (the work store), of which only the segment is read.
    """
    models = AnalysisModels.resolve(options, get_settings())
    video: VideoRef
    media: MediaInfo
    audio: PrefectFuture[WorkFile] | None = None
    # The frames from a decode of their own (the asker's come from its encode), named alike.
    frames: PrefectFuture[list[WorkFile]]
    if part is None:
        staged = ingest_video(source)
        video, media = staged.ref, probe_video(staged.ref, staged.filename)
        frames = sample_video_frames.submit(video, options.sample_fps)
    else:
        video, media = part.video, part.media
        frames = sample_part_frames.submit(video, source, part.segment, options.sample_fps)
        if media.has_audio:
            audio = part_audio.submit(video, source, part.segment)
    if still_working(frames):  # not a re-run served from the cache
        preload(models.detector_weights, quality_gate=False)
    heard = submit_speech(video, media, options, models.whisper_model, audio)
    detections = detect_frames(frames.result(), options, models.detector_weights)
    said = value(heard)
    return Analysis(
        detections=detections,
        language=said.language,
        transcript=Transcript.load(said.transcript.local()) if said.transcript else None,
    )
