"""A real kube-apiserver (backed by kine's in-memory etcd shim) on loopback, for Atrium's tests.

Stdlib only. The binaries come from scripts/k8s-test-env.sh, which builds or fetches them into a
cache outside the repository and prints their paths as ATRIUM_* variables; without those
variables they are looked up in that cache's default location.

    env = KubeEnv()
    env.start()                       # kine + kube-apiserver, waits for /readyz
    env.kubectl("apply", "-f", "-", input=yaml_text)
    env.kubectl("get", "pods", kubeconfig=env.user_kubeconfig, check=False)
    conn = env.https_connection()     # http.client over TLS, verified against the serving cert
    env.stop()

Everything listens on 127.0.0.1. Both servers die with the process that started them
(PR_SET_PDEATHSIG), and stop() ends them and removes the temporary folder (kept, with the logs,
when ATRIUM_K8S_KEEP=1 or when startup failed).
"""

from __future__ import annotations

import base64
import ctypes
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WRAPPER_GO_MOD = REPO / "tests" / "k8s" / "kube-apiserver" / "go.mod"

ADMIN_TOKEN_USER = ("admin", "admin-uid", "system:masters")
UNPRIVILEGED_USER = ("alice", "alice-uid", "atrium:test-users")


class KubeEnvUnavailable(RuntimeError):
    """The binaries are not there: run scripts/k8s-test-env.sh first."""


class KubeEnvError(RuntimeError):
    """The servers could not be started."""


def _k8s_version() -> str:
    m = re.search(r"^require k8s\.io/kubernetes (v[0-9.]+)$", WRAPPER_GO_MOD.read_text(), re.M)
    if not m:
        raise KubeEnvUnavailable(f"cannot read the Kubernetes version from {WRAPPER_GO_MOD}")
    return m.group(1)


def default_bin_dir() -> Path:
    """Where scripts/k8s-test-env.sh puts the binaries when ATRIUM_K8S_CACHE is not set."""
    root = os.environ.get("ATRIUM_K8S_CACHE")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "atrium", "k8s")
    return Path(root) / _k8s_version()


def find_binaries() -> dict[str, str]:
    """Paths of kube-apiserver, kine, kubectl and helm; raises KubeEnvUnavailable if missing."""
    bin_dir = Path(os.environ.get("ATRIUM_K8S_BIN") or default_bin_dir())
    found, missing = {}, []
    for name, var in (("kube-apiserver", "ATRIUM_KUBE_APISERVER"), ("kine", "ATRIUM_KINE"),
                      ("kubectl", "ATRIUM_KUBECTL"), ("helm", "ATRIUM_HELM")):
        path = os.environ.get(var) or str(bin_dir / name)
        if os.access(path, os.X_OK):
            found[name] = path
        else:
            missing.append(f"{name} ({path})")
    if missing:
        raise KubeEnvUnavailable(
            "missing " + ", ".join(missing)
            + ': run `eval "$(bash scripts/k8s-test-env.sh)"` first')
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int):
    """preexec_fn: SIGKILL the child when the thread that started it dies."""
    def preexec():
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)
    return preexec


def _tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


