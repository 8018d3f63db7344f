"""Model work on another work pool: run `analyze-gpu` there and bring its results here."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment

from vidp.analysis import Analysis, VideoPart
from vidp.ingest import VideoRef
from vidp.options import ProcessOptions
from vidp.tasks.policies import started_runs_refresh
from vidp.tasks.speech import Heard, keep_transcript

__all__ = ["analyze_remotely", "remote_speech"]


@task
def analyze_remotely(
    deployment: str, source: str, options: ProcessOptions, part: VideoPart | None = None
) -> Analysis:
    """Start `deployment` for the same source (or `part` of it) and options, wait, and return
    its analysis."""
    parameters = {"source": source, "options": options.model_dump()}
    if part is not None:  # (a whole video's runs ask as they did before segments)
        parameters["part"] = part.model_dump(mode="json")
    run: FlowRun = run_deployment(  # type: ignore[assignment]  # a FlowRun, called sync
        deployment, parameters=parameters, job_variables=started_runs_refresh(), timeout=None
    )
    if run.state is None or not run.state.is_completed():
        state = run.state.name if run.state else "unknown"
        message = run.state.message if run.state else ""
        raise RuntimeError(f"{deployment} run {run.name} ended {state}: {message}")
    return Analysis.model_validate(run.state.result())


@task
def remote_speech(
    video: VideoRef, analysis: Analysis, whisper_model: str, folder: Path | None = None
) -> Heard:
    """The remote language and transcript, the transcript as a work file here (in `folder`,
    a segment's own, else the video's work folder)."""
    text = analysis.transcript
    return Heard(
        language=analysis.language,
        transcript=keep_transcript(video, text, whisper_model, folder) if text else None,
    )
