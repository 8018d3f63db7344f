"""The automation that marks a `process-video` or `process-segment` run Crashed when its
heartbeats stop.

A flow run sends a heartbeat every PREFECT_FLOWS_HEARTBEAT_FREQUENCY seconds (Prefect's default:
180) while it runs. When its worker, pod or machine dies, the heartbeats stop and nothing else
changes the run's state: it would stay Running for ever. Prefect's answer is a proactive
automation: after a heartbeat, expect another (or a final state) within a few periods, else set
the run Crashed. `record-run-ended`'s trigger then marks a video's catalog entry failed; the
`process-video` run that waits for a segment starts the segment again.
"""

from __future__ import annotations

from datetime import timedelta

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

__all__ = ["CRASH_DETECTION", "crash_detection", "ensure_crash_detection"]

# The name finds the automation again on every `vidp deploy`: kept as it was first made.
CRASH_DETECTION = "vidp: process-video runs whose heartbeats stop"
WATCHED_FLOWS = ["process-video", "process-segment"]
MISSED_BEATS = 3
_FINAL = ("Completed", "Failed", "Cancelled", "Crashed")


def crash_detection(heartbeat_s: int) -> AutomationCore:
    """The automation, for runs that beat every `heartbeat_s` seconds."""
    silence = MISSED_BEATS * heartbeat_s
    return AutomationCore(
        name=CRASH_DETECTION,
        description=f"A process-video or process-segment run that sends no heartbeat for "
        f"{silence} s is Crashed.",
        trigger=EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={
                "prefect.resource.role": "flow",
                "prefect.resource.name": WATCHED_FLOWS,
            },
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *(f"prefect.flow-run.{s}" for s in _FINAL)},
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=silence),
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"no heartbeat for {silence} s: its worker, pod or machine stopped",
            )
        ],
    )


def ensure_crash_detection(heartbeat_s: int) -> None:
    """Create the automation, or update it to `heartbeat_s` (idempotent)."""
    wanted = crash_detection(heartbeat_s)
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(CRASH_DETECTION)
        if existing:
            client.update_automation(existing[0].id, wanted)
        else:
            client.create_automation(wanted)
