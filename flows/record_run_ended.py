"""`record-run-ended`: the catalog learns of a `process-video` run that ended unfinished.

A run whose worker or pod died, or that was cancelled, cannot record its own failure. Prefect
marks it (Crashed by the automation `vidp deploy` creates when heartbeats stop; Cancelled by the
user), and this deployment's trigger starts this flow for it.
"""

from __future__ import annotations

from prefect import flow

from vidp.tasks.catalog import catalog_run_ended

__all__ = ["record_run_ended"]


@flow(name="record-run-ended")
def record_run_ended(flow_run: str) -> list[str]:
    """Mark the catalog entries of a crashed or cancelled run failed, with the state's message.

    Args:
        flow_run: The run: its id, or its event resource id (`prefect.flow-run.<id>`).
    """
    return catalog_run_ended(flow_run.removeprefix("prefect.flow-run."))
