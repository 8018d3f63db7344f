"""Publishing: every output first, the manifest last."""

from __future__ import annotations

from datetime import datetime, timezone

from prefect import task
from prefect.context import FlowRunContext

from vidp.ingest import StagedVideo
from vidp.manifest import (
    FinalFile,
    Manifest,
    RenditionFile,
    Results,
    VideoSegment,
    build_manifest,
)
from vidp.outputs import OutputPlan
from vidp.probe import MediaInfo
from vidp.publish import publication_for, publish
from vidp.run_config import RunConfig
from vidp.speech import Transcript
from vidp.tasks.animals import Animals
from vidp.tasks.policies import IO_RETRIES, STEP_TIMEOUT, retry_unless_rejected
from vidp.tasks.speech import Heard
from vidp.tasks.video import EncodedMedia, SubtitleFiles
from vidp.workfiles import WorkFile

__all__ = ["publish_results"]


@task(**IO_RETRIES, retry_condition_fn=retry_unless_rejected, **STEP_TIMEOUT)
def publish_results(
    run: RunConfig,
    staged: StagedVideo,
    media: MediaInfo,
    heard: Heard,
    animals: Animals,
    subtitles: SubtitleFiles | None,
    encoded: EncodedMedia,
    final: tuple[WorkFile, str],
    plan: OutputPlan,
    segments: list[VideoSegment] | None = None,
) -> Manifest:
    """Copy the outputs under `<run.output>/<video_id>/` and write `manifest.json` last."""
    words = Transcript.load(heard.transcript.local()) if heard.transcript else None
    final_file, final_mode = final
    results = Results(
        source=staged,
        media=media,
        language=heard.language,
        animals=animals.summaries,
        animal_images=animals.crops,
        transcript=heard.transcript,
        segments=len(words.segments) if words else 0,
        words=words.word_count if words else 0,
        languages=words.languages if words else [],
        speech_s=words.speech_s if words else None,
        untranscribed=words.untranscribed if words else None,
        srt=subtitles.srt if subtitles else None,
        vtt=subtitles.vtt if subtitles else None,
        renditions=[
            RenditionFile(
                label=label, file=encoded.renditions[label], width=w, height=h, encoder=plan.encoder
            )
            for label, (w, h) in plan.renditions.items()
        ],
        final=FinalFile(
            label=plan.final_label,
            file=final_file,
            width=plan.final_size[0],
            height=plan.final_size[1],
            encoder=plan.encoder,
            subtitles=final_mode,
        ),
        thumbnails=encoded.thumbnails,
        parameters=run.manifest_parameters(),
        video_segments=segments or [],
    )
    # The run's stages have Prefect's own timestamps (its UI, `bench/timeline.py`); the
    # manifest keeps the whole run's seconds.
    context, now = FlowRunContext.get(), datetime.now(timezone.utc)
    timings_s = {"total": (now - (context.start_time if context else now)).total_seconds()}
    publication = publication_for(run.output, staged.ref.video_id)
    return publish(
        publication,
        {key: file.local() for key, file in results.files().items()},
        lambda uris, links: build_manifest(results, uris, links, timings_s),
    )
