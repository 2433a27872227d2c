"""WebSocket proxying (SPEC §4), end to end through the real binary to a small RFC 6455 echo
server written here (handshake and framing by hand, no WebSocket library):

- the handshake through Atrium returns 101 with the backend's correct Sec-WebSocket-Accept, and
  the backend sees the gateway's upstream headers plus the client's Sec-WebSocket-* unchanged;
- text and binary frames echo both ways, a 200 KiB message and many small ones, including bytes
  sent right behind either side's handshake;
- an open WebSocket survives configuration reloads, also of its own route;
- the route's idle timeout (timeouts.idle) closes a silent WebSocket, traffic keeps it open;
- a backend that refuses the upgrade (403, 200) is relayed as a normal response;
- no route → 404, a body on the handshake → 400;
- metrics count the connection (active, then gone) and the access log records 101 with bytes;
- the same over the HTTPS listener.
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import socket
import ssl
import struct
import threading
import time

import pytest

from conftest import (LOOPBACK, RawClient, RecordingBackend, apiroute, service_docs, tls_client_context,
                      wait_until)
from test_admin import metric_value

HOST = "ws.example.com"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def accept_for(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def encode_frame(opcode: int, payload: bytes, mask: bool) -> bytes:
    head = bytes([0x80 | opcode])
    bit = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class FrameReader:
    """Reads whole frames (unfragmented, as both sides here send them) from a socket."""

    def __init__(self, sock, initial: bytes = b""):
        self.sock = sock
        self.buf = bytearray(initial)

    def _need(self, n: int):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk

    def _take(self, n: int) -> bytes:
        self._need(n)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def frame(self) -> tuple[int, bytes]:
        b0, b1 = self._take(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._take(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._take(8))[0]
        key = self._take(4) if b1 & 0x80 else None
        payload = self._take(n)
        if key:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        return b0 & 0x0F, payload


def read_head(sock) -> tuple[bytes, bytes]:
    """The HTTP head (up to the blank line) and whatever came after it."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(f"closed before the end of the head: {buf!r}")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def parse_head(head: bytes) -> tuple[str, dict[str, list[str]]]:
    """The start line and the fields (lower-case names, every line of each)."""
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return lines[0], headers


class WebSocketBackend(RecordingBackend):
    """An RFC 6455 echo server on 127.0.0.1 that records each connection's request head. mode
    "echo" accepts the upgrade, sends a "hello" text frame in the same write as its 101, and
    echoes every data frame; "403" and "200" refuse the upgrade with that status and a body."""

    def __init__(self, mode: str = "echo"):
        self.mode = mode
        super().__init__()

    def _handle(self, conn, index: int):
        conn.settimeout(30)
        try:
            head, rest = read_head(conn)
            with self.lock:
                self.data[index] = head
            if self.mode != "echo":
                body = b"upgrade refused"
                reason = b"Forbidden" if self.mode == "403" else b"OK"
                conn.sendall(b"HTTP/1.1 %s %s\r\nContent-Type: text/plain\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (self.mode.encode(), reason,
                                                                 len(body), body))
                return
            _, headers = parse_head(head)
            key = headers["sec-websocket-key"][0].encode()
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept_for(key) +
                         b"\r\n\r\n" + encode_frame(TEXT, b"hello", mask=False))
            reader = FrameReader(conn, rest)
            while True:
                opcode, payload = reader.frame()
                if opcode == CLOSE:
                    conn.sendall(encode_frame(CLOSE, payload, mask=False))
                    return
                if opcode == PING:
                    conn.sendall(encode_frame(PONG, payload, mask=False))
                    continue
                conn.sendall(encode_frame(opcode, payload, mask=False))
        except (OSError, EOFError):
            pass
        finally:
            conn.close()


