#!/usr/bin/env bash
# Make the 60 s 1080p clip, then time the pipeline and the naive script on it.
# Results: bench/out/pipeline.json and bench/out/naive.json. PYTHON picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"

"$PYTHON" bench/make_clip.py
"$PYTHON" bench/run_pipeline.py --json-out bench/out/pipeline.json
"$PYTHON" bench/run_naive.py --json-out bench/out/naive.json
