"""Time the real `process-video` flow on the benchmark clip: a cold run, then a cached re-run.

Both runs call the flow in this process with a fresh work directory and Prefect home (temporary
directories), so the first run computes everything and the second reuses its cache. Before them,
the flow runs once on a tiny 1 s clip so that the ephemeral Prefect server's start-up (and the
libraries' imports) are not timed; the models that warm-up loaded are dropped again, so the cold
run loads its models like a first run would. Only the flow call is timed.

Detector weights come from VIDP_DETECTOR_WEIGHTS, as for the pipeline itself.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from common import parse_args, report


def timed_run(source: Path, output: Path) -> tuple[float, dict[str, Any]]:
    """Wall seconds of one flow call, and the manifest it returned."""
    from flows.process_video import process_video
    from vidp.options import ProcessOptions

    start = time.perf_counter()
    manifest = process_video(source=str(source), output=str(output), options=ProcessOptions())
    return time.perf_counter() - start, manifest


def warm_up(tmp: Path) -> float:
    """Run the flow on a 1 s clip (starts Prefect's server), then forget the loaded models."""
    from vidp.detect import load_detector
    from vidp.sample import make_clip
    from vidp.whisper_model import load_whisper

    clip = make_clip(tmp / "warmup.mp4", duration_s=1, size=(320, 180))
    seconds, _ = timed_run(clip, tmp / "warmup-output")
    load_detector.cache_clear()
    load_whisper.cache_clear()
    return seconds


def main() -> None:
    args = parse_args(__doc__)
    source = args.source

    with tempfile.TemporaryDirectory(prefix="vidp-bench-pipeline-") as name:
        tmp = Path(name)
        # Read once by Prefect and vidp at import, so set before either is imported.
        os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
        os.environ["PREFECT_HOME"] = str(tmp / "prefect")
        os.environ["VIDP_WORK_DIR"] = str(tmp / "work")

        warmup_s = warm_up(tmp)
        print(f"warm-up on a 1 s clip (Prefect server start-up, not counted): {warmup_s:.2f} s")
        cold_s, cold = timed_run(source, tmp / "output")
        print(f"cold run: {cold_s:.2f} s")
        cached_s, cached = timed_run(source, tmp / "output")
        print(f"cached re-run: {cached_s:.2f} s")

    print("cold run stages (manifest timings_s; stages overlap):")
    for stage, seconds in cold["timings_s"].items():
        print(f"  {stage:<14} {seconds:8.2f} s")
    summary = {
        "benchmark": "pipeline",
        "source": str(source),
        "media": cold["media"],
        "warmup_s": round(warmup_s, 3),
        "warmup_excluded": True,
        "cold_s": round(cold_s, 3),
        "cached_s": round(cached_s, 3),
        "cold_timings_s": cold["timings_s"],
        "cached_timings_s": cached["timings_s"],
        "language": cold["language"]["code"],
        "words": cold["transcript"]["words"],
        "animals": [a["label"] for a in cold["animals"]],
        "detector_weights": cold["parameters"]["detector_weights"],
    }
    report(summary, args.json_out)


if __name__ == "__main__":
    main()