class Client:
    """A WebSocket client connection made by hand, over plain TCP or TLS."""

    def __init__(self, port: int, path: str = "/chat", host: str = HOST, tls: bool = False,
                 first_frame: bytes | None = None):
        sock = socket.create_connection((LOOPBACK, port), timeout=10)
        if tls:
            sock = tls_client_context().wrap_socket(sock, server_hostname=host)
        self.sock = sock
        self.key = base64.b64encode(os.urandom(16))
        request = (b"GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                   b"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                   b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
                   % (path.encode(), host.encode(), self.key))
        # Frames sent right behind the handshake, in the same write, must not be lost.
        sock.sendall(request + (first_frame or b""))
        head, rest = read_head(sock)
        status_line, self.headers = parse_head(head)
        self.status = int(status_line.split(" ")[1])
        self.reader = FrameReader(sock, rest)

    def send(self, opcode: int, payload: bytes):
        self.sock.sendall(encode_frame(opcode, payload, mask=True))

    def recv(self) -> tuple[int, bytes]:
        return self.reader.frame()

    def echo(self, opcode: int, payload: bytes) -> None:
        self.send(opcode, payload)
        assert self.recv() == (opcode, payload)

    def close_handshake(self):
        self.send(CLOSE, struct.pack("!H", 1000))
        assert self.recv() == (CLOSE, struct.pack("!H", 1000))
        # The backend closes after its Close frame; the gateway passes the end on.
        self.sock.settimeout(5)
        assert self.sock.recv(1) == b""
        self.sock.close()

    def closed_within(self, timeout: float) -> bool:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False


@pytest.fixture
def ws_backend():
    started: list[WebSocketBackend] = []

    def start(mode: str = "echo") -> WebSocketBackend:
        b = WebSocketBackend(mode)
        started.append(b)
        return b

    yield start
    for b in started:
        b.stop()


def route(backend: WebSocketBackend, name: str = "ws", **policy) -> list[dict]:
    spec = {"hostnames": [HOST], "rules": [{
        "name": "all", "matches": [{"path": {"type": "PathPrefix", "value": "/chat"}}],
        "backends": [{"service": {"name": name, "port": 80}}]}]}
    if policy:
        spec["policy"] = policy
    return [*service_docs(name, [backend.port]), apiroute(name, spec)]


def websocket_metrics(gw) -> tuple[float | None, float | None]:
    text = gw.metrics()
    return (metric_value(text, "atrium_websocket_connections_active"),
            metric_value(text, "atrium_websocket_connections_total"))


def test_handshake_echo_metrics_and_access_log(gateway, ws_backend):
    backend = ws_backend()
    gw = gateway({"ws.yaml": route(backend)})
    c = Client(gw.port, first_frame=encode_frame(TEXT, b"early", mask=True))
    assert c.status == 101, c.headers
    assert c.headers["sec-websocket-accept"] == [accept_for(c.key).decode()]
    assert [v.lower() for v in c.headers["upgrade"]] == ["websocket"]
    assert [v.lower() for v in c.headers["connection"]] == ["upgrade"]
    assert c.headers["server"] == ["atrium"]
    assert len(c.headers["x-request-id"]) == 1
    assert "content-length" not in c.headers and "transfer-encoding" not in c.headers
    # The backend's frame sent in the same write as its 101, then the echo of the client's
    # frame sent in the same write as its handshake.
    assert c.recv() == (TEXT, b"hello")
    assert c.recv() == (TEXT, b"early")

    # What the backend saw: the gateway's own upgrade headers, the client's Sec-WebSocket-*.
    request_line, upstream = parse_head(backend.requests()[0])
    assert request_line == "GET /chat HTTP/1.1"
    assert upstream["upgrade"] == ["websocket"] and upstream["connection"] == ["Upgrade"]
    assert upstream["sec-websocket-key"] == [c.key.decode()]
    assert upstream["sec-websocket-version"] == ["13"]
    assert upstream["sec-websocket-protocol"] == ["chat"]
    assert upstream["x-forwarded-for"] == [LOOPBACK]
    assert upstream["x-request-id"] == c.headers["x-request-id"]

    c.echo(TEXT, "grüße".encode())
    c.echo(BINARY, bytes(range(256)))
    big = os.urandom(200 * 1024)
    c.echo(BINARY, big)
    # Many small messages, all sent before any echo is read.
    small = [b"m%d" % i for i in range(500)]
    c.sock.sendall(b"".join(encode_frame(TEXT, m, mask=True) for m in small))
    assert [c.recv() for _ in small] == [(TEXT, m) for m in small]
    c.send(PING, b"p")
    assert c.recv() == (PONG, b"p")

    assert websocket_metrics(gw) == (1, 1)
    c.close_handshake()
    wait_until(lambda: websocket_metrics(gw) == (0, 1), 5, message="websocket gone")

    def logged():
        return [e for e in gw.access_log() if e.get("status") == 101]
    records = wait_until(logged, 5, message="access log record of the WebSocket")
    assert records[0]["bytes"] >= len(big) + sum(len(m) for m in small)


