"""`process-video`: one video in, every analysis out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, unmapped
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from tasks.animals import detect_batch, sample_video_frames, summarize
from tasks.checks import quality_gate
from tasks.media import ingest_video, probe_video, thumbnails
from tasks.publish import publish_results
from tasks.speech import audio_track, spoken_language, transcript
from tasks.video import final_video, rendition, subtitle_files
from vidp.encode import target_size
from vidp.frames import frame_time
from vidp.ingest import source_filename
from vidp.manifest import FinalFile, RenditionFile, Results
from vidp.options import ProcessOptions
from vidp.report import detections_table, markdown_report
from vidp.settings import get_settings
from vidp.speech import LanguageResult, Transcript, require_backend
from vidp.stages import StageClock

__all__ = ["process_video"]

_THUMBNAIL_LABEL = "360p"


def _run_name() -> str:
    return f"process-{source_filename(flow_run.parameters['source'])}"


def _resolve(name: str) -> str:
    """A model setting as given, or as an absolute path when it names a local file."""
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


class _Progress:
    """A progress artifact on the run, mirrored in the log."""

    def __init__(self) -> None:
        self._id = create_progress_artifact(0.0, description="vidp: processing")
        self._logger = get_run_logger()

    def __call__(self, percent: float, what: str) -> None:
        update_progress_artifact(self._id, percent, description=f"vidp: {what}")
        self._logger.info("progress %3.0f%%: %s", percent, what)


@flow(name="process-video", flow_run_name=_run_name, task_runner=ThreadPoolTaskRunner(max_workers=8))
def process_video(
    source: str, output: str | None = None, options: ProcessOptions = ProcessOptions()  # noqa: B008
) -> dict[str, Any]:
    """Validate, analyse, encode and publish one video; return its manifest.

    Args:
        source: The video: a local path or file:// URI. It is only read.
        output: Where results go (`<output>/<video_id>/`); empty means VIDP_OUTPUT.
        options: How to process it (resolutions, subtitles, language, detection, models).
    """
    settings = get_settings()
    output = output or settings.output
    weights = _resolve(options.detector_weights or settings.detector_weights)
    whisper = _resolve(options.whisper_model or settings.whisper_model)
    require_backend(options.language_backend)
    clock, progress = StageClock(), _Progress()

    staged = ingest_video.submit(source)
    clock.track("ingest", staged)
    staged = staged.result()
    video = staged.ref
    media = probe_video(video, staged.filename)
    progress(10, f"probed {staged.filename}: {media.duration_s:.1f} s {media.width}x{media.height}")

    # Everything below starts now and overlaps; futures passed as inputs are waited for by Prefect.
    labels = options.resolutions
    sizes = [target_size(media.width, media.height, label) for label in labels]
    renditions = rendition.map(unmapped(video), labels, sizes, unmapped(options.crf), unmapped(options.preset))
    clock.track("renditions", *renditions)
    thumbs = thumbnails.submit(
        video, media.duration_s, options.thumbnails, target_size(media.width, media.height, _THUMBNAIL_LABEL)
    )
    clock.track("thumbnails", thumbs)
    frames = sample_video_frames.submit(video, options.sample_fps)
    clock.track("frames", frames)

    language: Any = LanguageResult(code=None, probability=None, method="none")
    text: Any = None
    subs: Any = None
    if media.has_audio:
        audio = audio_track.submit(video)
        language = spoken_language.submit(audio, options.language, options.language_backend, whisper)
        text = transcript.submit(video, audio, language, whisper)
        subs = subtitle_files.submit(video, text, media.duration_s)
        clock.track("audio", audio)
        clock.track("language", language, after=("audio",))
        clock.track("transcription", text, after=("language",))
        clock.track("subtitles", subs, after=("transcription",))
    final = final_video.submit(
        video, options.subtitles, subs, language, renditions[-1], sizes[-1], options.crf, options.preset
    )
    clock.track("final_video", final, after=("subtitles", "renditions"))

    frame_paths = frames.result()
    frame_times = [frame_time(i, options.sample_fps) for i in range(len(frame_paths))]
    starts = range(0, len(frame_paths), settings.detect_batch_size)
    chunks = [frame_paths[i : i + settings.detect_batch_size] for i in starts]
    times = [frame_times[i : i + settings.detect_batch_size] for i in starts]
    detections_f = detect_batch.map(chunks, times, unmapped(weights), unmapped(options.min_confidence))
    clock.track("detection", *detections_f, after=("frames",))
    detections = [d for found in detections_f.result() for d in found]
    animals = summarize.submit(video, detections)
    clock.track("detection", animals)
    animals = animals.result()
    progress(40, f"animals: {', '.join(a.label for a in animals) or 'none'}")

    language = language.result() if media.has_audio else language
    text = text.result() if media.has_audio else None
    subs = subs.result() if media.has_audio else None
    progress(60, f"language: {language.code or 'none'}")

    gate = quality_gate.submit(detections, subs, media.duration_s)
    clock.track("quality", gate, after=("detection", "subtitles"))
    gate.result()
    final_path, final_mode = final.result()
    rendition_paths = renditions.result()
    progress(85, "encoded")

    words = Transcript.load(text) if text else None
    results = Results(
        source=staged,
        media=media,
        language=language,
        animals=animals,
        transcript=text,
        segments=len(words.segments) if words else 0,
        words=words.word_count if words else 0,
        srt=subs.srt if subs else None,
        vtt=subs.vtt if subs else None,
        renditions=[
            RenditionFile(label=label, path=path, width=w, height=h)
            for label, path, (w, h) in zip(labels, rendition_paths, sizes)
        ],
        final=FinalFile(
            label=labels[-1], path=final_path, width=sizes[-1][0], height=sizes[-1][1], subtitles=final_mode
        ),
        thumbnails=thumbs.result(),
        parameters={
            "source": source,
            "output": output,
            **options.model_dump(),
            "detector_weights": weights,
            "whisper_model": whisper,
        },
    )
    manifest = publish_results(output, results, clock.timings())
    progress(100, f"published {manifest['final_video']['uri']}")

    create_markdown_artifact(markdown_report(manifest), key=f"report-{video.video_id}", description="vidp report")
    create_table_artifact(
        detections_table([d.model_dump() for d in detections]),
        key=f"detections-{video.video_id}",
        description="animal detections per sampled frame",
    )
    return manifest
