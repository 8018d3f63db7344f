"""The quality gate passes good outputs and names the expectation that bad ones break."""

from __future__ import annotations

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
