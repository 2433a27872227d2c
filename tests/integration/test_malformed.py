"""Malformed and hostile requests (SPEC §4, safety defaults).

Each one must get the right status, then a closed connection, and must never reach an upstream:
the catch-all route points at a recording upstream that logs every byte it receives.
"""

import socket
import time

import pytest

from conftest import (RawClient, ingress, ingress_path, parse_response, service_docs,
                      stop_and_check)

HOST = b"m.example.com"


@pytest.fixture(scope="module")
def env(request, tmp_path_factory):
    from conftest import Atrium, RecordingBackend

    rec = RecordingBackend()
    workdir = tmp_path_factory.mktemp("malformed")
    # A catch-all route: every well-formed request would be forwarded to the recorder.
    try:
        gw = Atrium(workdir, {
            "svc.yaml": service_docs("rec", [rec]),
            "ing.yaml": ingress("catch-all", [{"paths": [ingress_path("/", "rec")]}]),
        })
    except Exception:
        rec.stop()
        raise
    request.node._atrium_gateways = [gw]
    yield gw, rec
    try:
        stop_and_check(gw)
    finally:
        rec.stop()


def exchange(gw, data: bytes, timeout: float = 5.0):
    """Sends `data`, reads until the gateway closes; returns (response, client)."""
    with RawClient(gw.port) as c:
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        c.read_until_closed(timeout)
        return parse_response(c.received), c


def assert_rejected(env, data: bytes, status: int, code: str | None = None):
    gw, rec = env
    before = len(rec.requests())
    r, c = exchange(gw, data)
    assert r is not None, f"no response; received {c.received!r}"
    assert r.status == status, r
    assert c.closed, "the connection was left open"
    if code is not None:
        err = r.json()["error"]
        assert err["status"] == status and err["code"] == code
        assert err["requestId"] == r.header("X-Request-Id")
    assert r.header("Server") == "atrium"
    time.sleep(0.1)
    assert len(rec.requests()) == before, f"request reached the upstream: {rec.requests()[before:]!r}"
    assert rec.bytes_received == sum(len(d) for d in rec.requests())


def req(*header_lines: bytes, body: bytes = b"", method: bytes = b"POST", target: bytes = b"/x",
        host: bytes | None = HOST, version: bytes = b"HTTP/1.1") -> bytes:
    lines = [method + b" " + target + b" " + version]
    if host is not None:
        lines.append(b"Host: " + host)
    lines.extend(header_lines)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def test_positive_control_reaches_upstream(env):
    gw, rec = env
    before = len(rec.requests())
    r, c = exchange(gw, req(b"Content-Length: 5", b"Connection: close", body=b"hello"))
    assert r is not None and r.status == 200, c.received
    assert r.json() == {"recorder": True}
    assert len(rec.requests()) == before + 1


def test_content_length_and_transfer_encoding(env):
    assert_rejected(env, req(b"Content-Length: 5", b"Transfer-Encoding: chunked",
                             body=b"0\r\n\r\n"), 400, "bad_request")
    assert_rejected(env, req(b"Transfer-Encoding: chunked", b"Content-Length: 5",
                             body=b"0\r\n\r\n"), 400, "bad_request")


def test_differing_content_lengths(env):
    assert_rejected(env, req(b"Content-Length: 5", b"Content-Length: 6", body=b"hello!"), 400)
    assert_rejected(env, req(b"Content-Length: 5, 6", body=b"hello!"), 400)


@pytest.mark.parametrize("te", [b"gzip", b"gzip, chunked", b"chunked, gzip", b"identity",
                                b"chunked, chunked", b"xchunked"])
def test_transfer_encoding_other_than_chunked(env, te):
    assert_rejected(env, req(b"Transfer-Encoding: " + te, body=b"0\r\n\r\n"), 400)


def test_repeated_transfer_encoding_headers(env):
    assert_rejected(env, req(b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked",
                             body=b"0\r\n\r\n"), 400)


def test_bad_chunk_size(env):
    gw, rec = env
    before = len(rec.requests())
    r, c = exchange(gw, req(b"Transfer-Encoding: chunked", body=b"zz\r\nhello\r\n0\r\n\r\n"))
    # Either a 400 or just a closed connection; never a success and never forwarded.
    assert c.closed
    if r is not None:
        assert r.status == 400, r
    time.sleep(0.1)
    assert len(rec.requests()) == before, rec.requests()[before:]


