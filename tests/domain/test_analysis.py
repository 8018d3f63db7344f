"""The models an analysis runs: the options' choice, else the machine's."""

from __future__ import annotations

from pathlib import Path

from vidp.analysis import AnalysisModels
from vidp.options import ProcessOptions
from vidp.settings import Settings

MACHINE = Settings(detector_weights="yolo11n.pt", whisper_model="base")


def test_the_machine_default_unless_the_options_name_one() -> None:
    assert AnalysisModels.resolve(ProcessOptions(), MACHINE) == AnalysisModels(
        detector_weights="yolo11n.pt", whisper_model="base"
    )
    named = ProcessOptions(detector_weights="yolo11s.pt", whisper_model="small")
    assert AnalysisModels.resolve(named, MACHINE) == AnalysisModels(
        detector_weights="yolo11s.pt", whisper_model="small"
    )


def test_a_local_file_by_its_absolute_path(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "mine.pt").touch()
    monkeypatch.chdir(tmp_path)
    models = AnalysisModels.resolve(ProcessOptions(detector_weights="mine.pt"), MACHINE)
    assert models.detector_weights == str(tmp_path / "mine.pt")
