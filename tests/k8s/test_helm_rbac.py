"""The chart's RBAC proved on a real kube-apiserver: the ServiceAccount, ClusterRole(Binding),
Roles(Bindings) and IngressClass rendered by `helm template` are applied, a token is issued for
the ServiceAccount (`kubectl create token`), and with nothing but that token

- `kubectl auth can-i` and real requests show what it may do (read the kinds Atrium reads,
  write the status subresources, its Lease) and what it may not (Pods, Ingress specs, creating
  or deleting anything but a Lease, Secrets outside --watch-namespace);
- the real atrium serves an Ingress, writes its status and holds the leader Lease, without one
  "forbidden" in its log.

Backends listen on 127.0.0.1, so the Services are ExternalName Services naming `localhost`.

Run by hand:
    eval "$(bash scripts/k8s-test-env.sh)"
    ATRIUM_BIN=build/atrium ECHO_BACKEND_BIN=build/echo-backend \\
        /usr/bin/python3 -m pytest -q tests/k8s/test_helm_rbac.py
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from integration_helpers import h  # noqa: E402
from test_helm_chart import install_chart_crds, ensure_namespaces, render  # noqa: E402
from test_helm_chart import helm_bin  # noqa: E402,F401  (the fixture)

RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
              "IngressClass"}
PUBLISH_ADDRESS = "192.0.2.10"
APP_NS = "rbac-app"  # where the cluster-wide release's test Ingress lives
POD_NAME = "atrium-rbac-test-0"
FORBIDDEN = re.compile(r"forbidden|HTTP 403", re.I)
SCOPED_VALUES = {"watchNamespace": "team-scoped", "ingressClass": {"name": "atrium-scoped"}}


@dataclass
class Release:
    """One rendering of the chart, applied; and a kubeconfig holding only its SA's token."""
    name: str
    namespace: str
    ingress_class: str
    service_account: str
    token: str
    kubeconfig: str


def sa_token(kube, namespace: str, sa: str) -> str:
    token = kube.kubectl("create", "token", sa, "-n", namespace, "--duration=2h").stdout.strip()
    assert token.count(".") == 2, token  # a JWT
    return token


def sa_kubeconfig(kube, path: Path, namespace: str, sa: str, token: str) -> str:
    """The API server and its CA from the test environment, and `sa`'s token."""
    ca = base64.b64encode(Path(kube.ca_file).read_bytes()).decode()
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": kube.server,
                                                  "certificate-authority-data": ca}}],
        "users": [{"name": sa, "user": {"token": token}}],
        "contexts": [{"name": sa, "context": {"cluster": "test", "user": sa,
                                              "namespace": namespace}}],
        "current-context": sa}))
    path.chmod(0o600)
    return str(path)


def install_release(kube, helm_bin, tmp: Path, release: str, namespace: str,
                    values: dict) -> Release:
    objs = render(helm_bin, values, release, namespace)
    rbac = [o for o in objs if o["kind"] in RBAC_KINDS]
    assert {o["kind"] for o in rbac} == RBAC_KINDS, [o["kind"] for o in objs]
    kube.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(rbac))
    [sa] = [o["metadata"]["name"] for o in rbac if o["kind"] == "ServiceAccount"]
    [ic] = [o["metadata"]["name"] for o in rbac if o["kind"] == "IngressClass"]
    token = sa_token(kube, namespace, sa)
    return Release(release, namespace, ic, sa, token,
                   sa_kubeconfig(kube, tmp / f"{release}.kubeconfig", namespace, sa, token))


@pytest.fixture(scope="module")
def tmp_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("helm-rbac")


@pytest.fixture(scope="module")
def cluster_wide(kube, helm_bin, tmp_dir) -> Release:
    """The chart with its defaults, release "atrium" in atrium-system."""
    ensure_namespaces(kube, "atrium-system", APP_NS)
    install_chart_crds(kube)
    return install_release(kube, helm_bin, tmp_dir, "atrium", "atrium-system", {})


