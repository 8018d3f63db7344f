"""Model work on another work pool: run `analyze-gpu` there and bring its results here."""

from __future__ import annotations

from prefect import task
from prefect.deployments import run_deployment

from tasks.speech import keep_transcript
from vidp.analysis import Analysis
from vidp.ingest import VideoRef
from vidp.options import ProcessOptions
from vidp.speech import LanguageResult
from vidp.workfiles import WorkFile

__all__ = ["analyze_remotely", "remote_language", "remote_transcript"]


@task
def analyze_remotely(deployment: str, source: str, options: ProcessOptions) -> Analysis:
    """Start `deployment` for the same source and options, wait, and return its analysis."""
    run = run_deployment(
        deployment, parameters={"source": source, "options": options.model_dump()}, timeout=None
    )
    if run.state is None or not run.state.is_completed():
        state = run.state.name if run.state else "unknown"
        message = run.state.message if run.state else ""
        raise RuntimeError(f"{deployment} run {run.name} ended {state}: {message}")
    return Analysis.model_validate(run.state.result())


@task
def remote_language(analysis: Analysis) -> LanguageResult:
    return analysis.language


@task
def remote_transcript(video: VideoRef, analysis: Analysis, whisper_model: str) -> WorkFile | None:
    """The remote transcript as a work file here."""
    text = analysis.transcript
    return keep_transcript(video, text, whisper_model) if text else None
