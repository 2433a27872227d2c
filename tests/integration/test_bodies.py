"""Request and response bodies stream through intact; HEAD and keep-alive work (SPEC §4)."""

import pytest

from conftest import RawClient, ingress, ingress_path, parse_response, service_docs

MB = 1024 * 1024


@pytest.fixture
def gw(echo, gateway):
    backend = echo("bodies")
    return gateway({
        "svc.yaml": service_docs("bodies", [backend]),
        "ing.yaml": ingress("bodies", [{"host": "body.example.com",
                                        "paths": [ingress_path("/", "bodies")]}]),
    })


def pattern(n: int) -> bytes:
    block = bytes(range(256))
    return (block * (n // 256 + 1))[:n]


def test_post_with_content_length(gw):
    body = pattern(3 * MB + 17)
    r = gw.request("/upload", method="POST", host="body.example.com", body=body,
                   headers={"Content-Type": "application/octet-stream"})
    assert r.status == 200, r
    seen = r.json()
    assert seen["method"] == "POST"
    assert seen["bodyLength"] == len(body)
    assert seen["headers"]["content-length"] == str(len(body))


def test_post_chunked_upload(gw):
    sizes = [1, 100, 65536, 1000, 3 * MB, 7]
    pieces = [pattern(n) for n in sizes]
    r = gw.request("/upload-chunked", method="POST", host="body.example.com", body=pieces,
                   encode_chunked=True)
    assert r.status == 200, r
    assert r.json()["bodyLength"] == sum(sizes)


def test_small_bodies_and_empty_post(gw):
    conn = gw.connection()
    try:
        for body in (b"", b"a", b"hello world", pattern(20000)):
            r = gw.request("/small", method="PUT", host="body.example.com", body=body, conn=conn)
            assert r.status == 200, r
            assert r.json()["bodyLength"] == len(body)
    finally:
        conn.close()


@pytest.mark.parametrize("chunked", [False, True])
def test_large_response_streams_intact(gw, chunked):
    size = 5 * MB
    headers = {"X-Echo-Body-Size": str(size)}
    if chunked:
        headers["X-Echo-Chunked"] = "1"
    r = gw.get("/big", host="body.example.com", headers=headers, timeout=30)
    assert r.status == 200
    assert len(r.body) == size
    assert r.body == b"x" * size
    if chunked:
        assert r.header("Transfer-Encoding", "").lower() == "chunked"
    else:
        assert r.header("Content-Length") == str(size)


def test_large_responses_back_to_back_on_one_connection(gw):
    conn = gw.connection(timeout=30)
    try:
        for i in range(4):
            headers = {"X-Echo-Body-Size": str(MB + i)}
            if i % 2:
                headers["X-Echo-Chunked"] = "1"
            r = gw.get(f"/big/{i}", host="body.example.com", headers=headers, conn=conn)
            assert r.status == 200
            assert len(r.body) == MB + i and r.body.count(b"x") == MB + i
    finally:
        conn.close()


def test_head(gw):
    with RawClient(gw.port) as c:
        c.send(b"HEAD /head HTTP/1.1\r\nHost: body.example.com\r\nX-Echo-Body-Size: 1000\r\n\r\n")
        r = c.read_response(timeout=5, head=True)
        assert r is not None and r.status == 200, c.received
        assert r.header("Content-Length") == "1000"
        # No body follows the HEAD answer: the next request's answer comes right after it.
        c.read_until_closed(timeout=0.3)
        assert c.received.endswith(b"\r\n\r\n"), c.received
        head_len = len(c.received)
        c.send(b"GET /after-head HTTP/1.1\r\nHost: body.example.com\r\n\r\n")
        c.received = b""
        r2 = c.read_response(timeout=5)
        assert r2 is not None and r2.status == 200, c.received
        assert c.received.startswith(b"HTTP/1.1 200"), c.received[:100]
        assert r2.json()["path"] == "/after-head"
        assert head_len > 0


def test_head_through_http_client(gw):
    r = gw.request("/head", method="HEAD", host="body.example.com")
    assert r.status == 200
    assert r.body == b""
    assert int(r.header("Content-Length")) > 0
    assert r.header("Server") == "atrium"


def test_keep_alive_reuse(gw):
    conn = gw.connection()
    try:
        conn.connect()
        local = conn.sock.getsockname()
        for i in range(300):
            r = gw.get(f"/ka/{i}", host="body.example.com", conn=conn)
            assert r.status == 200, r
            assert r.json()["path"] == f"/ka/{i}"
            assert r.header("Connection", "").lower() != "close"
            assert conn.sock is not None and conn.sock.getsockname() == local, \
                f"connection was not reused at request {i}"
    finally:
        conn.close()


def test_pipelined_requests_answered_in_order(gw):
    with RawClient(gw.port) as c:
        c.send(b"".join(b"GET /pipe/%d HTTP/1.1\r\nHost: body.example.com\r\n\r\n" % i
                        for i in range(5)))
        c.send(b"GET /pipe/last HTTP/1.1\r\nHost: body.example.com\r\nConnection: close\r\n\r\n")
        data = c.read_until_closed(timeout=10)
    paths = []
    while data:
        r = parse_response(data)
        assert r is not None, data[:200]
        paths.append(r.json()["path"])
        head_end = data.index(b"\r\n\r\n") + 4
        data = data[head_end + int(r.header("Content-Length")):]
    assert paths == [f"/pipe/{i}" for i in range(5)] + ["/pipe/last"]


def test_request_body_over_default_limit_is_413(gw):
    with RawClient(gw.port) as c:
        c.send(b"POST /too-big HTTP/1.1\r\nHost: body.example.com\r\n"
               b"Content-Length: %d\r\n\r\n" % (11 * MB))
        c.read_until_closed(timeout=5)
        r = parse_response(c.received)
    assert r is not None and r.status == 413, c.received
    assert r.json()["error"]["code"] == "payload_too_large"
    assert c.closed


def test_expect_100_continue(gw):
    with RawClient(gw.port) as c:
        c.send(b"POST /expect HTTP/1.1\r\nHost: body.example.com\r\nContent-Length: 5\r\n"
               b"Expect: 100-continue\r\n\r\n")
        c.read_response(timeout=3)
        assert c.received.startswith(b"HTTP/1.1 100"), c.received
        c.received = b""
        c.send(b"hello")
        r = c.read_response(timeout=5)
    assert r is not None and r.status == 200, c.received
    seen = r.json()
    assert seen["bodyLength"] == 5
    assert "expect" not in seen["headers"]


def test_http10_client(gw):
    with RawClient(gw.port) as c:
        c.send(b"GET /old-client HTTP/1.0\r\nHost: body.example.com\r\n\r\n")
        data = c.read_until_closed(timeout=5)
    r = parse_response(data)
    assert r is not None and r.status == 200, data[:200]
    assert r.json()["path"] == "/old-client"
    assert c.closed  # HTTP/1.0 without keep-alive: the connection ends with the response


def test_http10_chunked_upstream_body_is_close_delimited_or_sized(gw):
    with RawClient(gw.port) as c:
        c.send(b"GET /old-client HTTP/1.0\r\nHost: body.example.com\r\n"
               b"X-Echo-Body-Size: 100000\r\nX-Echo-Chunked: 1\r\n\r\n")
        data = c.read_until_closed(timeout=5)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1."), head
    assert b" 200 " in head.split(b"\r\n")[0]
    # An HTTP/1.0 client cannot decode chunked framing: it must get the raw bytes.
    assert b"transfer-encoding: chunked" not in head.lower()
    assert body == b"x" * 100000


def test_upstream_closing_its_connection_is_not_reused(gw):
    conn = gw.connection()
    try:
        for i in range(20):
            headers = {"X-Echo-Close": "1"} if i % 2 == 0 else {}
            r = gw.get(f"/close/{i}", host="body.example.com", headers=headers, conn=conn)
            assert r.status == 200, (i, r)
            assert r.json()["path"] == f"/close/{i}"
            # The upstream's Connection: close is hop-by-hop; the client connection stays.
            assert r.header("Connection", "").lower() != "close"
    finally:
        conn.close()


@pytest.mark.parametrize("status", [204, 304])
def test_bodyless_statuses_keep_the_connection_usable(gw, status):
    with RawClient(gw.port) as c:
        c.send(b"GET /nobody HTTP/1.1\r\nHost: body.example.com\r\nX-Echo-Status: %d\r\n\r\n" % status)
        r = c.read_response(timeout=5)
        assert r is not None and r.status == status, c.received
        c.read_until_closed(timeout=0.3)
        assert c.received.endswith(b"\r\n\r\n"), c.received  # no body bytes
        c.received = b""
        c.send(b"GET /next HTTP/1.1\r\nHost: body.example.com\r\n\r\n")
        r = c.read_response(timeout=5)
        assert r is not None and r.status == 200, c.received
        assert r.json()["path"] == "/next"


@pytest.mark.parametrize("host,status", [(b"body.example.com", 200), (b"unknown.example.com", 404)])
def test_http10_keep_alive_client(gw, host, status):
    """An HTTP/1.0 client asking for keep-alive (ab -k) is either told it got it or closed,
    for proxied answers and for the gateway's own."""
    with RawClient(gw.port) as c:
        for i in range(3):
            c.received = b""
            c.send(b"GET /ka10/%d HTTP/1.0\r\nHost: %s\r\nConnection: keep-alive\r\n\r\n" % (i, host))
            r = c.read_response(timeout=5)
            assert r is not None and r.status == status, c.received
            if status == 200:
                assert r.json()["path"] == f"/ka10/{i}"
            if r.header("Connection", "").lower() != "keep-alive":
                # Not kept alive: then the gateway must close, or the client would hang.
                c.read_until_closed(timeout=2)
                assert c.closed
                break
        else:
            assert not c.closed
