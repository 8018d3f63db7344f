"""A long video over the pool's workers: plan its segments, start one `process-segment` run for
each and wait for them, join what they made into what one run of the whole video makes."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from prefect import get_run_logger, task
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, WorkPoolStatus
from prefect.context import TaskRunContext
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.flow_runs import wait_for_flow_run
from prefect.futures import as_completed
from prefect.runtime import flow_run
from pydantic import BaseModel

from vidp.audio import load_audio
from vidp.detect import Detection
from vidp.ingest import VideoRef
from vidp.join import (
    join_parts,
    merge_cues,
    merge_detections,
    merge_transcripts,
    spoken_language,
    whole_audio,
)
from vidp.options import ProcessOptions
from vidp.outputs import OutputPlan
from vidp.preload import preload
from vidp.probe import MediaInfo
from vidp.segments import Segment, plan_segments, video_frames
from vidp.speech import Transcript, speech_pieces
from vidp.subtitles import parse_srt, write_subtitles
from vidp.tasks.futures import still_working
from vidp.tasks.part import PartResult
from vidp.tasks.policies import (
    CACHED,
    CACHED_FILES,
    STEP_TIMEOUT,
    refreshing,
    started_runs_refresh,
)
from vidp.tasks.speech import Heard, audio_track, keep_transcript
from vidp.tasks.video import EncodedMedia, SubtitleFiles
from vidp.workfiles import WorkFile, keep

__all__ = [
    "SegmentRun",
    "Joined",
    "plan_video_segments",
    "audio_for_joins",
    "run_segment",
    "join_segments",
    "ready_deployment",
    "process_in_segments",
    "SegmentsUnavailable",
]

# Runs of one segment (a worker killed, a step failed) before the video fails.
RUNS_PER_SEGMENT = 3


class SegmentRun(BaseModel):
    """A segment and the `process-segment` run whose result was used."""

    segment: Segment
    flow_run_id: str
    result: PartResult


class Joined(BaseModel):
    """What the segments made, as one run of the whole video makes it."""

    heard: Heard
    subtitles: SubtitleFiles | None
    encoded: EncodedMedia
    detections: list[Detection]


@task(cache_policy=CACHED, **STEP_TIMEOUT)
def plan_video_segments(video: VideoRef, audio: WorkFile | None, segment_s: float) -> list[Segment]:
    """Segments of about `segment_s`, cut between the pieces of speech the transcription
    hears (`audio`: the whole 16 kHz track; None without audio)."""
    speech = speech_pieces(load_audio(audio.local())) if audio else []
    return plan_segments(video_frames(video.path), speech, segment_s)


@task(cache_policy=CACHED_FILES, **STEP_TIMEOUT)
def audio_for_joins(video: VideoRef, copy: bool) -> WorkFile:
    """The whole video's audio, once, for every joined video (AAC, copied when it is already)."""
    out = video.work_dir / ("audio-copy.m4a" if copy else "audio-aac-128k.m4a")
    return keep(video, [whole_audio(video.path, out, copy)])[0]


def segment_key(
    video: VideoRef, segment: Segment, plan: OutputPlan, options: ProcessOptions
) -> str:
    """The same for the same video, segment and options: a second run of the video finds the
    segment's run of the first (and its result) instead of starting another."""
    what = json.dumps(
        [video.sha256, segment.model_dump(), plan.model_dump(), options.model_dump()],
        sort_keys=True,
    )
    return "vidp-segment-" + hashlib.sha256(what.encode()).hexdigest()[:32]


class SegmentFailed(RuntimeError):
    """A segment's run ended without a result."""


@task(retries=RUNS_PER_SEGMENT - 1, **STEP_TIMEOUT)
def run_segment(
    deployment: str,
    video: VideoRef,
    source: str,
    segment: Segment,
    media: MediaInfo,
    plan: OutputPlan,
    options: ProcessOptions,
) -> SegmentRun:
    """Start the segment's run on the pool and wait for it. The first try finds the run that
    a run of the same video, segment and options started, if any (a re-run of the video is
    then served segment by segment from its runs' results); a retry, after a run failed or
    crashed, starts a new one, as does a run that is `refreshing` (and that one refreshes)."""
    context = TaskRunContext.get()
    attempt = context.task_run.run_count if context else 1
    key = segment_key(video, segment, plan, options)
    if attempt > 1 or refreshing():
        key += f"-{flow_run.id}-{attempt}"
    parameters = {
        "video": video.model_dump(),
        "source": source,
        "segment": segment.model_dump(),
        "media": media.model_dump(),
        "plan": plan.model_dump(mode="json"),
        "options": options.model_dump(),
    }
    run: FlowRun = run_deployment(  # type: ignore[assignment]  # a FlowRun, called sync
        deployment,
        parameters=parameters,
        idempotency_key=key,
        job_variables=started_runs_refresh(),
        timeout=0,
    )
    if run.state is None or not run.state.is_final():
        # Prefect's wait follows the run's events: no polling delay once it ends.
        run = asyncio.run(wait_for_flow_run(run.id, timeout=None))
    if run.state is None or not run.state.is_completed():
        state = run.state.name if run.state else "unknown"
        message = run.state.message if run.state and run.state.message else ""
        raise SegmentFailed(f"segment {segment.index}: {run.name} ended {state}: {message}")
    result = PartResult.model_validate(run.state.result())
    return SegmentRun(segment=segment, flow_run_id=str(run.id), result=result)