class KubeEnv:
    """kine + kube-apiserver on 127.0.0.1 with token authentication and RBAC."""

    def __init__(self, binaries: dict[str, str] | None = None, startup_timeout: float = 60.0):
        self.bin = binaries or find_binaries()
        self.startup_timeout = startup_timeout
        self.dir: Path | None = None
        self.kine_port = 0
        self.port = 0
        self.server = ""
        self.admin_token = "atrium-admin-" + base64.b32encode(os.urandom(10)).decode().lower()
        self.user_token = "atrium-user-" + base64.b32encode(os.urandom(10)).decode().lower()
        self.user_name = UNPRIVILEGED_USER[0]
        self.kubeconfig = ""        # admin (system:masters)
        self.user_kubeconfig = ""   # unprivileged user: no RBAC bindings at all
        self.ca_file = ""           # the self-signed serving certificate chain
        self.startup_seconds = 0.0
        self._procs: dict[str, subprocess.Popen] = {}
        self._logs: dict[str, object] = {}
        self._keep = os.environ.get("ATRIUM_K8S_KEEP") == "1"

    # ----- lifecycle -------------------------------------------------------------------------

    def start(self) -> "KubeEnv":
        t0 = time.monotonic()
        self.dir = Path(tempfile.mkdtemp(prefix="atrium-kube-"))
        try:
            self._write_credentials()
            self._start_kine()
            for attempt in range(3):  # a free port can be taken between probing and binding
                self._start_apiserver()
                try:
                    self._wait_ready()
                    break
                except KubeEnvError:
                    proc = self._procs["kube-apiserver"]
                    if (attempt == 2 or proc.poll() is None
                            or "address already in use" not in self.log("kube-apiserver")):
                        raise
                    self._procs.pop("kube-apiserver")
                    self._logs.pop("kube-apiserver").close()
            self._write_kubeconfigs()
        except BaseException:
            self._keep = True
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        for name in ("kube-apiserver", "kine"):
            proc = self._procs.pop(name, None)
            if proc is None:
                continue
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        for f in self._logs.values():
            f.close()
        self._logs.clear()
        if self.dir and self.dir.exists():
            if self._keep:
                print(f"kube_env: kept {self.dir} (logs: kine.log, kube-apiserver.log)",
                      file=sys.stderr)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)

    def stop_apiserver(self) -> None:
        """Stops kube-apiserver alone (kine and its data stay), to test clients' reconnects."""
        proc = self._procs.pop("kube-apiserver")
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._logs.pop("kube-apiserver").close()

    def restart_apiserver(self) -> None:
        """Starts kube-apiserver again on the same port, with the same serving certificate
        (kept in the cert dir), so existing kubeconfigs stay valid; waits for /readyz."""
        (self.dir / "kube-apiserver.log").rename(
            self.dir / f"kube-apiserver.{time.monotonic_ns()}.log")
        self._spawn("kube-apiserver", self._apiserver_args())
        self._wait_ready()

    def __enter__(self) -> "KubeEnv":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ----- helpers for tests -----------------------------------------------------------------

    def kubectl(self, *args: str, kubeconfig: str | None = None, input: str | None = None,
                check: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess:
        """Runs the real kubectl against this server (admin kubeconfig unless told otherwise)."""
        cmd = [self.bin["kubectl"], "--kubeconfig", kubeconfig or self.kubeconfig, *args]
        env = dict(os.environ, HOME=str(self.dir))  # keeps kubectl's cache out of the real $HOME
        env.pop("KUBECONFIG", None)
        res = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                             env=env)
        if check and res.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {res.returncode}:\n"
                                 f"{res.stderr}{res.stdout}")
        return res

    def kubectl_json(self, *args: str, **kw) -> dict:
        return json.loads(self.kubectl(*args, "-o", "json", **kw).stdout)

    def ssl_context(self) -> ssl.SSLContext:
        """Verifies the server against the self-signed certificate it wrote into --cert-dir."""
        return ssl.create_default_context(cafile=self.ca_file)

    def https_connection(self, timeout: float = 30.0) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                           context=self.ssl_context())

    def request(self, method: str, path: str, body: object = None, token: str | None = None,
                content_type: str = "application/json") -> tuple[int, dict]:
        """One API request; returns (status, decoded JSON body)."""
        conn = self.https_connection()
        try:
            headers = {"Authorization": f"Bearer {token or self.admin_token}",
                       "Accept": "application/json"}
            data = None
            if body is not None:
                data = body if isinstance(body, (bytes, str)) else json.dumps(body)
                headers["Content-Type"] = content_type
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else {})
        finally:
            conn.close()

    def log(self, name: str) -> str:
        return (self.dir / f"{name}.log").read_text(errors="replace")

    # ----- startup ---------------------------------------------------------------------------

    def _write_credentials(self) -> None:
        users = [(self.admin_token, *ADMIN_TOKEN_USER), (self.user_token, *UNPRIVILEGED_USER)]
        (self.dir / "tokens.csv").write_text(
            "".join(f'{tok},{name},{uid},"{groups}"\n' for tok, name, uid, groups in users))
        (self.dir / "certs").mkdir()
        res = subprocess.run(["openssl", "genrsa", "-out", str(self.dir / "sa.key"), "2048"],
                             capture_output=True, text=True)
        if res.returncode != 0:
            raise KubeEnvError(f"openssl genrsa failed: {res.stderr.strip()}")

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.dir / f"{name}.log", "wb")
        self._logs[name] = log
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True,
                                preexec_fn=_die_with_parent(os.getpid()))
        self._procs[name] = proc
        return proc

    def _startup_failure(self, what: str) -> KubeEnvError:
        logs = "\n".join(f"----- {n}.log (last lines) -----\n{_tail(self.dir / f'{n}.log')}"
                         for n in ("kine", "kube-apiserver") if (self.dir / f"{n}.log").exists())
        return KubeEnvError(f"{what}\n{logs}")

    def _start_kine(self) -> None:
        for attempt in range(3):  # a free port can be taken between probing and binding
            self.kine_port = free_port()
            proc = self._spawn("kine", [
                self.bin["kine"], "--endpoint", "memory://",
                "--listen-address", f"127.0.0.1:{self.kine_port}",
                "--metrics-bind-address", "0"])
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                try:
                    socket.create_connection(("127.0.0.1", self.kine_port), timeout=1).close()
                    return
                except OSError:
                    time.sleep(0.05)
            if proc.poll() is None:
                raise self._startup_failure("kine did not accept connections within 15 s")
            self._procs.pop("kine")
            self._logs.pop("kine").close()
            if "address already in use" not in self.log("kine"):
                raise self._startup_failure(f"kine exited with status {proc.returncode}")
        raise self._startup_failure("kine could not bind a free port")

    def _apiserver_args(self) -> list[str]:
        d = self.dir
        return [
            self.bin["kube-apiserver"],
            f"--etcd-servers=http://127.0.0.1:{self.kine_port}",
            f"--cert-dir={d / 'certs'}",
            f"--secure-port={self.port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--authorization-mode=RBAC",
            f"--token-auth-file={d / 'tokens.csv'}",
            f"--service-account-issuer=https://127.0.0.1:{self.port}/",
            f"--service-account-key-file={d / 'sa.key'}",
            f"--service-account-signing-key-file={d / 'sa.key'}",
            "--disable-admission-plugins=ServiceAccount",
            "--allow-privileged=true",
            "--endpoint-reconciler-type=none",
        ]

    def _start_apiserver(self) -> None:
        self.port = free_port()
        self.server = f"https://127.0.0.1:{self.port}"
        self._spawn("kube-apiserver", self._apiserver_args())

    def _wait_ready(self) -> None:
        unverified = ssl.create_default_context()
        unverified.check_hostname = False
        unverified.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + self.startup_timeout
        last = "no answer"
        while True:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise self._startup_failure(f"{name} exited with status {proc.returncode}")
            try:
                conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=2,
                                                   context=unverified)
                conn.request("GET", "/readyz",
                             headers={"Authorization": f"Bearer {self.admin_token}"})
                resp = conn.getresponse()
                body = resp.read().decode(errors="replace")
                conn.close()
                if resp.status == 200:
                    break
                last = f"HTTP {resp.status}: {body.strip()[-300:]}"
            except OSError as e:
                last = str(e)
            if time.monotonic() > deadline:
                raise self._startup_failure(
                    f"kube-apiserver not ready after {self.startup_timeout:.0f} s ({last})")
            time.sleep(0.1)
        crt = self.dir / "certs" / "apiserver.crt"
        if not crt.exists():
            raise self._startup_failure(f"kube-apiserver wrote no serving certificate at {crt}")
        self.ca_file = str(crt)

    def _write_kubeconfigs(self) -> None:
        ca_data = base64.b64encode(Path(self.ca_file).read_bytes()).decode()

        def kubeconfig(user: str, token: str) -> str:
            return (
                "apiVersion: v1\n"
                "kind: Config\n"
                "clusters:\n"
                "- name: atrium-test\n"
                "  cluster:\n"
                f"    server: {self.server}\n"
                f"    certificate-authority-data: {ca_data}\n"
                "users:\n"
                f"- name: {user}\n"
                "  user:\n"
                f"    token: {token}\n"
                "contexts:\n"
                f"- name: {user}@atrium-test\n"
                "  context:\n"
                "    cluster: atrium-test\n"
                f"    user: {user}\n"
                "    namespace: default\n"
                f"current-context: {user}@atrium-test\n")

        admin = self.dir / "admin.kubeconfig"
        admin.write_text(kubeconfig(ADMIN_TOKEN_USER[0], self.admin_token))
        user = self.dir / "user.kubeconfig"
        user.write_text(kubeconfig(self.user_name, self.user_token))
        admin.chmod(0o600)
        user.chmod(0o600)
        self.kubeconfig, self.user_kubeconfig = str(admin), str(user)
