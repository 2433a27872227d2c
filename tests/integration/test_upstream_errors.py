"""Misbehaving upstreams: the client gets a proper gateway error, or a visibly truncated
response, never a well-formed wrong answer (SPEC §4)."""

import http.client
import socket
import threading
import time

import pytest

from conftest import LOOPBACK, ingress, ingress_path, service_docs


class ScriptedUpstream:
    """Answers each request according to its path; see `respond`."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((LOOPBACK, 0))
        self.listener.listen(32)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        conn.settimeout(5)
        try:
            buf = b""
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, _, buf = buf.partition(b"\r\n\r\n")
                path = head.split(b" ")[1].decode()
                if not self.respond(conn, path):
                    return
        except OSError:
            pass
        finally:
            conn.close()

    @staticmethod
    def respond(conn, path) -> bool:
        """Returns whether the connection stays open."""
        if path.startswith("/garbage"):
            conn.sendall(b"THIS IS NOT HTTP\r\n\r\n")
            return False
        if path.startswith("/close-early"):
            return False
        if path.startswith("/truncated-chunked"):
            size = 1000 if "small" in path else 300000
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % size
                         + b"c" * size + b"\r\n")
            time.sleep(0.1)
            return False
        if path.startswith("/truncated"):
            size = 1000 if "small" in path else 300000
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"t" * size)
            time.sleep(0.1)
            return False
        if path.startswith("/no-length"):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"n" * 5000)
            return False  # the body ends with the connection
        if path.startswith("/smuggle"):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"0\r\n\r\n")
            return False
        body = b"fine"
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n" + body)
        return True

    def stop(self):
        self.stopping = True
        self.thread.join(2)
        self.listener.close()


@pytest.fixture
def gw(gateway):
    up = ScriptedUpstream()
    g = gateway({
        "svc.yaml": service_docs("scripted", [up.port]),
        "ing.yaml": ingress("scripted", [{"host": "up.example.com",
                                          "paths": [ingress_path("/", "scripted")]}]),
    })
    yield g
    up.stop()


@pytest.mark.parametrize("path", ["/garbage", "/close-early", "/smuggle"])
def test_invalid_upstream_response_is_502(gw, path):
    r = gw.get(path, host="up.example.com")
    assert r.status == 502, r
    err = r.json()["error"]
    assert err["code"] == "bad_gateway"
    assert err["requestId"] == r.header("X-Request-Id")
    # ... and the gateway is fine afterwards.
    assert gw.get("/ok", host="up.example.com").body == b"fine"


@pytest.mark.parametrize("path", ["/truncated", "/truncated-chunked", "/truncated/small",
                                  "/truncated-chunked/small"])
def test_truncated_upstream_body_is_visible_to_the_client(gw, path):
    """Either a gateway error (when nothing was sent yet) or a response the client can tell is
    cut short; never a complete-looking message."""
    conn = gw.connection()
    try:
        conn.putrequest("GET", path, skip_host=True)
        conn.putheader("Host", "up.example.com")
        conn.endheaders()
        r = conn.getresponse()
        if r.status == 502:
            body = r.read()
            assert b'"bad_gateway"' in body
            assert "small" in path, "a large body was half sent before the failure"
        else:
            assert r.status == 200
            with pytest.raises((http.client.IncompleteRead, ConnectionError)):
                r.read()
    finally:
        conn.close()
    assert gw.get("/ok", host="up.example.com").body == b"fine"


def test_close_delimited_upstream_body_is_relayed_whole(gw):
    r = gw.get("/no-length", host="up.example.com")
    assert r.status == 200
    assert r.body == b"n" * 5000


def test_keep_alive_to_upstream_is_reused(gw):
    conn = gw.connection()
    try:
        for _ in range(20):
            r = gw.get("/ok", host="up.example.com", conn=conn)
            assert r.status == 200 and r.body == b"fine"
    finally:
        conn.close()