def test_header_section_over_64k(env):
    filler = [b"X-Fill-%d: %s" % (i, b"a" * 4000) for i in range(20)]  # ~80 KiB
    assert_rejected(env, req(*filler, method=b"GET"), 431, "headers_too_large")


def test_one_huge_header_line(env):
    assert_rejected(env, req(b"X-Huge: " + b"b" * (70 * 1024), method=b"GET"), 431,
                    "headers_too_large")


@pytest.mark.parametrize("line", [
    b"X-Bad: a\x00b",            # NUL in a value
    b"X-Bad: a\x01b",            # control character in a value
    b"X-Bad: a\rb",              # bare CR
    b"Bad Name: x",              # space in a field name
    b"X(Bad): x",                # separator in a field name
    b"X-Bad : x",                # whitespace before the colon (RFC 9112 §5.1: must be 400)
    b": no-name",                # empty field name
    b"NoColonHere",
])
def test_invalid_header_bytes(env, line):
    assert_rejected(env, req(line, method=b"GET"), 400)


def test_invalid_header_in_host(env):
    assert_rejected(env, req(host=b"m.example.com\x00evil", method=b"GET"), 400)


@pytest.mark.parametrize("target", [
    b"/a%2Fb",
    b"/a%2fb",
    b"/a%00b",
    b"/../../etc/passwd",
    b"/x/../../etc/passwd",
    b"/%2e%2e/%2e%2e/etc/passwd",
    b"/a/%2E%2E/%2E%2E/etc",
    b"/a%zz",                     # malformed percent-encoding
])
def test_bad_paths(env, target):
    assert_rejected(env, req(method=b"GET", target=target), 400, "bad_request")


def test_dot_segments_inside_the_root_are_normalised(env):
    gw, rec = env
    before = len(rec.requests())
    r, c = exchange(gw, req(b"Connection: close", method=b"GET", target=b"/a/./b/../c//d?q=%2F"))
    assert r is not None and r.status == 200, c.received
    forwarded = rec.requests()[before]
    assert forwarded.startswith(b"GET /a/c/d?q=%2F HTTP/1.1\r\n"), forwarded[:100]


def test_missing_host_on_http11(env):
    assert_rejected(env, req(method=b"GET", host=None), 400, "bad_request")


def test_two_host_headers(env):
    assert_rejected(env, req(b"Host: other.example.com", method=b"GET"), 400)


@pytest.mark.parametrize("data", [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1 extra\r\nHost: m.example.com\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: m.example.com\r\n\r\n",
    b"GET\tthere HTTP/1.1\r\nHost: m.example.com\r\n\r\n",
])
def test_bad_request_line(env, data):
    assert_rejected(env, data, 400)


def test_good_request_after_rejections_still_works(env):
    """The rejections above left the gateway healthy."""
    gw, rec = env
    r, c = exchange(gw, req(b"Connection: close", method=b"GET", target=b"/still/fine"))
    assert r is not None and r.status == 200, c.received


@pytest.mark.slow
def test_slow_header_gets_408_after_about_10s(env):
    gw, rec = env
    before = len(rec.requests())
    data = req(b"X-Slow: " + b"s" * 200, method=b"GET")
    c = RawClient(gw.port, timeout=30)
    started = time.monotonic()
    try:
        i = 0
        # One byte every 0.5 s; the header would take ~2 minutes to finish at this pace.
        while not c.closed and time.monotonic() - started < 20 and i < len(data):
            try:
                c.send(data[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            i += 1
            c.read_until_closed(timeout=0.5)
        c.read_until_closed(timeout=2)
    finally:
        c.close()
    elapsed = time.monotonic() - started
    r = parse_response(c.received)
    assert r is not None, f"no response after {elapsed:.1f}s: {c.received!r}"
    assert r.status == 408, r
    assert c.closed
    assert 9.0 <= elapsed <= 13.0, f"408 after {elapsed:.1f}s"
    assert len(rec.requests()) == before


def test_idle_connection_without_a_request_is_not_answered(env):
    """Opening a connection and closing it again is not an error worth a response."""
    gw, _ = env
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
    s.shutdown(socket.SHUT_WR)
    assert s.recv(100) == b""
    s.close()
