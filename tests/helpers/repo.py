"""The repository the tests check: its files are read, and its commands run, from here."""

from __future__ import annotations

from pathlib import Path

__all__ = ["REPO"]

REPO = Path(__file__).resolve().parents[2]
