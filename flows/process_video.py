"""`process-video`: one video in, every analysis out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from vidp.detect import Detection
from vidp.ingest import StagedVideo, source_filename
from vidp.manifest import Manifest, VideoSegment
from vidp.options import ProcessOptions
from vidp.outputs import FinalSubtitles, OutputPlan
from vidp.preload import LOAD_AT_ONCE_S, all_to_do, preload
from vidp.probe import MediaInfo
from vidp.report import detections_table, markdown_report
from vidp.run_config import RunConfig, configure_run
from vidp.settings import get_settings
from vidp.tasks.animals import detect_frames, summarize
from vidp.tasks.catalog import catalog_failed, catalog_published, catalog_running
from vidp.tasks.checks import quality_gate
from vidp.tasks.futures import result_or_cause, still_working, value
from vidp.tasks.media import ingest_video, probe_video
from vidp.tasks.policies import refreshing, with_timeout_named
from vidp.tasks.publish import publish_results
from vidp.tasks.remote import analyze_remotely, remote_speech
from vidp.tasks.segments import SegmentRun, process_in_segments, ready_deployment
from vidp.tasks.speech import Heard, submit_speech
from vidp.tasks.video import EncodedMedia, SubtitleFiles, encode_media, final_video, subtitle_files
from vidp.workfiles import WorkFile

__all__ = ["process_video"]


def _run_name() -> str:
    return f"process-{source_filename(flow_run.parameters['source'])}"


class _Progress:
    """A progress artifact on the run, mirrored in the log; it never goes back."""

    def __init__(self) -> None:
        self._id = create_progress_artifact(0.0, description="vidp: processing")
        self._logger = get_run_logger()
        self._at = 0.0

    def __call__(self, percent: float, what: str) -> None:
        self._at = max(self._at, percent)
        update_progress_artifact(self._id, self._at, description=f"vidp: {what}")
        self._logger.info("progress %3.0f%%: %s", self._at, what)


# Threads, not cores: besides the steps, each segment in flight waits for its run in one.
@flow(
    name="process-video", flow_run_name=_run_name, task_runner=ThreadPoolTaskRunner(max_workers=64)
)
def process_video(
    source: str,
    output: str | None = None,
    options: ProcessOptions = ProcessOptions(),  # noqa: B008
) -> Manifest:
    """Validate, analyse, encode and publish one video; return its manifest.

    Args:
        source: The video: a local path, file:// URI or s3://bucket/key. It is only read.
        output: Where results go (`<output>/<video_id>/`): a folder or s3://bucket/prefix;
            empty means VIDP_OUTPUT.
        options: How to process it (resolutions, subtitles, language, detection, models).
    """
    run = configure_run(source, output, options, get_settings())
    progress = _Progress()

    staged = ingest_video(source)
    with _catalog_entry(staged):  # from here on, a failure is recorded with its reason
        video = staged.ref
        media = probe_video(video, staged.filename)
        progress(
            10, f"probed {staged.filename}: {media.duration_s:.1f} s {media.width}x{media.height}"
        )

        plan = run.plan(media)
        spread = _spread(options, media.duration_s)
        segment_runs: list[SegmentRun] = []
        heard: PrefectFuture[Heard] | Heard
        subtitles: PrefectFuture[SubtitleFiles | None] | SubtitleFiles | None
        if spread is not None:  # over the pool's workers, joined here
            deployment, segment_s = spread
            joined, segment_runs = process_in_segments(
                deployment,
                video,
                media,
                plan,
                options,
                segment_s,
                run.models.whisper_model,
                progress,
            )
            heard, subtitles, encoded = joined.heard, joined.subtitles, joined.encoded
            detections = joined.detections
            final = final_video.submit(video, plan, subtitles, heard, encoded)
        else:
            heard, subtitles, encoded, final, detections = _here(run, staged, media, plan)
        animals = summarize.submit(video, encoded.frames, detections).result()
        progress(40, f"animals: {', '.join(a.label for a in animals.summaries) or 'none'}")
        said: Heard = value(heard)
        progress(60, f"language: {said.language.code or 'none'}")
        result_or_cause(
            quality_gate.submit(detections, subtitles, said, media.duration_s), subtitles
        )
        made = result_or_cause(final, subtitles)
        progress(85, "encoded")

        manifest = publish_results(
            run,
            staged,
            media,
            said,
            animals,
            value(subtitles),
            encoded,
            made,
            plan,
            [
                VideoSegment(
                    index=r.segment.index,
                    start_s=r.segment.start_s,
                    end_s=r.segment.end_s,
                    flow_run_id=r.flow_run_id,
                )
                for r in segment_runs
            ],
        )
        catalog_published(manifest)
        progress(100, f"published {manifest.final_video.uri}")
        _artifacts(manifest, detections)
    return manifest


def _here(
    run: RunConfig, staged: StagedVideo, media: MediaInfo, plan: OutputPlan
) -> tuple[
    PrefectFuture[Heard] | Heard,
    PrefectFuture[SubtitleFiles | None],
    EncodedMedia,
    PrefectFuture[tuple[WorkFile, FinalSubtitles]],
    list[Detection],
]:
    """The video's work in this run (the model work on the GPU pool where one is set): what it
    heard, its subtitles, pictures, final video and detections."""
    video, options = staged.ref, run.options
    # Everything below overlaps; futures passed as inputs are waited for by Prefect.
    remote = None
    if run.gpu_deployment:  # model work on the GPU pool; encodes go on here meanwhile
        remote = analyze_remotely.submit(run.gpu_deployment, run.source, options)
        heard = remote_speech.submit(video, remote, run.models.whisper_model)
    else:
        heard = submit_speech(video, media, options, run.models.whisper_model)
    subtitles = subtitle_files.submit(video, heard, media.duration_s)
    # One decode of the source makes every picture; with `one_pass` it waits for the
    # subtitles and burns the final video too.
    encoded_f = encode_media.submit(video, plan, subtitles if plan.one_pass else None)
    final = final_video.submit(video, plan, subtitles, heard, encoded_f)
    # The detector and the quality gate load in the background, never for a re-run served
    # from the cache: a short video's at once if it is new here (loading takes longer than
    # its transcript), else once its encode is seen working; a longer one's while its
    # encode works, not while Whisper does (it needs the cores).
    if remote is None:
        short = media.duration_s <= LOAD_AT_ONCE_S
        if not short:
            subtitles.wait()
        if (short and all_to_do(staged.first_here, refreshing())) or still_working(encoded_f):
            # A long video's encode is at its peak of memory meanwhile: on the CPU, the
            # detector's first inference (its predictor's buffers) waits for the frames.
            preload(run.models.detector_weights, gate_process=short, warm=short)

    encoded = result_or_cause(encoded_f, heard, subtitles)
    if remote is not None:  # its detections name frames as they are named here
        detections = remote.result().detections
    else:  # on the encode's frames (`analyze-gpu` samples its own, named alike)
        detections = detect_frames(encoded.frames, options, run.models.detector_weights)
    return heard, subtitles, encoded, final, detections


def _spread(options: ProcessOptions, duration_s: float) -> tuple[str, float] | None:
    """The deployment that runs this video's segments and their length, where it is spread over
    the pool's workers: asked for (`segment_s`), or long enough and a worker online."""
    name = get_settings().segment_deployment
    segment_s = options.segment_length(duration_s)
    if segment_s is None or not name:
        return None
    deployment = ready_deployment(name, asked=bool(options.segment_s))
    return (deployment, segment_s) if deployment else None


@contextmanager
def _catalog_entry(staged: StagedVideo) -> Iterator[None]:
    """The video's catalog entry follows this run: running now, failed with the reason if the
    block raises (the run still fails), completed once `catalog_published` is called."""
    catalog_running(staged, str(flow_run.id) if flow_run.id else None)
    try:
        yield
    except Exception as error:
        failure = with_timeout_named(error)
        reason = str(failure).splitlines()[0] if str(failure) else type(failure).__name__
        # return_state: a catalog that cannot be written must not hide why the run failed.
        catalog_failed(staged.ref.video_id, reason, return_state=True)
        if failure is not error:
            raise failure from error
        raise


def _artifacts(manifest: Manifest, detections: list[Detection]) -> None:
    """The report and the detections table on the run's Artifacts tab."""
    video_id = manifest.video_id
    create_markdown_artifact(
        markdown_report(manifest), key=f"report-{video_id}", description="vidp report"
    )
    create_table_artifact(
        detections_table([d.model_dump() for d in detections]),
        key=f"detections-{video_id}",
        description="animal detections per sampled frame",
    )
