"""Signed webhooks: HMAC-SHA256 over the timestamp and the raw body, checked in constant time.

A sender computes `sha256=` + hex(HMAC(secret, f"{timestamp}.".encode() + body)) and sends it as
`X-Vidp-Signature`, with the Unix time it signed at as `X-Vidp-Timestamp`. The timestamp is part
of what is signed, so a captured request cannot be replayed later with a fresh one.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "BadSignature", "sign", "verify"]

SIGNATURE_HEADER = "X-Vidp-Signature"
TIMESTAMP_HEADER = "X-Vidp-Timestamp"


class BadSignature(ValueError):
    """The request is not from someone who holds the secret, or not from now."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Vidp-Signature` value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def verify(
    secret: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now: float,
    window_s: int,
) -> None:
    """Raise BadSignature unless `signature` signs `body` at `timestamp`, within `window_s` of now."""
    if not signature or not timestamp:
        raise BadSignature(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise BadSignature(f"{TIMESTAMP_HEADER} is not a Unix time in seconds") from None
    if abs(now - sent_at) > window_s:
        raise BadSignature(f"{TIMESTAMP_HEADER} is outside the {window_s} s replay window")
    if not hmac.compare_digest(sign(secret, sent_at, body), signature.strip()):
        raise BadSignature("signature does not match the body")
