"""Model work on another work pool: run `analyze-gpu` there and bring its results here."""

from __future__ import annotations

from prefect import task
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment

from vidp.analysis import Analysis
from vidp.ingest import VideoRef
from vidp.options import ProcessOptions
from vidp.tasks.speech import Heard, keep_transcript

__all__ = ["analyze_remotely", "remote_speech"]


@task
def analyze_remotely(deployment: str, source: str, options: ProcessOptions) -> Analysis:
    """Start `deployment` for the same source and options, wait, and return its analysis."""
    run: FlowRun = run_deployment(  # type: ignore[assignment]  # a FlowRun, called sync
        deployment, parameters={"source": source, "options": options.model_dump()}, timeout=None
    )
    if run.state is None or not run.state.is_completed():
        state = run.state.name if run.state else "unknown"
        message = run.state.message if run.state else ""
        raise RuntimeError(f"{deployment} run {run.name} ended {state}: {message}")
    return Analysis.model_validate(run.state.result())


@task
def remote_speech(video: VideoRef, analysis: Analysis, whisper_model: str) -> Heard:
    """The remote language and transcript, the transcript as a work file here."""
    text = analysis.transcript
    return Heard(
        language=analysis.language,
        transcript=keep_transcript(video, text, whisper_model) if text else None,
    )
