"""A small HTTP proxy in front of the test S3 server that injects the faults a real S3 connection
meets: 503 SlowDown, connections reset, and stalls in the middle of a body.

It is the one fake in the S3 tests, and it fakes only the network: every request it lets through
reaches the real S3 server unchanged. Faults are given as rules; each matches requests by method
and a predicate on the path and query, and fires on the next `times` matching requests.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import urlsplit

Kind = Literal["slowdown", "reset", "stall_response", "stall_request"]

SLOWDOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclass
class Fault:
    """`kind` on the next `times` requests with `method` whose path+query `where` accepts.

    - slowdown: 503 SlowDown, the request is not forwarded;
    - reset: the connection is reset (TCP RST) once the request is read, before it is forwarded;
    - stall_response: forwarded, then half the answer's body is sent and the connection stalls
      for `stall_s` before it is closed;
    - stall_request: half the request's body is read, then nothing more for `stall_s`.
    """

    kind: Kind
    method: str
    where: Callable[[str], bool] = lambda _: True
    times: int = 1
    stall_s: float = 10.0
    fired: int = 0


class _Dropped(Exception):
    """The connection was cut on purpose."""


@dataclass
class FaultyS3:
    target: str  # the real S3 server's endpoint
    faults: list[Fault] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # "METHOD path?query", as they came
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, method: str, path: str) -> Fault | None:
        """The fault to inject into this request, counted as fired; None to pass it through."""
        with self.lock:
            self.requests.append(f"{method} {path}")
            for fault in self.faults:
                if fault.method == method and fault.fired < fault.times and fault.where(path):
                    fault.fired += 1
                    return fault
        return None

    def unfired(self) -> list[Fault]:
        with self.lock:
            return [f for f in self.faults if f.fired < f.times]


def _handler(proxy: FaultyS3) -> type[BaseHTTPRequestHandler]:
    upstream = urlsplit(proxy.target)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects

        def log_message(self, format: str, *args: object) -> None:
            pass

        def handle(self) -> None:
            try:
                super().handle()
            except (_Dropped, ConnectionError, TimeoutError):
                pass

        def _relay(self) -> None:
            fault = proxy.take(self.command, self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if fault is not None and fault.kind == "stall_request":
                self.rfile.read(length // 2)
                time.sleep(fault.stall_s)
                self._reset()
            body = self.rfile.read(length) if length else b""
            if fault is not None and fault.kind == "reset":
                self._reset()
            if fault is not None and fault.kind == "slowdown":
                self._answer(503, [("Content-Type", "application/xml")], SLOWDOWN)
                return
            connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
            headers = {
                k: v for k, v in self.headers.items() if k.lower() not in ("connection", "expect")
            }
            connection.request(self.command, self.path, body=body, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
            connection.close()
            kept = [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP_BY_HOP]
            if self.command == "HEAD":  # the object's length, though no body comes
                kept.append(("Content-Length", answer.headers["Content-Length"]))
            if fault is not None and fault.kind == "stall_response" and len(data) > 1:
                self._answer(answer.status, kept, data, cut_after=len(data) // 2)
                time.sleep(fault.stall_s)
                self._reset()
            self._answer(answer.status, kept, data)

        def _answer(
            self,
            code: int,
            headers: list[tuple[str, str]],
            body: bytes,
            cut_after: int | None = None,
        ) -> None:
            self.send_response_only(code)
            for name, value in headers:
                self.send_header(name, value)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body if cut_after is None else body[:cut_after])
            self.wfile.flush()

        def _reset(self) -> None:
            # SO_LINGER 0: close() sends RST; the file objects hold the socket open until closed.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.wfile.close()
            self.connection.close()
            raise _Dropped

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

    return Handler


@contextmanager
def faulty_s3(target: str) -> Iterator[tuple[str, FaultyS3]]:
    """A proxy to the S3 server at `target` on a free loopback port while the block runs; yields
    its endpoint and the proxy, whose `faults` the test sets."""
    proxy = FaultyS3(target)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", proxy
    finally:
        server.shutdown()
        server.server_close()
