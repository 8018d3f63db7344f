"""`process-video`: one video in, every analysis out."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from prefect import flow, get_run_logger, unmapped
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from tasks.animals import detect_batch, sample_video_frames, summarize
from tasks.checks import quality_gate
from tasks.media import ingest_video, probe_video, thumbnails
from tasks.publish import publish_results
from tasks.speech import audio_track, spoken_language, transcript
from tasks.video import SubtitleFiles, final_video, rendition, subtitle_files
from vidp.detect import AnimalSummary, Detection
from vidp.encode import target_size
from vidp.frames import frame_time
from vidp.ingest import VideoRef, source_filename
from vidp.manifest import FinalFile, RenditionFile, Results
from vidp.options import ProcessOptions
from vidp.probe import MediaInfo
from vidp.publish import check_output
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


@flow(
    name="process-video", flow_run_name=_run_name, task_runner=ThreadPoolTaskRunner(max_workers=8)
)
def process_video(
    source: str,
    output: str | None = None,
    options: ProcessOptions = ProcessOptions(),  # noqa: B008
) -> dict[str, Any]:
    """Validate, analyse, encode and publish one video; return its manifest.

    Args:
        source: The video: a local path, file:// URI or s3://bucket/key. It is only read.
        output: Where results go (`<output>/<video_id>/`): a folder or s3://bucket/prefix;
            empty means VIDP_OUTPUT.
        options: How to process it (resolutions, subtitles, language, detection, models).
    """
    settings = get_settings()
    output = output or settings.output
    weights = _resolve(options.detector_weights)
    whisper = _resolve(options.whisper_model)
    require_backend(options.language_backend)
    check_output(output)
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
    unique_sizes = list(
        dict.fromkeys(sizes)
    )  # a small source gives several labels one size: encode it once
    renditions = rendition.map(
        unmapped(video), unique_sizes, unmapped(options.crf), unmapped(options.preset)
    )
    clock.track("renditions", *renditions)
    thumb_size = target_size(media.width, media.height, _THUMBNAIL_LABEL)
    thumbs = thumbnails.submit(video, media.duration_s, options.thumbnails, thumb_size)
    clock.track("thumbnails", thumbs)
    frames = sample_video_frames.submit(video, options.sample_fps)
    clock.track("frames", frames)
    speech = _speech(video, media, options, whisper, clock)
    final = final_video.submit(
        video,
        options.subtitles,
        speech.subtitles,
        speech.language,
        renditions[-1],
        sizes[-1],
        options.crf,
        options.preset,
    )
    clock.track("final_video", final, after=("subtitles", "renditions"))

    detections, animals = _animals(video, frames.result(), options, weights, clock)
    progress(40, f"animals: {', '.join(a.label for a in animals) or 'none'}")
    language, text, subs = (f.result() if isinstance(f, PrefectFuture) else f for f in speech)
    progress(60, f"language: {language.code or 'none'}")
    gate = quality_gate.submit(detections, subs, media.duration_s)
    clock.track("quality", gate, after=("detection", "subtitles"))
    gate.result()
    final_path, final_mode = final.result()
    progress(85, "encoded")

    encoded = dict(zip(unique_sizes, renditions.result()))
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
            RenditionFile(label=label, path=encoded[(w, h)], width=w, height=h)
            for label, (w, h) in zip(labels, sizes)
        ],
        final=FinalFile(
            label=labels[-1],
            path=final_path,
            width=sizes[-1][0],
            height=sizes[-1][1],
            subtitles=final_mode,
        ),
        thumbnails=thumbs.result(),
        parameters={
            **options.model_dump(),
            "source": source,
            "output": output,
            "detector_weights": weights,
            "whisper_model": whisper,
        },
    )
    manifest = publish_results(output, results, clock.timings())
    progress(100, f"published {manifest['final_video']['uri']}")
    _artifacts(manifest, detections)
    return manifest


class _Speech(NamedTuple):
    """The speech branch: futures while it runs, or plain values for a video without audio."""

    language: PrefectFuture[LanguageResult] | LanguageResult
    transcript: PrefectFuture[Path | None] | None
    subtitles: PrefectFuture[SubtitleFiles | None] | None


def _speech(
    video: VideoRef, media: MediaInfo, options: ProcessOptions, whisper: str, clock: StageClock
) -> _Speech:
    """Submit audio -> language -> transcript -> subtitles, when there is audio."""
    if not media.has_audio:
        return _Speech(LanguageResult(code=None, probability=None, method="none"), None, None)
    audio = audio_track.submit(video)
    language = spoken_language.submit(audio, options.language, options.language_backend, whisper)
    text = transcript.submit(video, audio, language, whisper)
    subs = subtitle_files.submit(video, text, media.duration_s)
    clock.track("audio", audio)
    clock.track("language", language, after=("audio",))
    clock.track("transcription", text, after=("language",))
    clock.track("subtitles", subs, after=("transcription",))
    return _Speech(language, text, subs)


def _animals(
    video: VideoRef, frames: list[Path], options: ProcessOptions, weights: str, clock: StageClock
) -> tuple[list[Detection], list[AnimalSummary]]:
    """Detect in batches of frames (one mapped task each), then summarise per label."""
    size = get_settings().detect_batch_size
    times = [frame_time(i, options.sample_fps) for i in range(len(frames))]
    starts = range(0, len(frames), size)
    batches = detect_batch.map(
        [frames[i : i + size] for i in starts],
        [times[i : i + size] for i in starts],
        unmapped(weights),
        unmapped(options.min_confidence),
    )
    clock.track("detection", *batches, after=("frames",))
    detections = [d for found in batches.result() for d in found]
    animals = summarize.submit(video, detections)
    clock.track("detection", animals)
    return detections, animals.result()


def _artifacts(manifest: dict[str, Any], detections: list[Detection]) -> None:
    """The report and the detections table on the run's Artifacts tab."""
    video_id = manifest["video_id"]
    create_markdown_artifact(
        markdown_report(manifest), key=f"report-{video_id}", description="vidp report"
    )
    create_table_artifact(
        detections_table([d.model_dump() for d in detections]),
        key=f"detections-{video_id}",
        description="animal detections per sampled frame",
    )
