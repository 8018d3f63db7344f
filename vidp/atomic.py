"""Write outputs so that a reader, a crash or a second run of the same video never sees half a file."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_file", "atomic_dir"]


@contextmanager
def atomic_file(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside `final` (same suffix, for ffmpeg's muxer); move it into place
    on success, delete it on failure."""
    draft = final.with_name(f".{final.stem}.{uuid.uuid4().hex[:8]}{final.suffix}")
    try:
        yield draft
        os.replace(draft, final)
    finally:
        draft.unlink(missing_ok=True)


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a fresh temporary directory beside `final`; rename it into place on success.

    When `final` already exists it was completed the same way from the same inputs (names carry
    the parameters), so it is kept and the new copy dropped: a concurrent reader is never disturbed.
    """
    draft = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}")
    draft.mkdir(parents=True)
    try:
        yield draft
        try:
            draft.rename(final)
        except OSError:
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(draft, ignore_errors=True)
