"""How `vidp gateway` is served: uvicorn, with a limit on how long a request's headers may take.

uvicorn bounds how long a connection may sit idle between requests, but not how long a request's
headers may take to arrive: a client that sends them a byte at a time (slowloris) would hold its
connection for ever, and enough of them every connection. Nor does it bound a request head that
arrives whole (h11 only limits one still incomplete). This protocol closes a connection whose
request head is not complete `header_timeout_s` after it began, and answers a head larger than
16 KiB with 431.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from vidp.gateway.settings import get_gateway_settings

__all__ = ["serve"]

_HEAD_BYTES = 16 * 1024
_WHY = b"request headers larger than 16 KiB"
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_WHY), _WHY)
)


class _H11WithHeaderTimeout(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_timeout_s = get_gateway_settings().header_timeout_s
        self._head = b""  # the request head so far, while it is not complete

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a client that connects and sends nothing is cut off too

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if (end if end >= 0 else len(self._head)) > _HEAD_BYTES:
                self.transport.write(_TOO_LARGE)
                self.transport.close()
                return
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:  # a request has begun, its head is not all here
            self._arm()
        else:
            self._head = b""
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self._header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def serve(host: str, port: int) -> None:
    """Serve the gateway's app until interrupted."""
    uvicorn.run(
        "vidp.gateway.app:create_app",
        factory=True,
        host=host,
        port=port,
        proxy_headers=True,
        http=_H11WithHeaderTimeout,
    )
