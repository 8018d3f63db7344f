"""`process-segment`: one segment of a long video, for `process-video` to join with the others.

`process-video` starts one run of this deployment per segment (`vidp.segments`), on whichever
workers of the pool are free, and waits for them. A run reads its segment of the stored source
in place, hears its audio, burns its own subtitle cues and detects animals in its frames (the
hearing and detecting by `analyze-gpu` on the GPU pool where VIDP_GPU_DEPLOYMENT is set); its
result is persisted, so the run that asked reads it from the shared result storage.
"""

from __future__ import annotations

from prefect import flow
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from vidp.analysis import AnalysisModels, VideoPart
from vidp.ingest import VideoRef
from vidp.options import ProcessOptions
from vidp.outputs import OutputPlan
from vidp.preload import preload
from vidp.probe import MediaInfo
from vidp.segments import Segment
from vidp.settings import get_settings
from vidp.tasks.animals import detect_frames
from vidp.tasks.futures import result_or_cause, still_working, value
from vidp.tasks.part import PartResult, burn_part, encode_part, part_audio, part_folder
from vidp.tasks.remote import analyze_remotely, remote_speech
from vidp.tasks.speech import Heard, submit_speech
from vidp.tasks.video import subtitle_files

__all__ = ["process_segment"]


def _run_name() -> str:
    segment = Segment.model_validate(flow_run.parameters["segment"])
    video = VideoRef.model_validate(flow_run.parameters["video"])
    return f"segment-{segment.index:03d}-{video.video_id}"


@flow(
    name="process-segment",
    flow_run_name=_run_name,
    persist_result=True,
    task_runner=ThreadPoolTaskRunner(max_workers=8),
)
def process_segment(
    video: VideoRef,
    source: str,
    segment: Segment,
    media: MediaInfo,
    plan: OutputPlan,
    options: ProcessOptions = ProcessOptions(),  # noqa: B008
) -> PartResult:
    """Transcribe, subtitle, encode and look at one segment of a video; times from its start.

    Args:
        video: The whole video (its hash names the work folder and the cache keys).
        source: Where the whole source is stored (the work store, or a folder every worker
            of the pool mounts); only the segment's part of it is read.
        segment: Which frames.
        media: The whole video's probe.
        plan: The whole video's outputs, as the run that asked planned them (one encoder for
            every segment, so that their pictures join).
        options: The processing options of the run that asked.
    """
    settings = get_settings()
    models = AnalysisModels.resolve(options, settings)
    remote = None
    heard: PrefectFuture[Heard] | Heard
    if settings.gpu_deployment:  # model work on the GPU pool; this run encodes meanwhile
        part = VideoPart(video=video, segment=segment, media=media)
        remote = analyze_remotely.submit(settings.gpu_deployment, source, options, part)
        heard = remote_speech.submit(
            video, remote, models.whisper_model, part_folder(video, segment)
        )
    else:
        audio = part_audio.submit(video, source, segment) if media.has_audio else None
        heard = submit_speech(video, media, options, models.whisper_model, audio)
    subtitles = subtitle_files.submit(video, heard, segment.duration_s)
    # The final is burned as the plan says for a whole video: in the decode that makes the rest
    # (which then waits for the subtitles), or in one of its own (where a GPU hears).
    encoded_f = encode_part.submit(
        video, source, segment, plan, subtitles if plan.one_pass else None
    )
    burned = None if plan.one_pass else burn_part.submit(video, source, segment, plan, subtitles)
    if remote is None and still_working(encoded_f):  # not a re-run served from the cache
        preload(models.detector_weights, quality_gate=False)
    encoded = result_or_cause(encoded_f, heard, subtitles)
    if burned is not None:
        encoded = encoded.model_copy(update={"final": result_or_cause(burned, heard, subtitles)})
    return PartResult(
        segment=segment,
        heard=value(heard),
        subtitles=value(subtitles),
        encoded=encoded,
        detections=(
            remote.result().detections  # on frames named as this run's encode names them
            if remote is not None
            else detect_frames(encoded.frames, options, models.detector_weights)
        ),
    )
