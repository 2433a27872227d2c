"""Shared fixtures for Atrium's end-to-end tests.

Every test here drives the real binaries over loopback: `atrium --manifests DIR` in front of one
or more `echo-backend` processes (or a raw recording upstream written in Python), with manifests
written into a per-test temporary directory. Everything binds 127.0.0.1 with port 0, so tests can
run in parallel with each other and with anything else on the machine.

Fixtures:
  echo        factory: echo(name, instance=None) -> EchoBackend (stopped at teardown)
  recorder    factory: recorder() -> RecordingBackend, a raw TCP upstream that logs every byte
  gateway     factory: gateway(manifests: {file: docs}, extra_args=[...]) -> Atrium; at teardown
              each gateway still running gets SIGTERM and must exit 0; on a failed test its
              stderr (process log) is attached to the report.
Helpers for manifests (service_docs, ingress, apiroute, ...) and HTTP (http_request, RawClient,
parse_response; over TLS: https_request, https_connection, tls_client_context) live here too, so
the test files read as scenarios. Every gateway also listens for HTTPS on an ephemeral port
(`--https-port 0`); `Atrium.https_port` waits for it only when a test asks.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
ATRIUM_BIN = os.environ.get("ATRIUM_BIN") or str(REPO_ROOT / "build" / "atrium")
ECHO_BIN = os.environ.get("ECHO_BACKEND_BIN") or str(REPO_ROOT / "build" / "echo-backend")

LOOPBACK = "127.0.0.1"


def _die_with_parent():
    """preexec_fn: children get SIGKILL if pytest dies (a ctest timeout), so none outlive it."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:  # noqa: BLE001 - best effort only
        pass


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes 10 s or more of wall time (run once by default)")


# --------------------------------------------------------------------------------------------
# small utilities


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.02,
               message: str = "condition") -> Any:
    """Polls `predicate` until it returns a truthy value; bounded by `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - polled predicates may fail while starting up
            last_error = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}"
                                 + (f" (last error: {last_error!r})" if last_error else ""))
        time.sleep(interval)


class Response:
    """What a client saw: status, headers (case-insensitive), body bytes."""

    def __init__(self, status: int, reason: str, headers: http.client.HTTPMessage | dict,
                 body: bytes, version: int = 11):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.version = version

    def header(self, name: str, default=None):
        return self.headers.get(name, default)

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {dict(self.headers)!r} {self.body[:300]!r}>"


def http_request(port: int, method: str = "GET", path: str = "/", host: str | None = "localhost",
                 headers: dict | list | None = None, body=None, timeout: float = 10.0,
                 conn: http.client.HTTPConnection | None = None,
                 encode_chunked: bool = False) -> Response:
    """One request. Without `conn` it uses a fresh connection and closes it afterwards."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        items = headers.items() if isinstance(headers, dict) else (headers or [])
        for name, value in items:
            conn.putheader(name, value)
        if body is not None and not encode_chunked:
            if isinstance(body, str):
                body = body.encode()
            conn.putheader("Content-Length", str(len(body)))
        if encode_chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        if body is not None:
            if encode_chunked:
                for piece in body:
                    if piece:
                        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
                conn.send(b"0\r\n\r\n")
            else:
                conn.send(body)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.reason, r.headers, data, r.version)
    finally:
        if own:
            conn.close()


# --------------------------------------------------------------------------------------------
# HTTPS clients


