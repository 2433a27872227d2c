"""Informer protocol details that a real kube-apiserver will not produce on demand, checked
against a scripted fake API server (HTTPS on loopback, stdlib only): LIST pagination with a
continue token that needs URL-encoding, WATCH from the list's resourceVersion with bookmarks
requested, a watch ERROR event with code 410 (Expired) leading to a relist that replaces the
objects, a 404 kind (CRD not installed) that does not block readiness, and the bearer token.

Runs without the kube-apiserver binaries (only `openssl` for the test certificate).
"""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
TOKEN = "fake-token-123"
CONTINUE = "a+b/c="  # must arrive percent-encoded


sys.path.insert(0, str(Path(__file__).resolve().parent))
from integration_helpers import h  # noqa: E402


def ingress(name: str, host: str, rv: str) -> dict:
    return {"metadata": {"name": name, "namespace": "default", "resourceVersion": rv,
                         "managedFields": [{"manager": "kubectl"}]},
            "spec": {"ingressClassName": "atrium", "rules": [{"host": host, "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": "svc", "port": {"number": 80}}}}]}}]}}


class FakeApi:
    """Scripted behaviour: Ingress LIST in two pages; the first watch gets a 410 ERROR; the
    relist then returns a different set of Ingresses; every other watch stays open."""

    def __init__(self):
        self.requests: list[tuple[str, dict, str]] = []  # (path, query, authorization)
        self.ingress_lists = 0
        self.ingress_watches = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def handle(self, req: BaseHTTPRequestHandler):
        url = urlsplit(req.path)
        query = parse_qs(url.query)
        with self.lock:
            self.requests.append((url.path, query, req.headers.get("Authorization", "")))
        if req.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self.json(req, 401, {"kind": "Status", "code": 401, "message": "Unauthorized"})
        path = url.path
        if path.startswith("/apis/atrium.dev/"):
            return self.json(req, 404, {"kind": "Status", "code": 404,
                                        "message": "the server could not find the requested resource"})
        watching = query.get("watch") == ["1"]
        if path == "/apis/networking.k8s.io/v1/ingressclasses" and not watching:
            return self.list(req, [{"metadata": {"name": "atrium", "resourceVersion": "5"},
                                    "spec": {"controller": "atrium.dev/ingress-controller"}}], "5")
        if path == "/apis/networking.k8s.io/v1/ingresses":
            return self.ingresses(req, query, watching)
        if watching:
            return self.hold_watch(req, [])
        return self.list(req, [], "5")

    def ingresses(self, req, query, watching):
        if not watching:
            with self.lock:
                if "continue" not in query:
                    self.ingress_lists += 1
                relisted = self.ingress_lists > 1
            if relisted:
                return self.list(req, [ingress("three", "three.example.com", "40")], "40")
            if "continue" not in query:
                return self.list(req, [ingress("one", "one.example.com", "11")], "", CONTINUE)
            assert query["continue"] == [CONTINUE]
            return self.list(req, [ingress("two", "two.example.com", "12")], "20")
        with self.lock:
            self.ingress_watches += 1
            first = self.ingress_watches == 1
        if first:
            return self.hold_watch(req, [
                {"type": "BOOKMARK", "object": {"kind": "Ingress",
                                                "metadata": {"resourceVersion": "25"}}},
                {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
                                             "status": "Failure", "reason": "Expired", "code": 410,
                                             "message": "too old resource version: 20 (30)"}},
            ], hold=False)
        return self.hold_watch(req, [])

    def json(self, req, status, body):
        data = json.dumps(body).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    def list(self, req, items, rv, cont=""):
        meta = {"resourceVersion": rv}
        if cont:
            meta["continue"] = cont
        self.json(req, 200, {"kind": "List", "apiVersion": "v1", "metadata": meta,
                             "items": items})

    def hold_watch(self, req, events, hold=True):
        req.send_response(200)
        req.send_header("Content-Type", "application/json")
        req.send_header("Transfer-Encoding", "chunked")
        req.end_headers()
        for e in events:
            line = json.dumps(e).encode() + b"\n"
            req.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            req.wfile.flush()
        if hold:
            self.stop.wait(30)
        req.wfile.write(b"0\r\n\r\n")
        req.wfile.flush()