@task(cache_policy=CACHED_FILES, **STEP_TIMEOUT)
def join_segments(
    video: VideoRef,
    plan: OutputPlan,
    runs: list[SegmentRun],
    audio: WorkFile | None,
    whisper_model: str,
) -> Joined:
    """Every rendition and the final video joined from the segments' pictures with the whole
    audio, and their transcripts, subtitles, detections, frames and thumbnails on the video's
    clock, in a folder named by the cuts."""
    parts = [r.result for r in runs]
    cuts = ",".join(str(r.segment.first_frame) for r in runs)
    folder = video.work_dir / f"joined-{hashlib.sha256(cuts.encode()).hexdigest()[:12]}"
    folder.mkdir(parents=True, exist_ok=True)
    sound = audio.local() if audio else None

    def joined(files: list[WorkFile], out: Path) -> WorkFile:
        return keep(video, [join_parts([f.local() for f in files], sound, out)])[0]

    by_name: dict[str, WorkFile] = {}  # labels of one size share a file: joined once
    for label, f in parts[0].encoded.renditions.items():
        if f.name not in by_name:
            pictures = [p.encoded.renditions[label] for p in parts]
            by_name[f.name] = joined(pictures, folder / Path(f.name).name)
    renditions = {label: by_name[f.name] for label, f in parts[0].encoded.renditions.items()}
    burned = [p.encoded.final for p in parts if p.encoded.final is not None]
    final = None
    if burned:  # a segment without a cue gives its plain picture at the final size
        finals = [p.encoded.final or p.encoded.renditions[plan.final_label] for p in parts]
        final = joined(finals, folder / Path(burned[0].name).name)
    return Joined(
        heard=_merged_speech(video, parts, whisper_model, folder),
        subtitles=_merged_subtitles(video, parts, folder),
        encoded=EncodedMedia(
            renditions=renditions,
            final=final,
            frames=[f for p in parts for f in p.encoded.frames],
            thumbnails=[f for p in parts for f in p.encoded.thumbnails],
        ),
        detections=merge_detections([(p.segment.start_s, p.detections) for p in parts]),
    )


def _merged_speech(
    video: VideoRef, parts: list[PartResult], whisper_model: str, folder: Path
) -> Heard:
    """One transcript and language for the video, from the segments'."""
    texts = [
        (
            p.segment.start_s,
            Transcript.load(p.heard.transcript.local()) if p.heard.transcript else None,
        )
        for p in parts
    ]
    merged = merge_transcripts(texts)
    heard = [p.heard.language for p in parts if p.heard.language.code]
    if merged is None or not heard:
        return Heard(language=parts[0].heard.language, transcript=None)
    return Heard(
        language=spoken_language(merged, heard[0].method),
        transcript=keep_transcript(video, merged, whisper_model, folder),
    )


def _merged_subtitles(
    video: VideoRef, parts: list[PartResult], folder: Path
) -> SubtitleFiles | None:
    """The segments' cues, as they burned them, in one SRT and WebVTT, named by the segments'
    own (whose names say the language and the model)."""
    made = [(p.segment, p.subtitles) for p in parts if p.subtitles is not None]
    cues = merge_cues(
        [
            (segment.start_s, segment.end_s, parse_srt(files.srt.local().read_text("utf-8")))
            for segment, files in made
        ]
    )
    if not cues:
        return None
    names = ",".join(files.srt.name for _, files in made)
    stem = f"subtitles-{hashlib.sha256(names.encode()).hexdigest()[:12]}"
    srt, vtt = folder / f"{stem}.srt", folder / f"{stem}.vtt"
    write_subtitles(cues, srt, vtt)
    srt_file, vtt_file = keep(video, [srt, vtt])
    return SubtitleFiles(srt=srt_file, vtt=vtt_file, cues=len(cues))


def ready_deployment(name: str, asked: bool) -> str | None:
    """`name` where a run can spread over the pool: the deployment exists and its work pool
    has a worker online, or segments were `asked` for (they wait for a worker, with a warning).
    Otherwise None; where segments were asked for and there is no such deployment, the reason."""
    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(name)
            pool = client.read_work_pool(deployment.work_pool_name or "")
        except ObjectNotFound:
            if asked:
                raise SegmentsUnavailable(
                    f"segments need the {name} deployment (vidp deploy), and there is none"
                ) from None
            return None
    if pool.status == WorkPoolStatus.READY:
        return name
    if asked:
        get_run_logger().warning(
            "no worker of pool %s is online: the segments wait for one", pool.name
        )
        return name
    return None


class SegmentsUnavailable(RuntimeError):
    """Segments were asked for where no worker can run them."""


def process_in_segments(
    deployment: str,
    video: VideoRef,
    media: MediaInfo,
    plan: OutputPlan,
    options: ProcessOptions,
    segment_s: float,
    whisper_model: str,
    progress: Callable[[float, str], None],
) -> tuple[Joined, list[SegmentRun]]:
    """The video's segments, each run by `deployment` on a free worker of its pool, joined."""
    sound = audio_for_joins.submit(video, plan.copy_audio) if media.has_audio else None
    audio = audio_track.submit(video).result() if media.has_audio else None
    segments = plan_video_segments.submit(video, audio, segment_s).result()
    progress(15, f"{len(segments)} segments of about {segment_s:g} s")
    runs = [
        run_segment.submit(deployment, video, video.uri(), s, media, plan, options)
        for s in segments
    ]
    # The checks of the joined result import great-expectations (3 s of a core): while the
    # segments work rather than after them (the detector is theirs to load, not this run's);
    # not for a re-run, whose segments and checks come from earlier runs and the cache.
    if still_working(runs[-1], within_s=2.0):
        preload(None)
    for done, future in enumerate(as_completed(runs), start=1):
        ended = future.result()
        progress(
            15 + 65 * done / len(runs),
            f"segment {ended.segment.index} done ({done} of {len(runs)})",
        )
    finished = [f.result() for f in runs]
    whole = sound.result() if sound else None
    joined = join_segments.submit(video, plan, finished, whole, whisper_model).result()
    return joined, finished
