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
]


class RejectedInput(ValueError):
    """The video cannot be processed as given; retrying will not help."""

    code = "rejected"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class SourceNotFound(RejectedInput):
    code = "not_found"


class UnsupportedSource(RejectedInput):
    code = "unsupported_source"


class EmptyFile(RejectedInput):
    code = "empty"


class NotMedia(RejectedInput):
    code = "not_media"


class CorruptMedia(RejectedInput):
    code = "corrupt"


class NoVideoStream(RejectedInput):
    code = "no_video"


class TooLong(RejectedInput):
    code = "too_long"