def tls_client_context(cafile: str | os.PathLike | None = None,
                       cert: str | os.PathLike | None = None,
                       key: str | os.PathLike | None = None,
                       alpn: list[str] | None = None,
                       minimum: ssl.TLSVersion | None = None,
                       maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    """A client context. Without `cafile` it verifies nothing (like `curl -k`), so a test can
    look at whatever certificate the server chose; with it, the chain and the SNI name are
    verified against that CA. `cert`/`key`: a client certificate to present."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.load_verify_locations(cafile=str(cafile))
    if cert is not None:
        ctx.load_cert_chain(str(cert), str(key) if key is not None else None)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


class HTTPSConnection(http.client.HTTPConnection):
    """http.client over TLS to 127.0.0.1, with the SNI name chosen apart from the address (the
    stdlib's HTTPSConnection sends the address it connects to). A reconnect (after the server
    closed) is TLS again, never plain HTTP."""

    def __init__(self, port: int, sni: str | None, context: ssl.SSLContext,
                 timeout: float = 10.0):
        super().__init__(LOOPBACK, port, timeout=timeout)
        self.sni = sni
        self.context = context

    def connect(self):
        super().connect()
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.sni)

    def tls_info(self) -> dict:
        """What the handshake agreed: version, cipher, ALPN protocol, the peer's leaf (DER)."""
        s = self.sock
        return {"version": s.version(), "cipher": s.cipher()[0],
                "alpn": s.selected_alpn_protocol(), "cert": s.getpeercert(binary_form=True)}


_SNI_FROM_HOST = object()


def _sni_for(host: str | None) -> str | None:
    """The name a browser would send for `host`: without the port, none for an IP address."""
    if not host:
        return None
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    try:
        socket.inet_aton(name)
        return None
    except OSError:
        return name


def https_connection(port: int, sni: str | None, context: ssl.SSLContext | None = None,
                     timeout: float = 10.0) -> HTTPSConnection:
    """A connected, handshaken TLS connection (handshake errors are raised here)."""
    conn = HTTPSConnection(port, sni, context or tls_client_context(), timeout)
    try:
        conn.connect()
    except BaseException:
        conn.close()
        raise
    return conn


def https_request(port: int, method: str = "GET", path: str = "/", host: str | None = "localhost",
                  headers: dict | list | None = None, body=None, timeout: float = 10.0,
                  conn: HTTPSConnection | None = None, sni: Any = _SNI_FROM_HOST,
                  context: ssl.SSLContext | None = None, encode_chunked: bool = False) -> Response:
    """http_request over TLS. Without `conn` it opens a connection whose SNI is `sni` (by
    default the Host without its port) and closes it afterwards. The Response carries
    `.tls` (HTTPSConnection.tls_info of the connection that answered)."""
    own = conn is None
    if own:
        conn = https_connection(port, _sni_for(host) if sni is _SNI_FROM_HOST else sni,
                                context, timeout)
    try:
        info = conn.tls_info() if conn.sock is not None else None
        r = http_request(port, method, path, host=host, headers=headers, body=body,
                         timeout=timeout, conn=conn, encode_chunked=encode_chunked)
        r.tls = info or (conn.tls_info() if conn.sock is not None else None)
        return r
    finally:
        if own:
            conn.close()


# --------------------------------------------------------------------------------------------
# raw sockets, for what http.client refuses to send or hides


def parse_response(data: bytes) -> Response | None:
    """Parses the first HTTP/1.x response in `data` (Content-Length or close-delimited body)."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.split(b"\r\n")
    parts = lines[0].decode("latin-1").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        return None
    headers = http.client.HTTPMessage()
    for line in lines[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip()] = value.strip()
    length = headers.get("Content-Length")
    body = rest[: int(length)] if length is not None else rest
    return Response(int(parts[1]), parts[2] if len(parts) > 2 else "", headers, body,
                    10 if parts[0] == "HTTP/1.0" else 11)


class RawClient:
    """A plain TCP client: send exact bytes, read what comes back, see when the peer closes."""

    def __init__(self, port: int, timeout: float = 10.0):
        self.sock = socket.create_connection((LOOPBACK, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.received = b""
        self.closed = False  # the peer ended the connection (FIN or RST)
        self.reset = False

    def send(self, data: bytes):
        self.sock.sendall(data)

    def read_until_closed(self, timeout: float = 10.0) -> bytes:
        """Reads until the peer closes the connection or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self._read_some(deadline)
        return self.received

    def read_response(self, timeout: float = 10.0, head: bool = False) -> Response | None:
        """Reads until one complete response has arrived (by Content-Length; just the header
        for HEAD, 1xx, 204 and 304), or the peer closes, or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.closed:
            r = parse_response(self.received)
            if r is not None:
                if head or r.status < 200 or r.status in (204, 304):
                    r.body = b""
                    return r
                if "Content-Length" in r.headers and \
                        len(r.body) >= int(r.headers["Content-Length"]):
                    return r
            self._read_some(deadline)
        return parse_response(self.received)

    def _read_some(self, deadline: float):
        remaining = max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([self.sock], [], [], min(remaining, 0.5))
        if not ready:
            return
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            self.closed = self.reset = True
            return
        if not chunk:
            self.closed = True
        self.received += chunk

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------------------------------
# upstreams


class EchoBackend:
    """A running `echo-backend` process."""

    def __init__(self, name: str, instance: str | None = None):
        self.name = name
        self.instance = instance or name
        self.proc = subprocess.Popen(
            [ECHO_BIN, "--bind", LOOPBACK, "--port", "0", "--name", name, "--instance",
             self.instance],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode() if ready else ""
        m = re.search(r"listening on [\d.]+:(\d+)", line)
        if not m:
            self.stop()
            raise RuntimeError(f"echo-backend did not start: {line!r}")
        self.port = int(m.group(1))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout:
            self.proc.stdout.close()


class RecordingBackend:
    """A raw TCP upstream in Python that records every connection and every byte it receives.

    It answers each request header it sees with a small 200 and closes, so a test can prove a
    request did (or did not) reach an upstream at all.
    """

    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((LOOPBACK, 0))
        self.listener.listen(64)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.connections = 0
        self.data: list[bytes] = []  # one entry per connection, everything it received
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def bytes_received(self) -> int:
        with self.lock:
            return sum(len(d) for d in self.data)

    def requests(self) -> list[bytes]:
        with self.lock:
            return [d for d in self.data if d]

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            with self.lock:
                self.connections += 1
                index = len(self.data)
                self.data.append(b"")
            threading.Thread(target=self._handle, args=(conn, index), daemon=True).start()

    def _handle(self, conn: socket.socket, index: int):
        conn.settimeout(5)
        try:
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                buf += chunk
                with self.lock:
                    self.data[index] = buf
            if b"\r\n\r\n" in buf:
                body = b'{"recorder":true}'
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self.stopping = True
        self.thread.join(2)
        self.listener.close()


# --------------------------------------------------------------------------------------------
# manifests


def service(name: str, ports: Iterable[tuple[str, int]] = (("http", 80),),
            namespace: str = "default") -> dict:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"ports": [{"name": n, "port": p, "targetPort": p} for n, p in ports]},
    }


def endpoint_slice(service_name: str, slice_name: str, ports: dict[str, int],
                   addresses: Iterable[str] = (LOOPBACK,), ready: bool = True,
                   namespace: str = "default") -> dict:
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": slice_name, "namespace": namespace,
                     "labels": {"kubernetes.io/service-name": service_name}},
        "addressType": "IPv4",
        "ports": [{"name": n, "port": p, "protocol": "TCP"} for n, p in ports.items()],
        "endpoints": [{"addresses": list(addresses), "conditions": {"ready": ready}}],
    }


def service_docs(name: str, backends, port_name: str = "http", service_port: int = 80,
                 namespace: str = "default") -> list[dict]:
    """A Service plus one EndpointSlice per backend (each backend has its own port)."""
    docs = [service(name, [(port_name, service_port)], namespace)]
    for i, b in enumerate(backends):
        port = b if isinstance(b, int) else b.port
        docs.append(endpoint_slice(name, f"{name}-{i}", {port_name: port}, namespace=namespace))
    return docs


def ingress_path(path: str, service_name: str, port=80, path_type: str = "Prefix") -> dict:
    port_ref = {"number": port} if isinstance(port, int) else {"name": port}
    return {"path": path, "pathType": path_type,
            "backend": {"service": {"name": service_name, "port": port_ref}}}


def ingress(name: str, rules: list[dict] | None = None, default_backend: tuple | None = None,
            class_name: str | None = "atrium", annotations: dict | None = None,
            namespace: str = "default") -> dict:
    """rules: [{"host": h or None, "paths": [ingress_path(...), ...]}]."""
    spec: dict = {}
    if class_name is not None:
        spec["ingressClassName"] = class_name
    if rules is not None:
        spec["rules"] = []
        for r in rules:
            rule: dict = {}
            if r.get("host"):
                rule["host"] = r["host"]
            if r.get("paths") is not None:
                rule["http"] = {"paths": r["paths"]}
            spec["rules"].append(rule)
    if default_backend is not None:
        svc, port = default_backend
        port_ref = {"number": port} if isinstance(port, int) else {"name": port}
        spec["defaultBackend"] = {"service": {"name": svc, "port": port_ref}}
    metadata: dict = {"name": name, "namespace": namespace}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata,
            "spec": spec}


def ingress_class(name: str = "atrium", controller: str = "atrium.dev/ingress-controller") -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": name}, "spec": {"controller": controller}}


def apiroute(name: str, spec: dict, namespace: str = "default") -> dict:
    return {"apiVersion": "atrium.dev/v1alpha1", "kind": "APIRoute",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def to_yaml(docs) -> str:
    if isinstance(docs, str):
        return docs
    if isinstance(docs, dict):
        docs = [docs]
    return yaml.safe_dump_all(list(docs), sort_keys=False)


# --------------------------------------------------------------------------------------------
# the gateway


class Atrium:
    """A running `atrium --manifests DIR` with helpers to talk to it and to change its config."""

    def __init__(self, workdir: Path, manifests: dict[str, Any] | None = None,
                 extra_args: Iterable[str] = (), threads: int = 2, drain_timeout: str = "5s",
                 access_log: str = "stdout"):
        self.workdir = workdir
        self.dir = workdir / "manifests"
        self.staging = workdir / "staging"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.staging.mkdir(parents=True, exist_ok=True)
        for name, docs in (manifests or {}).items():
            (self.dir / name).write_text(to_yaml(docs))
        self.stdout_path = workdir / "atrium.stdout"
        self.stderr_path = workdir / "atrium.stderr"
        extra_args = list(extra_args)
        # HTTPS on an ephemeral port too, unless the test chooses it.
        https = [] if any(a == "--https-port" or a.startswith("--https-port=")
                          for a in extra_args) else ["--https-port", "0"]
        self.args = [ATRIUM_BIN, "--manifests", str(self.dir), "--bind", LOOPBACK,
                     "--http-port", "0", *https, "--admin-port", "0", "--admin-bind", LOOPBACK,
                     "--threads", str(threads), "--access-log", access_log,
                     "--drain-timeout", drain_timeout, *extra_args]
        self._https_port: int | None = None
        self._https_missing = False
        self._stdout = open(self.stdout_path, "wb")
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self._stdout, stderr=self._stderr,
                                     stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        self.exit_code: int | None = None
        self.stop_requested = False
        try:
            self.port, self.admin_port = self._wait_for_ports()
            wait_until(lambda: self.admin_get("/readyz").status == 200, 10,
                       message="/readyz 200")
        except Exception:
            self.kill()
            raise

    # --- process

    def _wait_for_ports(self) -> tuple[int, int]:
        def ports():
            if self.proc.poll() is not None:
                raise AssertionError(f"atrium exited with {self.proc.returncode}:\n{self.stderr()}")
            text = self.stderr()
            proxy = re.search(r"proxy listening on \S+:(\d+)", text)
            admin = re.search(r"admin listening on \S+:(\d+)", text)
            return (int(proxy.group(1)), int(admin.group(1))) if proxy and admin else None

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = ports()
            if found:
                return found
            time.sleep(0.02)
        raise AssertionError(f"atrium did not report its ports:\n{self.stderr()}")

    @property
    def https_port(self) -> int:
        """The HTTPS listener's port, from its "https listening on ADDR:PORT" log line. Waited
        for here, not at start, so the tests that never use TLS do not depend on it."""
        if self._https_port is None:
            # Once the wait has failed, later calls fail at once instead of waiting again.
            deadline = time.monotonic() + (0 if self._https_missing else 5)
            while True:
                found = re.search(r"https listening on \S+:(\d+)", self.stderr())
                if found:
                    self._https_port = int(found.group(1))
                    break
                if self.proc.poll() is not None or time.monotonic() >= deadline:
                    self._https_missing = True
                    raise AssertionError(
                        "atrium did not log 'https listening on ADDR:PORT' (no HTTPS listener "
                        f"with {' '.join(self.args[1:])}):\n{self.stderr()[-5000:]}")
                time.sleep(0.02)
        return self._https_port

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def access_log(self) -> list[dict]:
        """Access log records written so far (the gateway flushes them every ~200 ms)."""
        out = []
        for line in self.stdout_path.read_text(errors="replace").splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
        return out

    def running(self) -> bool:
        return self.proc.poll() is None

    def signal(self, signo: int):
        if signo in (signal.SIGTERM, signal.SIGINT):
            self.stop_requested = True
        self.proc.send_signal(signo)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait for the exit; returns the exit code (kills after `timeout`)."""
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout: float = 15.0) -> int:
        try:
            self.exit_code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"atrium did not exit within {timeout}s:\n{self.stderr()}")
        self._close_files()
        return self.exit_code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.exit_code = self.proc.returncode
        self._close_files()

    def _close_files(self):
        for f in (self._stdout, self._stderr):
            if not f.closed:
                f.close()

    # --- HTTP

    def request(self, path: str = "/", **kwargs) -> Response:
        return http_request(self.port, path=path, **kwargs)

    def get(self, path: str = "/", host: str | None = "localhost", **kwargs) -> Response:
        return http_request(self.port, "GET", path, host=host, **kwargs)

    def connection(self, timeout: float = 10.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(LOOPBACK, self.port, timeout=timeout)

    def https_request(self, path: str = "/", **kwargs) -> Response:
        return https_request(self.https_port, path=path, **kwargs)

    def https_get(self, path: str = "/", host: str | None = "localhost", **kwargs) -> Response:
        return https_request(self.https_port, "GET", path, host=host, **kwargs)

    def https_connection(self, sni: str | None, context: ssl.SSLContext | None = None,
                         timeout: float = 10.0) -> HTTPSConnection:
        return https_connection(self.https_port, sni, context, timeout)

    def admin_get(self, path: str, timeout: float = 5.0) -> Response:
        return http_request(self.admin_port, "GET", path, host=f"{LOOPBACK}:{self.admin_port}",
                            timeout=timeout)

    def config(self) -> dict:
        r = self.admin_get("/config")
        assert r.status == 200, r
        return r.json()

    def generation(self) -> int:
        return int(self.config()["generation"])

    def metrics(self) -> str:
        r = self.admin_get("/metrics")
        assert r.status == 200, r
        return r.body.decode()

    # --- manifests

    def write(self, name: str, docs, atomic: bool = True):
        """Writes manifests file `name` (YAML text or objects) into the watched directory.

        atomic=True writes a staging file and renames it in, as `kubectl`-style tooling and
        ConfigMap volumes do; atomic=False rewrites the file in place, as an editor might.
        """
        text = to_yaml(docs)
        target = self.dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if atomic:
            tmp = self.staging / (name.replace("/", "_") + ".tmp")
            tmp.write_text(text)
            os.replace(tmp, target)
        else:
            with open(target, "w") as f:
                f.write(text)

    def remove(self, name: str):
        (self.dir / name).unlink()

    def apply(self, name: str, docs, timeout: float = 5.0, atomic: bool = True) -> int:
        """Writes a manifests file and waits until a new configuration generation is live."""
        before = self.generation()
        self.write(name, docs, atomic=atomic)
        return self.wait_generation_above(before, timeout)

    def wait_generation_above(self, generation: int, timeout: float = 5.0) -> int:
        return wait_until(lambda: (g := self.generation()) > generation and g, timeout,
                          message=f"config generation > {generation}")


def exit_description(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def stop_and_check(gw: "Atrium"):
    """SIGTERM (if still running), wait, and require a clean exit (0)."""
    if gw.running():
        code = gw.stop()
    else:
        code = gw.wait()
    assert code == 0, f"atrium did not exit cleanly ({exit_description(code)}):\n{gw.stderr()}"


# --------------------------------------------------------------------------------------------
# fixtures


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        # Gateways started by function fixtures hang off the item, module-scoped ones off the
        # module: look along the whole chain.
        gateways = [gw for node in item.listchain() for gw in getattr(node, "_atrium_gateways", [])]
        for i, gw in enumerate(gateways):
            report.sections.append((f"atrium #{i} stderr (process log)", gw.stderr()[-20000:]))


@pytest.fixture
def workdir():
    path = Path(tempfile.mkdtemp(prefix="atrium-it-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def echo():
    started: list[EchoBackend] = []

    def start(name: str, instance: str | None = None) -> EchoBackend:
        b = EchoBackend(name, instance)
        started.append(b)
        return b

    yield start
    for b in started:
        b.stop()


@pytest.fixture
def recorder():
    started: list[RecordingBackend] = []

    def start() -> RecordingBackend:
        r = RecordingBackend()
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


@pytest.fixture
def gateway(request, workdir):
    """Factory for Atrium processes; each must exit 0 on SIGTERM at teardown."""
    started: list[Atrium] = []
    request.node._atrium_gateways = started

    def start(manifests: dict[str, Any] | None = None, **kwargs) -> Atrium:
        d = workdir / f"gw{len(started)}"
        d.mkdir()
        gw = Atrium(d, manifests, **kwargs)
        started.append(gw)
        return gw

    yield start
    problems = []
    for gw in started:
        if gw.exit_code is not None:
            continue  # the test stopped it and checked the exit itself
        if not gw.running():
            code = gw.proc.returncode
            if not gw.stop_requested:
                problems.append(f"atrium exited by itself ({exit_description(code)}):\n"
                                f"{gw.stderr()}")
            elif code != 0:
                problems.append(f"atrium exited with {exit_description(code)} after SIGTERM:\n"
                                f"{gw.stderr()}")
            gw.kill()
            continue
        code = gw.stop()
        if code != 0:
            problems.append(f"atrium exited with {exit_description(code)} after SIGTERM:\n"
                            f"{gw.stderr()}")
    assert not problems, "\n".join(problems)