@pytest.fixture(scope="module")
def scoped(kube, helm_bin, tmp_dir) -> Release:
    """A second release serving only namespace team-scoped, with its own class."""
    ensure_namespaces(kube, "atrium-scoped-system", "team-scoped")
    install_chart_crds(kube)
    return install_release(kube, helm_bin, tmp_dir, "atrium-scoped", "atrium-scoped-system",
                           SCOPED_VALUES)


def can_i(kube, release: Release, verb: str, resource: str, namespace: str | None = None,
          subresource: str | None = None) -> bool:
    """`kubectl auth can-i` as the release's ServiceAccount (its token, nothing else)."""
    args = ["auth", "can-i", verb, resource]
    args += ["-n", namespace] if namespace else ["--all-namespaces"]
    if subresource:
        args += ["--subresource", subresource]
    res = kube.kubectl(*args, kubeconfig=release.kubeconfig, check=False)
    answer = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""
    assert answer in ("yes", "no"), f"can-i {args}: {res.stdout}{res.stderr}"
    return answer == "yes"


def as_sa(kube, release: Release, *args: str, input: str | None = None):
    return kube.kubectl(*args, kubeconfig=release.kubeconfig, check=False, input=input)


READ_KINDS = ["ingresses.networking.k8s.io", "services", "secrets",
              "endpointslices.discovery.k8s.io", "apiroutes.atrium.dev",
              "apiconsumers.atrium.dev"]


# ----- what the token may and may not do -------------------------------------------------------


def test_service_account_reads_what_atrium_reads(kube, cluster_wide):
    missing = [(verb, kind) for kind in READ_KINDS for verb in ("get", "list", "watch")
               if not can_i(kube, cluster_wide, verb, kind)]
    missing += [(verb, "ingressclasses") for verb in ("get", "list", "watch")
                if not can_i(kube, cluster_wide, verb, "ingressclasses.networking.k8s.io")]
    assert not missing, missing
    # And really does: one LIST of every kind, cluster-wide.
    res = as_sa(kube, cluster_wide, "get", ",".join(READ_KINDS + ["ingressclasses"]), "-A")
    assert res.returncode == 0, res.stderr


def test_service_account_writes_status_and_its_lease_only(kube, cluster_wide):
    for kind in ("ingresses.networking.k8s.io", "apiroutes.atrium.dev"):
        for verb in ("update", "patch"):
            assert can_i(kube, cluster_wide, verb, kind, subresource="status"), (verb, kind)
            assert not can_i(kube, cluster_wide, verb, kind), f"may {verb} {kind} spec"
    ns = cluster_wide.namespace
    assert can_i(kube, cluster_wide, "create", "leases.coordination.k8s.io", ns)
    for verb in ("get", "update"):
        assert can_i(kube, cluster_wide, verb, "leases.coordination.k8s.io/atrium-leader", ns)
        assert not can_i(kube, cluster_wide, verb, "leases.coordination.k8s.io/other", ns)
    for verb in ("delete", "patch", "list"):
        assert not can_i(kube, cluster_wide, verb, "leases.coordination.k8s.io/atrium-leader", ns)
    assert not can_i(kube, cluster_wide, "create", "leases.coordination.k8s.io", "default")
    assert not can_i(kube, cluster_wide, "patch", "apiconsumers.atrium.dev",
                     subresource="status")


def test_service_account_cannot_do_what_atrium_does_not_need(kube, cluster_wide):
    allowed = []
    for verb in ("get", "list", "watch"):
        for kind in ("pods", "deployments.apps", "configmaps", "nodes", "namespaces",
                     "leases.coordination.k8s.io", "clusterroles.rbac.authorization.k8s.io"):
            if can_i(kube, cluster_wide, verb, kind):
                allowed.append((verb, kind))
    for verb in ("create", "delete", "deletecollection", "update", "patch"):
        for kind in READ_KINDS + ["pods", "deployments.apps", "configmaps", "events",
                                  "serviceaccounts", "rolebindings.rbac.authorization.k8s.io",
                                  "clusterroles.rbac.authorization.k8s.io"]:
            if can_i(kube, cluster_wide, verb, kind):
                allowed.append((verb, kind))
        for kind in ("ingressclasses.networking.k8s.io", "namespaces",
                     "customresourcedefinitions.apiextensions.k8s.io"):
            if can_i(kube, cluster_wide, verb, kind):
                allowed.append((verb, kind))
    for verb in ("impersonate", "escalate", "bind", "*"):
        if can_i(kube, cluster_wide, verb, "*"):
            allowed.append((verb, "*"))
    assert not allowed, allowed


