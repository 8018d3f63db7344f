"""The quality gate passes good outputs and names the expectation that bad ones break."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vidp.detect import Detection
from vidp.quality import QualityGateFailed, check_outputs, cues_frame, detections_frame
from vidp.subtitles import Cue


def det(t: float, conf: float) -> Detection:
    return Detection(label="cat", confidence=conf, time_s=t, frame="000001.jpg", box=(0, 0, 1, 1))


def cue(a: float, b: float) -> Cue:
    return Cue(start=a, end=b, lines=["x"])


def test_good_outputs_pass() -> None:
    assert (
        check_outputs(detections_frame([det(1, 0.9)]), cues_frame([cue(0, 1), cue(1, 2)]), 10) == 8
    )


def test_no_detections_and_no_cues_pass() -> None:
    assert check_outputs(detections_frame([]), cues_frame([]), 10) == 0


@pytest.mark.parametrize(
    ("detections", "cues", "named"),
    [
        ([det(1, 1.5)], [], "expect_column_values_to_be_between(confidence)"),
        ([det(12, 0.9)], [], "expect_column_values_to_be_between(time_s)"),
        (
            [],
            [cue(0, 2), cue(1, 3)],
            "expect_column_pair_values_a_to_be_greater_than_b(start,prev_end)",
        ),
        ([], [cue(2, 3), cue(0, 1)], "expect_column_values_to_be_increasing(start)"),
        ([], [cue(9, 11)], "expect_column_values_to_be_between(end)"),
    ],
)
def test_broken_outputs_fail_naming_the_expectation(detections, cues, named) -> None:
    with pytest.raises(QualityGateFailed, match=named.replace("(", r"\(").replace(")", r"\)")):
        check_outputs(detections_frame(detections), cues_frame(cues), 10)


_IN_ITS_PROCESS = """
import sys

if __name__ != "__main__":  # imported again: by a spawned process, as `__mp_main__`
    print("the caller's main module ran again", file=sys.stderr, flush=True)
else:
    from vidp.detect import Detection
    from vidp.quality import QualityGateFailed, check_outputs, cues_frame, detections_frame
    from vidp.quality import start_checker
    from vidp.subtitles import Cue

    start_checker()
    cat = Detection(label="cat", confidence=0.9, time_s=1, frame="000001.jpg", box=(0, 0, 1, 1))
    cues = cues_frame([Cue(start=0, end=1, lines=["x"])])
    print(check_outputs(detections_frame([cat]), cues, 10))
    try:
        check_outputs(detections_frame([cat.model_copy(update={"time_s": 12})]), cues_frame([]), 10)
    except QualityGateFailed as failed:
        print(failed)
    print("great_expectations" in sys.modules)
"""


def test_in_a_process_of_its_own_the_verdicts_are_the_same(tmp_path: Path) -> None:
    """`start_checker` (the run calls it as it starts) moves the checks to another process, so
    that great-expectations loads on another core: same passes, same failures. The caller runs
    as a module, as Prefect's engine does (`python -m prefect.engine`): the checker's process
    does not run it again."""
    (tmp_path / "gate_probe.py").write_text(_IN_ITS_PROCESS)
    done = subprocess.run(
        [sys.executable, "-m", "gate_probe"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ran again" not in done.stderr, done.stderr[-3000:]
    assert done.stdout.splitlines() == [
        "8",
        "quality gate failed: detections: expect_column_values_to_be_between(time_s)",
        "False",  # great-expectations was never loaded in the calling process
    ]