def test_an_open_websocket_survives_reloads_of_its_own_route(gateway, ws_backend):
    backend = ws_backend()
    gw = gateway({"ws.yaml": route(backend)})
    c = Client(gw.port)
    assert c.status == 101
    assert c.recv() == (TEXT, b"hello")
    c.echo(TEXT, b"before")
    for i in range(3):
        # The WebSocket's own route changes (a response header), and another route comes in.
        changed = route(backend, **{"timeouts": {"request": f"{10 + i}s"}})
        gw.apply("ws.yaml", changed)
        gw.apply("other.yaml", [*service_docs(f"other{i}", [backend.port]),
                                apiroute(f"other{i}", {"hostnames": [f"o{i}.example.com"], "rules": [
                                    {"backends": [{"service": {"name": f"other{i}", "port": 80}}]}]})])
        c.echo(TEXT, b"after reload %d" % i)
        c.echo(BINARY, os.urandom(64 * 1024))
    # New WebSockets use the new configuration meanwhile.
    d = Client(gw.port)
    assert d.status == 101
    assert d.recv() == (TEXT, b"hello")
    d.close_handshake()
    c.close_handshake()


def test_idle_timeout_closes_a_silent_websocket(gateway, ws_backend):
    backend = ws_backend()
    gw = gateway({"ws.yaml": route(backend, timeouts={"idle": "1s"})})
    c = Client(gw.port)
    assert c.status == 101
    assert c.recv() == (TEXT, b"hello")
    # Traffic every 0.4 s keeps it open well past the idle timeout.
    for i in range(6):
        time.sleep(0.4)
        c.echo(TEXT, b"tick %d" % i)
    start = time.monotonic()
    assert c.closed_within(5), "the idle WebSocket was not closed"
    elapsed = time.monotonic() - start
    assert 0.8 <= elapsed < 2.5, elapsed
    wait_until(lambda: websocket_metrics(gw)[0] == 0, 5, message="no active WebSocket")


@pytest.mark.parametrize("mode", ["403", "200"])
def test_a_refused_upgrade_is_relayed_as_a_normal_response(gateway, ws_backend, mode):
    backend = ws_backend(mode)
    gw = gateway({"ws.yaml": route(backend)})
    c = Client(gw.port)
    assert c.status == int(mode)
    assert "upgrade" not in c.headers
    assert c.headers["content-length"] == ["15"]
    assert c.reader._take(15) == b"upgrade refused"
    assert websocket_metrics(gw) == (0, None)


def test_unknown_route_404_and_a_body_400(gateway, ws_backend):
    backend = ws_backend()
    gw = gateway({"ws.yaml": route(backend)})
    c = Client(gw.port, path="/elsewhere")
    assert c.status == 404
    with RawClient(gw.port) as raw:
        raw.send(b"GET /chat HTTP/1.1\r\nHost: " + HOST.encode() + b"\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\nContent-Length: 4\r\n\r\nabcd")
        r = raw.read_response()
        assert r.status == 400 and r.json()["error"]["code"] == "bad_request", r
    assert backend.requests() == []


def test_websocket_over_the_https_listener(gateway, ws_backend):
    backend = ws_backend()
    gw = gateway({"ws.yaml": route(backend)})
    c = Client(gw.https_port, tls=True, first_frame=encode_frame(BINARY, b"\x00early", mask=True))
    assert c.status == 101
    assert c.headers["sec-websocket-accept"] == [accept_for(c.key).decode()]
    assert c.recv() == (TEXT, b"hello")
    assert c.recv() == (BINARY, b"\x00early")
    c.echo(BINARY, os.urandom(200 * 1024))
    for i in range(50):
        c.echo(TEXT, b"tls %d" % i)
    c.close_handshake()


def test_a_drain_keeps_an_open_websocket_until_the_drain_timeout(gateway, ws_backend):
    backend = ws_backend()
    gw = gateway({"ws.yaml": route(backend)}, drain_timeout="2s")
    c = Client(gw.port)
    assert c.status == 101
    assert c.recv() == (TEXT, b"hello")
    gw.signal(signal.SIGTERM)
    # Not idle: the drain does not close it, and it keeps relaying meanwhile.
    time.sleep(0.5)
    c.echo(TEXT, b"while draining")
    start = time.monotonic()
    assert gw.wait(10) == 0
    assert time.monotonic() - start < 5
    assert c.closed_within(5)
