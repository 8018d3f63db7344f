"""What the benchmark scripts share: their command line and how they report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

DEFAULT_CLIP = Path(__file__).resolve().parent / "out" / "bench_1080p.mp4"


def parse_args(doc: str | None) -> argparse.Namespace:
    """`[source] [--json-out PATH]`, with the script's docstring as its help."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_CLIP, help="the clip")
    parser.add_argument("--json-out", type=Path, help="also write the JSON summary here")
    args = parser.parse_args()
    args.source = args.source.resolve()
    return args


def report(summary: dict[str, Any], json_out: Path | None) -> None:
    """Print the summary as the last line of stdout, and save it to `json_out` if given."""
    line = json.dumps(summary)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(line + "\n", encoding="utf-8")
    print(line)
