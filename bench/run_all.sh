#!/usr/bin/env bash
# The benchmark recorded in bench/RESULTS.md: clips of 15 s, 60 s, 4 min and 10 min (made on
# first use), `vidp process` against the peer script, as whole processes. About 80 minutes on
# 2 cores. PYTHON picks the interpreter; VIDP_DETECTOR_WEIGHTS the detector (offline machines).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
out=bench/out

"$PYTHON" bench/run.py --duration 60 --pairs 3 --scenarios cli,local,server,first \
  --timeline bench/timeline-after.png --label after --json-out "$out/60s.json"
"$PYTHON" bench/run.py --duration 240 --pairs 3 --scenarios cli,server --json-out "$out/240s.json"
"$PYTHON" bench/run.py --duration 15 --pairs 3 --scenarios cli,server --json-out "$out/15s.json"
"$PYTHON" bench/run.py --duration 600 --pairs 1 --scenarios cli --json-out "$out/600s.json"