def test_forbidden_requests_are_refused_by_the_api_server(kube, cluster_wide):
    kube.kubectl("apply", "-f", "-", input=h.to_yaml([h.ingress(
        "spec-guard", [{"host": "guard.example.com", "paths": [
            h.ingress_path("/", "nowhere", 80)]}], namespace=APP_NS)]))
    for args in (["get", "pods", "-A"],
                 ["annotate", "ingress", "spec-guard", "-n", APP_NS, "x=y"],
                 ["delete", "ingress", "spec-guard", "-n", APP_NS],
                 ["create", "configmap", "nope", "-n", cluster_wide.namespace]):
        res = as_sa(kube, cluster_wide, *args)
        assert res.returncode != 0 and "forbidden" in res.stderr, (args, res.stdout, res.stderr)
    # The status subresource is writable: the merge patch Atrium's status writer sends (kubectl
    # would GET the subresource first, which Atrium never does and may not).
    path = f"/apis/networking.k8s.io/v1/namespaces/{APP_NS}/ingresses/spec-guard"
    patch = {"status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.1"}]}}}
    code, body = kube.request("PATCH", path + "/status", patch, token=cluster_wide.token,
                              content_type="application/merge-patch+json")
    assert code == 200, body
    assert body["status"]["loadBalancer"]["ingress"] == [{"ip": "198.51.100.1"}]
    code, body = kube.request("PATCH", path, {"spec": {"ingressClassName": "other"}},
                              token=cluster_wide.token,
                              content_type="application/merge-patch+json")
    assert code == 403, body
    kube.kubectl("delete", "ingress", "spec-guard", "-n", APP_NS)


def test_watch_namespace_confines_reads_to_that_namespace(kube, scoped):
    for kind in READ_KINDS:
        assert can_i(kube, scoped, "list", kind, "team-scoped"), kind
        assert not can_i(kube, scoped, "list", kind), f"{kind} cluster-wide"
        for ns in ("default", APP_NS, scoped.namespace):
            assert not can_i(kube, scoped, "list", kind, ns), (kind, ns)
    assert can_i(kube, scoped, "list", "ingressclasses.networking.k8s.io")
    assert can_i(kube, scoped, "patch", "ingresses.networking.k8s.io", "team-scoped",
                 subresource="status")
    assert not can_i(kube, scoped, "patch", "ingresses.networking.k8s.io", "default",
                     subresource="status")
    # --publish-service's Service in the release namespace (the release's fullname, which is
    # the release name here): that one readable and watchable, not writable; no other Service.
    own = f"services/{scoped.name}"
    for verb in ("get", "list", "watch"):
        assert can_i(kube, scoped, verb, own, scoped.namespace), verb
    assert not can_i(kube, scoped, "get", "services/someone-else", scoped.namespace)
    for verb in ("update", "patch", "delete"):
        assert not can_i(kube, scoped, verb, own, scoped.namespace), verb
    assert not can_i(kube, scoped, "patch", "services", scoped.namespace, subresource="status")
    assert can_i(kube, scoped, "update", "leases.coordination.k8s.io/atrium-scoped-leader",
                 scoped.namespace)
    # Real requests: another namespace's Secrets are refused, its own are listed.
    kube.kubectl("create", "secret", "generic", "elsewhere", "-n", "default",
                 "--from-literal=k=v", check=False)
    res = as_sa(kube, scoped, "get", "secrets", "-n", "default")
    assert res.returncode != 0 and "forbidden" in res.stderr, res.stderr
    res = as_sa(kube, scoped, "get", "secret", "elsewhere", "-n", "default")
    assert res.returncode != 0 and "forbidden" in res.stderr, res.stderr
    res = as_sa(kube, scoped, "get", "secrets", "-A")
    assert res.returncode != 0 and "forbidden" in res.stderr, res.stderr
    assert as_sa(kube, scoped, "get", "secrets", "-n", "team-scoped").returncode == 0


