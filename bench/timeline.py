"""Draw one run of `process-video` as a timeline: a bar per task run, from Prefect's own
timestamps, on the flow run's clock (0 = the flow run started).

python bench/timeline.py FLOW_RUN_ID bench/timeline.png --title "cold run"
(PREFECT_API_URL names the server that ran it; FLOW_RUN_ID may be `latest`.)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["task_spans", "draw_timeline", "as_rows"]


def task_spans(flow_run_id: str) -> tuple[float, list[tuple[str, float, float, str]]]:
    """The flow run's length and (task name, start, end, state) of each task run that ran,
    in seconds since the flow run started; `latest` is the newest process-video run."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterId,
    )
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        if flow_run_id == "latest":
            (run,) = client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["process-video"])),
                sort=FlowRunSort.START_TIME_DESC,
                limit=1,
            )
        else:
            run = client.read_flow_run(flow_run_id)
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])), limit=200
        )
    t0 = run.start_time
    spans = [
        (
            t.name.rsplit("-", 1)[0],  # Prefect names task runs "<task>-<suffix>"
            (t.start_time - t0).total_seconds(),
            (t.end_time - t0).total_seconds(),
            t.state_name or "",
        )
        for t in tasks
        if t.start_time and t.end_time
    ]
    return (run.end_time - t0).total_seconds(), sorted(spans, key=lambda s: (s[1], s[0]))


def draw_timeline(
    total_s: float, spans: list[tuple[str, float, float, str]], out: Path, title: str
) -> Path:
    """A PNG with one bar per task run (cached ones hatched), in order of start."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 0.32 * len(spans) + 1.4))
    for row, (_, start, end, state) in enumerate(spans):
        ax.barh(
            row,
            max(end - start, total_s / 400),
            left=start,
            color="#c9d6e3" if state == "Cached" else "#3b75af",
            hatch="//" if state == "Cached" else None,
        )
        ax.text(end + total_s / 200, row, f"{end - start:.1f} s", va="center", fontsize=7)
    ax.set_yticks(range(len(spans)), [s[0] for s in spans], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, total_s * 1.08)
    ax.set_xlabel(f"seconds since the flow run started (it took {total_s:.1f} s)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def as_rows(spans: list[tuple[str, float, float, str]]) -> list[dict[str, Any]]:
    """The spans as JSON rows, for the results file."""
    return [
        {"task": n, "start_s": round(s, 2), "end_s": round(e, 2), "state": st}
        for n, s, e, st in spans
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("flow_run_id")
    parser.add_argument("out", type=Path)
    parser.add_argument("--title", default="process-video")
    parser.add_argument("--rows", type=Path, help="also write the task spans here, as JSON")
    args = parser.parse_args()
    total_s, spans = task_spans(args.flow_run_id)
    print(draw_timeline(total_s, spans, args.out, args.title))
    if args.rows:
        args.rows.write_text(json.dumps(as_rows(spans)))


if __name__ == "__main__":
    main()
