#!/usr/bin/env bash
# The bench of short clips and batches (issue 23) as recorded in bench/RESULTS.md: the 3 s clip
# in three rounds, 15 s and 60 s in one, 4 min with the CLI, then the batch of 20. About 45
# minutes on 2 cores; run it from a clean clone with a venv of its own (`make install-test`), so
# that nothing edited during the run leaks into it. VIDP_DETECTOR_WEIGHTS: as for bench/run.py.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
out=bench/out
mkdir -p "$out"

"$PYTHON" bench/run.py --duration 3 --pairs 3 --scenarios cli,server,first --json-out "$out/3s.json"
for seconds in 15 60; do
  "$PYTHON" bench/run.py --duration "$seconds" --pairs 1 --scenarios cli,server,first \
    --json-out "$out/${seconds}s.json"
done
"$PYTHON" bench/run.py --duration 240 --pairs 1 --scenarios cli --json-out "$out/240s.json"
"$PYTHON" bench/batch.py --json-out "$out/batch.json"