# ----- the real atrium with only that token ----------------------------------------------------


class Gateway:
    """`atrium --kubeconfig <the ServiceAccount's>` on loopback, its log kept in a file."""

    def __init__(self, tmp: Path, kubeconfig: str, args: list[str], ready: bool = True):
        self.log_path = tmp / f"atrium-{time.monotonic_ns()}.log"
        cmd = [h.ATRIUM_BIN, "--kubeconfig", kubeconfig, "--bind", h.LOOPBACK,
               "--admin-bind", h.LOOPBACK, "--http-port", "0", "--https-port", "0", "--admin-port", "0",
               "--threads", "1", "--access-log", "off", "--drain-timeout", "2s",
               "--log-level", "debug", *args]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=log, env=dict(os.environ, POD_NAME=POD_NAME),
                                         preexec_fn=h._die_with_parent)
        try:
            self.port = self._logged_port("proxy")
            self.admin_port = self._logged_port("admin")
            if ready:
                h.wait_until(lambda: self.admin("/readyz").status == 200, 30,
                             message="/readyz 200")
        except BaseException:
            self.close()
            raise

    def _logged_port(self, what: str) -> int:
        def port():
            if self.proc.poll() is not None:
                raise AssertionError(f"atrium exited {self.proc.returncode}:\n{self.log()}")
            m = re.search(what + r" listening on \S+:(\d+)", self.log())
            return int(m.group(1)) if m else None
        return h.wait_until(port, 15, message=f"atrium's {what} port")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def admin(self, path: str):
        return h.http_request(self.admin_port, "GET", path,
                              host=f"{h.LOOPBACK}:{self.admin_port}", timeout=5)

    def forbidden_lines(self) -> list[str]:
        return [ln for ln in self.log().splitlines() if FORBIDDEN.search(ln)]

    def assert_nothing_forbidden(self):
        assert not self.forbidden_lines(), "\n".join(self.forbidden_lines())

    def close(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def external_service(name: str, port: int, namespace: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"type": "ExternalName", "externalName": "localhost",
                     "ports": [{"name": "http", "port": port, "targetPort": port}]}}


def serve_echo(kube, namespace: str, name: str, host: str, ingress_class: str) -> h.EchoBackend:
    echo = h.EchoBackend(name)
    kube.kubectl("apply", "-f", "-", input=h.to_yaml([
        external_service(name, echo.port, namespace),
        h.ingress(name, [{"host": host, "paths": [h.ingress_path("/", name, echo.port)]}],
                  class_name=ingress_class, namespace=namespace)]))
    return echo


def served(gw: Gateway, host: str, name: str, timeout: float = 10.0):
    def ok():
        r = h.http_request(gw.port, "GET", "/", host=host, timeout=5)
        return r.status == 200 and r.json().get("service") == name
    h.wait_until(ok, timeout, interval=0.1, message=f"{host} served by {name}")


def serve_until_teardown(gw: Gateway, echo: h.EchoBackend):
    """A fixture's body: yields the gateway; afterwards it must exit 0, and shutting down (a
    leader releases its Lease) must have needed nothing forbidden either."""
    yield gw
    code = gw.close()
    echo.stop()
    assert code == 0, f"atrium exited {code}:\n{gw.log()[-5000:]}"
    gw.assert_nothing_forbidden()


@pytest.fixture
def gateway(kube, cluster_wide, tmp_dir):
    # Per test, so it is gone before the scoped release's gateway starts: SPEC §3.1 makes every
    # IngressClass whose controller is atrium.dev/ingress-controller "ours", so a cluster-wide
    # Atrium would also serve (and write status for) the scoped release's Ingresses.
    echo = serve_echo(kube, APP_NS, "rbac-echo", "rbac.example.com", cluster_wide.ingress_class)
    gw = Gateway(tmp_dir, cluster_wide.kubeconfig, [
        "--ingress-class", cluster_wide.ingress_class, "--publish-address", PUBLISH_ADDRESS,
        "--leader-elect", "--lease-namespace", cluster_wide.namespace])
    yield from serve_until_teardown(gw, echo)


