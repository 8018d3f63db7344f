"""Errors that reject an input: deterministic, never retried, shown to the user in one line."""

from __future__ import annotations

__all__ = [
    "RejectedInput",
    "SourceNotFound",
    "EmptyFile",
    "NotMedia",
    "CorruptMedia",
    "NoVideoStream",
    "TooLong",
    "UnsupportedSource",
    "UnsupportedOutput",
]


class RejectedInput(ValueError):
    """The video cannot be processed as given; retrying will not help.

    Its message is one line a user can act on.
    """


class SourceNotFound(RejectedInput):
    """The path or URI names nothing."""


class UnsupportedSource(RejectedInput):
    """The URI scheme is not one vidp reads."""


class UnsupportedOutput(RejectedInput):
    """The output location is not one vidp writes to."""


class EmptyFile(RejectedInput):
    """The source has zero bytes."""


class NotMedia(RejectedInput):
    """ffmpeg cannot read the file as media at all."""


class CorruptMedia(RejectedInput):
    """The file looks like a video container but is truncated or damaged."""


class NoVideoStream(RejectedInput):
    """Audio only (cover art does not count as video)."""


class TooLong(RejectedInput):
    """Longer than VIDP_MAX_DURATION_S."""