@pytest.fixture
def fake_api(tmp_path):
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=fake-apiserver", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    api = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            try:
                api.handle(self)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    # The CA as a file next to the kubeconfig, named relatively: exercises that code path too.
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
        "clusters:\n- name: fake\n  cluster:\n"
        f"    server: https://127.0.0.1:{server.server_address[1]}\n"
        "    certificate-authority: server.crt\n"
        "contexts:\n- name: fake\n  context: {cluster: fake, user: u}\n"
        f"users:\n- name: u\n  user:\n    token: {TOKEN}\n")
    api.kubeconfig = str(kubeconfig)
    yield api
    api.stop.set()
    server.shutdown()


def test_pagination_410_relist_and_missing_crds(fake_api, tmp_path):
    stderr_path = tmp_path / "atrium.stderr"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            [h.ATRIUM_BIN, "--kubeconfig", fake_api.kubeconfig, "--bind", h.LOOPBACK,
             "--http-port", "0", "--https-port", "0", "--admin-port", "0", "--admin-bind", h.LOOPBACK, "--threads", "1",
             "--access-log", "off", "--drain-timeout", "1s"],
            stdout=subprocess.DEVNULL, stderr=stderr, stdin=subprocess.DEVNULL,
            preexec_fn=h._die_with_parent)
    try:
        log = lambda: stderr_path.read_text(errors="replace")  # noqa: E731
        admin = int(h.wait_until(lambda: re.search(r"admin listening on \S+:(\d+)", log()), 10,
                                 message="admin port").group(1))

        def config_text():
            r = h.http_request(admin, "GET", "/config", host=f"{h.LOOPBACK}:{admin}")
            return r.body.decode() if r.status == 200 else ""

        # After the 410 the relist's objects replace the first list's: only "three" remains.
        h.wait_until(lambda: "three.example.com" in config_text(), 10,
                     message="relisted Ingress in /config")
        text = config_text()
        assert "one.example.com" not in text and "two.example.com" not in text, text
        ready = h.http_request(admin, "GET", "/readyz", host=f"{h.LOOPBACK}:{admin}")
        assert ready.status == 200, (ready, log())

        reqs = [(p, q) for p, q, _ in fake_api.requests if p.endswith("/ingresses")]
        assert all(auth == f"Bearer {TOKEN}" for _, _, auth in fake_api.requests)
        lists = [q for p, q in reqs if "watch" not in q]
        watches = [q for p, q in reqs if "watch" in q]
        assert lists[0]["limit"] == ["500"] and "continue" not in lists[0]
        assert lists[1]["continue"] == [CONTINUE]
        assert watches[0]["resourceVersion"] == ["20"]
        assert watches[0]["allowWatchBookmarks"] == ["true"]
        assert 240 <= int(watches[0]["timeoutSeconds"][0]) <= 300
        assert len(lists) >= 3 and "continue" not in lists[2], lists  # the relist
        h.wait_until(lambda: len([1 for p, q, _ in fake_api.requests
                                  if p.endswith("/ingresses") and "watch" in q]) >= 2, 5,
                     message="watch resumed after the relist")
        second_watch = [q for p, q, _ in fake_api.requests
                        if p.endswith("/ingresses") and "watch" in q][1]
        assert second_watch["resourceVersion"] == ["40"]

        metrics = h.http_request(admin, "GET", "/metrics", host=f"{h.LOOPBACK}:{admin}")
        body = metrics.body.decode()
        assert 'atrium_kube_watch_restarts_total{kind="Ingress"} 1' in body, body
        assert 'atrium_kube_watch_events_total{kind="Ingress",type="ERROR"} 1' in body, body
        assert 'atrium_kube_watch_events_total{kind="Ingress",type="BOOKMARK"} 1' in body, body
        assert "not served by the API server" in log()
        assert TOKEN not in log()
    finally:
        if proc.poll() is None:
            proc.terminate()
        assert proc.wait(10) == 0, stderr_path.read_text(errors="replace")