def test_atrium_serves_with_only_the_chart_rbac(gateway):
    served(gateway, "rbac.example.com", "rbac-echo")
    gateway.assert_nothing_forbidden()


def published_addresses(kube, name: str, namespace: str) -> list[dict]:
    """Waits for the Ingress's status.loadBalancer.ingress and returns it."""
    def published():
        ing = kube.kubectl_json("get", "ingress", name, "-n", namespace)
        return ing.get("status", {}).get("loadBalancer", {}).get("ingress")
    return h.wait_until(published, 20, interval=0.2, message=f"{name}'s status written")


def test_atrium_writes_ingress_status_with_the_chart_rbac(kube, gateway):
    assert published_addresses(kube, "rbac-echo", APP_NS) == [{"ip": PUBLISH_ADDRESS}]
    gateway.assert_nothing_forbidden()


def test_atrium_holds_the_lease_with_the_chart_rbac(kube, gateway, cluster_wide):
    def holder():
        res = kube.kubectl("get", "lease", "atrium-leader", "-n", cluster_wide.namespace,
                           "-o", "json", check=False)
        return res.returncode == 0 and json.loads(res.stdout)["spec"].get("holderIdentity")
    identity = h.wait_until(holder, 20, interval=0.2, message="Lease atrium-leader held")
    assert POD_NAME in identity or socket.gethostname() in identity, identity
    gateway.assert_nothing_forbidden()


LB_ADDRESS = "198.51.100.20"


@pytest.fixture(scope="module")
def scoped_gateway(kube, helm_bin, scoped, tmp_dir):
    """Atrium as the watchNamespace release runs it: the chart's own arguments for the class,
    namespace, Lease and --publish-service (its Service lives in the release namespace, outside
    the watched one), with the chart's Service applied and given a load balancer address."""
    objs = render(helm_bin, SCOPED_VALUES, scoped.name, scoped.namespace)
    [deploy] = [o for o in objs if o["kind"] == "Deployment"]
    chart_args = deploy["spec"]["template"]["spec"]["containers"][0]["args"]
    wanted = ("--ingress-class=", "--watch-namespace=", "--publish-service=", "--leader-elect=",
              "--lease-namespace=")
    args = [a for a in chart_args if a.startswith(wanted)]
    assert len(args) == len(wanted), chart_args
    [svc] = [o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == scoped.name]
    kube.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(svc))
    # What a cloud's load balancer controller would write.
    code, body = kube.request(
        "PATCH", f"/api/v1/namespaces/{scoped.namespace}/services/{scoped.name}/status",
        {"status": {"loadBalancer": {"ingress": [{"ip": LB_ADDRESS}]}}},
        content_type="application/merge-patch+json")
    assert code == 200, body
    echo = serve_echo(kube, "team-scoped", "scoped-echo", "scoped.example.com",
                      scoped.ingress_class)
    gw = Gateway(tmp_dir, scoped.kubeconfig, args)
    yield from serve_until_teardown(gw, echo)


def test_atrium_confined_to_its_namespace(scoped_gateway):
    """Atrium lists the namespaced kinds of team-scoped only (all its Role allows) and its own
    Service in the release namespace, and serves, with no 403 on the way."""
    served(scoped_gateway, "scoped.example.com", "scoped-echo")
    time.sleep(1.0)  # the publish-service watch and a leader's first writes happen meanwhile
    scoped_gateway.assert_nothing_forbidden()


def test_atrium_publishes_its_service_address_when_confined(kube, scoped_gateway):
    assert published_addresses(kube, "scoped-echo", "team-scoped") == [{"ip": LB_ADDRESS}]
    scoped_gateway.assert_nothing_forbidden()


def test_the_log_check_sees_a_forbidden_request(kube, tmp_dir):
    """The control: the same gateway with a token that no RBAC binding names logs 403s
    (so the checks above would catch a missing permission) and never turns ready."""
    gw = Gateway(tmp_dir, kube.user_kubeconfig, ["--ingress-class", "atrium"], ready=False)
    try:
        h.wait_until(gw.forbidden_lines, 15, interval=0.2, message="a 403 in atrium's log")
        assert gw.admin("/readyz").status == 503
    finally:
        gw.close()
