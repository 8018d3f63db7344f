"""The quality gate passes good outputs and names the expectation that bad ones break."""

from __future__ import annotations

import subprocess
import sys

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
from vidp.detect import Detection
from vidp.quality import QualityGateFailed, check_outputs, cues_frame, detections_frame, start_checker
from vidp.subtitles import Cue

start_checker()
cat = Detection(label="cat", confidence=0.9, time_s=1, frame="000001.jpg", box=(0, 0, 1, 1))
print(check_outputs(detections_frame([cat]), cues_frame([Cue(start=0, end=1, lines=["x"])]), 10))
try:
    check_outputs(detections_frame([cat.model_copy(update={"time_s": 12})]), cues_frame([]), 10)
except QualityGateFailed as failed:
    print(failed)
import sys
print("great_expectations" in sys.modules)
"""


def test_in_a_process_of_its_own_the_verdicts_are_the_same() -> None:
    """`start_checker` (the run calls it as it starts) moves the checks to another process, so
    that great-expectations loads on another core: same passes, same failures."""
    done = subprocess.run(
        [sys.executable, "-c", _IN_ITS_PROCESS],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == [
        "8",
        "quality gate failed: detections: expect_column_values_to_be_between(time_s)",
        "False",  # great-expectations was never loaded in the calling process
    ]
