"""`analyze-gpu`: the model work of `process-video` (animals, language, transcript) as its own flow.

Deploy it on a GPU work pool and set VIDP_GPU_DEPLOYMENT=analyze-gpu/default where
`process-video` runs: the encodes stay on CPU workers, the models run here. Its result is
persisted, so `process-video` reads it from the shared result storage.
"""

from __future__ import annotations

from prefect import flow
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from vidp.analysis import Analysis, AnalysisModels
from vidp.ingest import source_filename
from vidp.options import ProcessOptions
from vidp.preload import preload
from vidp.settings import get_settings
from vidp.speech import Transcript
from vidp.tasks.animals import detect_frames, sample_video_frames
from vidp.tasks.futures import still_working, value
from vidp.tasks.media import ingest_video, probe_video
from vidp.tasks.speech import submit_speech

__all__ = ["analyze_gpu"]


def _run_name() -> str:
    return f"analyze-{source_filename(flow_run.parameters['source'])}"


@flow(
    name="analyze-gpu",
    flow_run_name=_run_name,
    persist_result=True,
    task_runner=ThreadPoolTaskRunner(max_workers=8),
)
def analyze_gpu(source: str, options: ProcessOptions = ProcessOptions()) -> Analysis:  # noqa: B008
    """Detect animals, identify the language and transcribe one video; return the results as data.

    Args:
        source: The video: s3://bucket/key, or a path this worker can read.
        options: The same processing options as the process-video run that asked.
    """
    models = AnalysisModels.resolve(options, get_settings())
    staged = ingest_video(source)
    media = probe_video(staged.ref, staged.filename)
    # The frames from a decode of their own (process-video's come from its encode), named alike.
    frames = sample_video_frames.submit(staged.ref, options.sample_fps)
    if still_working(frames):  # not a re-run served from the cache
        preload(models.detector_weights, quality_gate=False)
    heard = submit_speech(staged.ref, media, options, models.whisper_model)
    detections = detect_frames(frames.result(), options, models.detector_weights)
    said = value(heard)
    return Analysis(
        detections=detections,
        language=said.language,
        transcript=Transcript.load(said.transcript.local()) if said.transcript else None,
    )
