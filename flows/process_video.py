"""`process-video`: one video in, every analysis out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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

from flows.branches import Speech, detect_frames, resolve_model, submit_speech, value
from tasks.animals import sample_video_frames, summarize
from tasks.catalog import catalog_failed, catalog_published, catalog_running
from tasks.checks import quality_gate
from tasks.media import ingest_video, probe_video, thumbnails
from tasks.publish import publish_results
from tasks.remote import analyze_remotely, remote_language, remote_transcript
from tasks.video import final_video, rendition, subtitle_files
from vidp.detect import Detection
from vidp.encode import target_size
from vidp.ingest import StagedVideo, source_filename
from vidp.manifest import FinalFile, RenditionFile, Results
from vidp.options import ProcessOptions
from vidp.publish import check_output
from vidp.report import detections_table, markdown_report
from vidp.settings import get_settings
from vidp.speech import Transcript, require_backend
from vidp.stages import StageClock

__all__ = ["process_video"]

_THUMBNAIL_LABEL = "360p"


def _run_name() -> str:
    return f"process-{source_filename(flow_run.parameters['source'])}"


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
    weights = resolve_model(options.detector_weights)
    whisper = resolve_model(options.whisper_model)
    require_backend(options.language_backend)
    check_output(output)
    clock, progress = StageClock(), _Progress()

    staged = ingest_video.submit(source)
    clock.track("ingest", staged)
    staged = staged.result()
    with _catalog_entry(staged):  # from here on, a failure is recorded with its reason
        video = staged.ref
        media = probe_video(video, staged.filename)
        progress(
            10, f"probed {staged.filename}: {media.duration_s:.1f} s {media.width}x{media.height}"
        )

        # Everything below starts now and overlaps; futures passed as inputs are waited for by Prefect.
        labels = options.resolutions
        sizes = [target_size(media.width, media.height, label) for label in labels]
        # A small source gives several labels one size: encode it once.
        unique_sizes = list(dict.fromkeys(sizes))
        renditions = rendition.map(
            unmapped(video), unique_sizes, unmapped(options.crf), unmapped(options.preset)
        )
        clock.track("renditions", *renditions)
        thumb_size = target_size(media.width, media.height, _THUMBNAIL_LABEL)
        thumbs = thumbnails.submit(video, media.duration_s, options.thumbnails, thumb_size)
        clock.track("thumbnails", thumbs)
        frames = sample_video_frames.submit(video, options.sample_fps)
        clock.track("frames", frames)
        remote = None
        if settings.gpu_deployment:  # model work on the GPU pool; encodes go on here meanwhile
            remote = analyze_remotely.submit(settings.gpu_deployment, source, options)
            clock.track("gpu_analysis", remote)
            speech = Speech(
                remote_language.submit(remote), remote_transcript.submit(video, remote, whisper)
            )
        else:
            speech = submit_speech(video, media, options, whisper, clock)
        subs_f = None
        if speech.transcript is not None:
            subs_f = subtitle_files.submit(video, speech.transcript, media.duration_s)
            clock.track("subtitles", subs_f, after=("transcription", "gpu_analysis"))
        final = final_video.submit(
            video,
            options.subtitles,
            subs_f,
            speech.language,
            renditions[-1],
            sizes[-1],
            options.crf,
            options.preset,
        )
        clock.track("final_video", final, after=("subtitles", "renditions"))

        frame_files = frames.result()
        if remote is not None:  # its detections name frames as they are named here
            detections = remote.result().detections
        else:
            detections = detect_frames(frame_files, options, weights, clock)
        animals_f = summarize.submit(video, frame_files, detections)
        clock.track("detection", animals_f)
        animals = animals_f.result()
        progress(40, f"animals: {', '.join(a.label for a in animals.summaries) or 'none'}")
        language, text, subs = value(speech.language), value(speech.transcript), value(subs_f)
        progress(60, f"language: {language.code or 'none'}")
        gate = quality_gate.submit(detections, subs, media.duration_s)
        clock.track("quality", gate, after=("detection", "subtitles"))
        gate.result()
        final_file, final_mode = final.result()
        progress(85, "encoded")

        encoded = dict(zip(unique_sizes, renditions.result(), strict=True))
        words = Transcript.load(text.local()) if text else None
        results = Results(
            source=staged,
            media=media,
            language=language,
            animals=animals.summaries,
            animal_images=animals.crops,
            transcript=text,
            segments=len(words.segments) if words else 0,
            words=words.word_count if words else 0,
            srt=subs.srt if subs else None,
            vtt=subs.vtt if subs else None,
            renditions=[
                RenditionFile(label=label, file=encoded[(w, h)], width=w, height=h)
                for label, (w, h) in zip(labels, sizes, strict=True)
            ],
            final=FinalFile(
                label=labels[-1],
                file=final_file,
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
        catalog_published(manifest)
        progress(100, f"published {manifest['final_video']['uri']}")
        _artifacts(manifest, detections)
    return manifest


@contextmanager
def _catalog_entry(staged: StagedVideo) -> Iterator[None]:
    """The video's catalog entry follows this run: running now, failed with the reason if the
    block raises (the run still fails), completed once `catalog_published` is called."""
    catalog_running(staged, str(flow_run.id) if flow_run.id else None)
    try:
        yield
    except Exception as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        # return_state: a catalog that cannot be written must not hide why the run failed.
        catalog_failed(staged.ref.video_id, reason, return_state=True)
        raise


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
