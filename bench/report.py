"""The tables of bench/RESULTS.md from the JSON files bench/run.py wrote.

python bench/report.py bench/out/15s.json bench/out/60s.json bench/out/240s.json bench/out/600s.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

NAMES = {
    "peer": "peer script",
    "cli": "`vidp process`, no server (ephemeral API)",
    "rerun-cli": "re-run, no server",
    "local": "`vidp process`, `prefect server start --background` running",
    "rerun-local": "re-run, local server",
    "server": "`vidp process`, `PREFECT_API_URL` set",
    "rerun-server": "re-run, `PREFECT_API_URL` set",
    "first": "first run: new `PREFECT_HOME`, no server",
}


def table(results: dict[str, Any]) -> str:
    """One clip: every scenario's medians and its ratios to the peer."""
    medians, ratios = results["medians"], results["ratios_to_peer"]
    pairs = len(results["runs"]["peer"])
    rows = [
        f"{results['clip']['duration_s']:g} s clip, {pairs} rounds, medians:",
        "",
        "| run | wall s | × peer | CPU s | × peer | peak RSS, tree MB | × peer | "
        "largest process MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, label in NAMES.items():
        if name not in medians:
            continue
        m, r = medians[name], ratios.get(name)

        def ratio(key: str, r: dict[str, float] | None = r) -> str:
            return f"{r[key]:.2f}" if r else "1"

        rows.append(
            f"| {label} | {m['wall_s']:.1f} | {ratio('wall_s')} | {m['cpu_s']:.1f} | "
            f"{ratio('cpu_s')} | {m['peak_rss_mb']:.0f} | {ratio('peak_rss_mb')} | "
            f"{m['max_process_rss_mb']:.0f} |"
        )
    return "\n".join(rows)


def scaling(all_results: list[dict[str, Any]]) -> str:
    """Cost against duration: the peer, `vidp process` with no server, and with one (where run)."""
    rows = [
        "| clip | peer wall s | CPU s | RSS MB | vidp wall s | × peer | CPU s | × peer | "
        "RSS MB (tree / largest process) | × peer (tree) | with a server: wall s | × peer |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for results in sorted(all_results, key=lambda r: r["clip"]["duration_s"]):
        m, r = results["medians"], results["ratios_to_peer"]
        peer, cli, ratio = m["peer"], m["cli"], r["cli"]
        server = (
            f"{m['server']['wall_s']:.1f} | {r['server']['wall_s']:.2f}"
            if "server" in m
            else "— | —"
        )
        rows.append(
            f"| {results['clip']['duration_s']:g} s | {peer['wall_s']:.1f} | {peer['cpu_s']:.1f} | "
            f"{peer['peak_rss_mb']:.0f} | {cli['wall_s']:.1f} | {ratio['wall_s']:.2f} | "
            f"{cli['cpu_s']:.1f} | {ratio['cpu_s']:.2f} | "
            f"{cli['peak_rss_mb']:.0f} / {cli['max_process_rss_mb']:.0f} | "
            f"{ratio['peak_rss_mb']:.2f} | {server} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", nargs="+", type=Path)
    args = parser.parse_args()
    loaded = [json.loads(p.read_text()) for p in args.results]
    for results in loaded:
        print(table(results), end="\n\n")
    print(scaling([r for r in loaded if "cli" in r["medians"]]))


if __name__ == "__main__":
    main()
