"""Helpers for tests that run `atrium --kubeconfig` against the real kube-apiserver of
kube_env.py: the process wrapper, the CRD installer and manifest shortcuts. The fixtures built
on them (cluster, namespace, gateways) live in conftest.py.

Backends listen on 127.0.0.1, which an EndpointSlice may not hold (docs/kubernetes-testing.md),
so Services here are ExternalName Services naming `localhost` with the echo's port.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

sys.path.insert(0, str(Path(__file__).resolve().parent))
from integration_helpers import h  # noqa: E402


class ClusterAtrium:
    """A running `atrium --kubeconfig` (the integration helpers start only manifests mode)."""

    def __init__(self, workdir: Path, kubeconfig: str, extra_args=(), wait_ready: bool = True):
        self.stderr_path = workdir / f"atrium-cluster-{time.monotonic_ns()}.stderr"
        self._stderr = open(self.stderr_path, "wb")
        self.args = [h.ATRIUM_BIN, "--kubeconfig", kubeconfig, "--bind", h.LOOPBACK,
                     "--http-port", "0", "--https-port", "0", "--admin-port", "0",
                     "--admin-bind", h.LOOPBACK,
                     "--threads", "2", "--access-log", "off", "--drain-timeout", "2s",
                     *extra_args]
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=self._stderr,
                                     stdin=subprocess.DEVNULL, preexec_fn=h._die_with_parent)
        try:
            self.port, self.admin_port = self._wait_for_ports()
            if wait_ready:
                h.wait_until(lambda: self.admin_get("/readyz").status == 200, 20,
                             message="/readyz 200")
        except Exception:
            self.kill()
            raise

    def _wait_for_ports(self):
        def ports():
            if self.proc.poll() is not None:
                raise AssertionError(f"atrium exited with {self.proc.returncode}:\n{self.stderr()}")
            text = self.stderr()
            proxy = re.search(r"proxy listening on \S+:(\d+)", text)
            admin = re.search(r"admin listening on \S+:(\d+)", text)
            https = re.search(r"https listening on \S+:(\d+)", text)
            if https:
                self.https_port = int(https.group(1))
            return (int(proxy.group(1)), int(admin.group(1))) if proxy and admin else None
        return h.wait_until(ports, 10, message="atrium's ports in its log")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def get(self, path="/", host="localhost", **kw):
        return h.http_request(self.port, "GET", path, host=host, **kw)

    def admin_get(self, path):
        return h.http_request(self.admin_port, "GET", path, host=f"{h.LOOPBACK}:{self.admin_port}",
                              timeout=5)

    def snapshot(self) -> dict:
        r = self.admin_get("/config")
        assert r.status == 200, r
        return r.json()["snapshot"]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            code = self.proc.wait(15)
        finally:
            self._stderr.close()
        return code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._stderr.close()


def install_crds(kube):
    """Applies crds/ and waits until they are Established and kubectl can use them."""
    kube.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))

    def established():
        # Polled rather than `kubectl wait`, which fails outright when it looks before the
        # server has written any status.conditions.
        for name in ("apiroutes.atrium.dev", "apiconsumers.atrium.dev"):
            crd = kube.kubectl_json("get", "crd", name)
            conditions = {c["type"]: c["status"]
                          for c in crd.get("status", {}).get("conditions") or []}
            if conditions.get("Established") != "True":
                return False
        return True
    h.wait_until(established, 60, interval=0.2, message="CRDs Established")
    # kubectl's discovery must know the new kinds before `kubectl apply` of an APIRoute works.
    h.wait_until(lambda: kube.kubectl("get", "apiroutes", "-A", check=False).returncode == 0,
                 30, interval=0.5, message="apiroutes served")


def external_service(name: str, port: int, namespace: str) -> dict:
    """A Service that resolves to the echo on loopback (see the module docstring)."""
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"type": "ExternalName", "externalName": "localhost",
                     "ports": [{"name": "http", "port": port, "targetPort": port}]}}


def apply(kube, docs):
    kube.kubectl("apply", "-f", "-", input=h.to_yaml(docs))


def served_by(gw, host, path, service, timeout=5.0):
    """Waits until `path` on `host` is answered by the echo named `service`; returns seconds."""
    t0 = time.monotonic()

    def ok():
        r = gw.get(path, host=host)
        return r.status == 200 and r.json().get("service") == service
    h.wait_until(ok, timeout, message=f"{host}{path} served by {service}")
    return time.monotonic() - t0


def status_of(gw, host, path):
    return gw.get(path, host=host).status
