"""Controller mode end to end: `atrium --kubeconfig` against a real kube-apiserver, changed
with the real `kubectl`, serving a real echo backend.

Backends listen on 127.0.0.1, which an EndpointSlice may not hold (docs/kubernetes-testing.md),
so Services here are ExternalName Services naming `localhost` with the echo's port.

Every test uses its own namespace (namespaces cannot be deleted on this server) and runs
`atrium --watch-namespace` on it, so the tests do not see each other's objects.

Run by hand:
    eval "$(bash scripts/k8s-test-env.sh)"
    ATRIUM_BIN=build/atrium ECHO_BACKEND_BIN=build/echo-backend \\
        /usr/bin/python3 -m pytest -q tests/k8s/test_controller_mode.py
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster_helpers import (ClusterAtrium, apply, external_service, install_crds,  # noqa: E402,F401
                             served_by, status_of)
from integration_helpers import h  # noqa: E402
from kube_env import KubeEnv, find_binaries  # noqa: E402


def test_ingress_apply_change_delete(cluster, namespace, echo, gateways):
    a, b = echo("echo-a"), echo("echo-b")
    apply(cluster, [external_service("svc-a", a.port, namespace),
                    external_service("svc-b", b.port, namespace)])
    gw = gateways(cluster.kubeconfig, "--watch-namespace", namespace)
    assert status_of(gw, "web.example.com", "/a") == 404

    t0 = time.monotonic()
    apply(cluster, [h.ingress("web", [{"host": "web.example.com", "paths": [
        h.ingress_path("/a", "svc-a", a.port)]}], namespace=namespace)])
    served_by(gw, "web.example.com", "/a", "echo-a")
    print(f"kubectl apply → served: {time.monotonic() - t0:.3f}s (including kubectl)")

    # A changed path: the new one is served within a second of the apply returning.
    apply(cluster, [h.ingress("web", [{"host": "web.example.com", "paths": [
        h.ingress_path("/b", "svc-b", b.port)]}], namespace=namespace)])
    served_by(gw, "web.example.com", "/b", "echo-b", timeout=1.0)
    h.wait_until(lambda: status_of(gw, "web.example.com", "/a") == 404, 1.0,
                 message="old path gone")

    cluster.kubectl("delete", "ingress", "web", "-n", namespace)
    h.wait_until(lambda: status_of(gw, "web.example.com", "/b") == 404, 1.0,
                 message="deleted Ingress no longer served")

    metrics = gw.admin_get("/metrics").body.decode()
    assert re.search(r'atrium_kube_watch_events_total\{kind="Ingress",type="ADDED"\} [1-9]',
                     metrics), metrics
    assert re.search(r'atrium_kube_watch_events_total\{kind="Ingress",type="DELETED"\} [1-9]',
                     metrics), metrics
    m = re.search(r"atrium_kube_event_to_programmed_seconds_count (\d+)", metrics)
    assert m and int(m.group(1)) >= 3, metrics  # the initial sync, the change, the delete


def test_objects_present_before_start_are_served_once_ready(cluster, namespace, echo, gateways):
    a = echo("echo-early")
    apply(cluster, [external_service("svc", a.port, namespace),
                    h.ingress("early", [{"host": "early.example.com", "paths": [
                        h.ingress_path("/", "svc", a.port)]}], namespace=namespace)])
    gw = gateways(cluster.kubeconfig, "--watch-namespace", namespace)
    # /readyz turned 200 only after the first sync was programmed: no 404 window.
    r = gw.get("/", host="early.example.com")
    assert r.status == 200 and r.json()["service"] == "echo-early", r


def test_apiroute_apply_is_served(cluster, namespace, echo, gateways):
    a = echo("echo-route")
    apply(cluster, [external_service("svc", a.port, namespace)])
    gw = gateways(cluster.kubeconfig, "--watch-namespace", namespace)
    apply(cluster, [h.apiroute("api", {
        "ingressClassName": "atrium",
        "hostnames": ["api.example.com"],
        "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/v1"}}],
                   "backends": [{"service": {"name": "svc", "port": a.port}}]}],
    }, namespace=namespace)])
    served_by(gw, "api.example.com", "/v1/items", "echo-route", timeout=3.0)
    cluster.kubectl("delete", "apiroute", "api", "-n", namespace)
    h.wait_until(lambda: status_of(gw, "api.example.com", "/v1/items") == 404, 1.0,
                 message="deleted APIRoute no longer served")


def test_other_class_and_classless_are_ignored(cluster, namespace, echo, gateways):
    a = echo("echo-cls")
    apply(cluster, [h.ingress_class("someone-else", "example.com/other-controller"),
                    external_service("svc", a.port, namespace),
                    h.ingress("theirs", [{"host": "theirs.example.com", "paths": [
                        h.ingress_path("/", "svc", a.port)]}], class_name="someone-else",
                        namespace=namespace),
                    h.ingress("invalid", [{"host": "invalid.example.com", "paths": [
                        h.ingress_path("/", "svc", a.port)]}],
                        class_name="some-invalid-class-name", namespace=namespace),
                    h.ingress("classless", [{"host": "classless.example.com", "paths": [
                        h.ingress_path("/", "svc", a.port)]}], class_name=None,
                        namespace=namespace),
                    h.ingress("ours", [{"host": "ours.example.com", "paths": [
                        h.ingress_path("/", "svc", a.port)]}], namespace=namespace)])
    gw = gateways(cluster.kubeconfig, "--watch-namespace", namespace)
    served_by(gw, "ours.example.com", "/", "echo-cls")
    for host in ("theirs.example.com", "invalid.example.com", "classless.example.com"):
        assert status_of(gw, host, "/") == 404, host
    # Classless objects are served in a cluster only when asked for.
    gw2 = gateways(cluster.kubeconfig, "--watch-namespace", namespace,
                   "--watch-ingress-without-class")
    served_by(gw2, "classless.example.com", "/", "echo-cls")


def secret(name: str, namespace: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace},
            "stringData": {"value": "do-not-keep-me-unless-asked"}}


def kept_secrets(gw) -> int:
    m = re.search(r'atrium_kube_objects\{kind="Secret"\} (\d+)',
                  gw.admin_get("/metrics").body.decode())
    return int(m.group(1)) if m else -1


def test_only_referenced_secrets_are_kept(cluster, namespace, echo, gateways):
    a = echo("echo-sec")
    site = h.ingress("site", [{"host": "sec.example.com", "paths": [
        h.ingress_path("/", "svc", a.port)]}], namespace=namespace)
    site["spec"]["tls"] = [{"hosts": ["sec.example.com"], "secretName": "wanted"}]
    apply(cluster, [external_service("svc", a.port, namespace), secret("wanted", namespace),
                    secret("unrelated", namespace), secret("later", namespace), site])
    gw = gateways(cluster.kubeconfig, "--watch-namespace", namespace)
    assert kept_secrets(gw) == 1
    # A new reference brings its Secret in; dropping the reference lets it go again.
    site["spec"]["tls"].append({"hosts": ["sec2.example.com"], "secretName": "later"})
    apply(cluster, [site])
    h.wait_until(lambda: kept_secrets(gw) == 2, 5, message="newly referenced Secret kept")
    site["spec"]["tls"] = site["spec"]["tls"][1:]
    apply(cluster, [site])
    h.wait_until(lambda: kept_secrets(gw) == 1, 5, message="unreferenced Secret dropped")
    assert "do-not-keep" not in gw.stderr()


def test_same_snapshot_in_both_modes(cluster, namespace, echo, tmp_path, gateways):
    a, b = echo("echo-s1"), echo("echo-s2")
    docs = [
        external_service("svc-a", a.port, namespace),
        external_service("svc-b", b.port, namespace),
        h.ingress("site", [{"host": "site.example.com", "paths": [
            h.ingress_path("/", "svc-a", a.port),
            h.ingress_path("/exact", "svc-b", b.port, path_type="Exact")]},
            {"host": "*.wild.example.com", "paths": [h.ingress_path("/w", "svc-b", b.port)]}],
            default_backend=("svc-a", a.port), namespace=namespace),
        h.apiroute("api", {
            "ingressClassName": "atrium",
            "hostnames": ["api.example.com"],
            "rules": [{"name": "split", "matches": [{"path": {"type": "PathPrefix",
                                                              "value": "/split"}}],
                       "backends": [{"service": {"name": "svc-a", "port": a.port}, "weight": 3},
                                    {"service": {"name": "svc-b", "port": b.port},
                                     "weight": 1}]},
                      {"matches": [{"path": {"type": "Exact", "value": "/hello"}}],
                       "directResponse": {"status": 200, "body": "hi"}}],
        }, namespace=namespace),
    ]
    apply(cluster, docs)
    # The manifests side gets the same objects, plus every IngressClass the cluster holds
    # (cluster-scoped, so other tests' classes are part of what the controller sees too).
    classes = cluster.kubectl_json("get", "ingressclasses")["items"]
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "objects.yaml").write_text(h.to_yaml(docs))
    (manifests / "classes.yaml").write_text(yaml.safe_dump_all(
        [{"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
          "metadata": {"name": c["metadata"]["name"],
                       **({"annotations": c["metadata"]["annotations"]}
                          if c["metadata"].get("annotations") else {})},
          "spec": c["spec"]} for c in classes]))

    from_cluster = gateways(cluster.kubeconfig, "--watch-namespace", namespace)
    served_by(from_cluster, "site.example.com", "/", "echo-s1")
    from_files = subprocess.Popen(
        [h.ATRIUM_BIN, "--manifests", str(manifests), "--watch-namespace", namespace,
         "--watch-ingress-without-class=false", "--bind", h.LOOPBACK, "--http-port", "0", "--https-port", "0",
         "--admin-port", "0", "--admin-bind", h.LOOPBACK, "--threads", "1",
         "--access-log", "off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        preexec_fn=h._die_with_parent, text=True)
    try:
        admin_port = None
        lines = []
        deadline = time.monotonic() + 10
        while admin_port is None and time.monotonic() < deadline:
            line = from_files.stderr.readline()
            lines.append(line)
            m = re.search(r"admin listening on \S+:(\d+)", line)
            if m:
                admin_port = int(m.group(1))
        assert admin_port, "".join(lines)

        def files_snapshot():
            r = h.http_request(admin_port, "GET", "/config", host=f"{h.LOOPBACK}:{admin_port}")
            return r.json()["snapshot"] if r.status == 200 else None
        expected = h.wait_until(files_snapshot, 10, message="manifests-mode /config")
        assert expected["virtual_hosts"] if "virtual_hosts" in expected else expected
        assert from_cluster.snapshot() == expected
    finally:
        from_files.terminate()
        from_files.wait(10)
        from_files.stderr.close()


def test_bad_kubeconfig_is_one_line_error(cluster, tmp_path):
    bad = tmp_path / "bad-kubeconfig"
    bad.write_text("current-context: nowhere\ncontexts: []\n")
    res = subprocess.run([h.ATRIUM_BIN, "--kubeconfig", str(bad), "--admin-port", "0",
                          "--http-port", "0", "--https-port", "0", "--bind", h.LOOPBACK,
                          "--admin-bind", h.LOOPBACK],
                         capture_output=True, text=True, timeout=10)
    assert res.returncode != 0
    assert "context \"nowhere\" not found" in res.stderr, res.stderr
    assert res.stderr.strip().count("\n") == 0, res.stderr


@pytest.fixture
def own_kube(kube):
    """A private API server (kine + kube-apiserver) for tests that stop it or lack the CRDs.
    Depends on `kube` only for its skip/fail-when-missing behaviour."""
    env = KubeEnv(find_binaries()).start()
    try:
        yield env
    finally:
        env.stop()


def test_api_server_restart_keeps_serving_and_resyncs(own_kube, echo, gateways):
    """kube-apiserver stopped mid-watch: the last configuration keeps being served; after the
    restart Atrium reconnects from its resourceVersion and picks up new changes. Also: the
    CRDs are not installed at first, which must neither block readiness nor other kinds."""
    kube = own_kube
    a, b = echo("echo-r1"), echo("echo-r2")
    ns = "restart"
    kube.kubectl("create", "namespace", ns)
    apply(kube, [h.ingress_class("atrium"), external_service("svc-a", a.port, ns),
                 external_service("svc-b", b.port, ns),
                 h.ingress("web", [{"host": "r.example.com", "paths": [
                     h.ingress_path("/a", "svc-a", a.port)]}], namespace=ns)])
    gw = gateways(kube.kubeconfig)
    served_by(gw, "r.example.com", "/a", "echo-r1")
    assert "APIRoute" in gw.stderr() and "not served by the API server" in gw.stderr()

    kube.stop_apiserver()
    time.sleep(2.0)  # long enough for the watches to notice and start backing off
    for _ in range(20):
        r = gw.get("/a", host="r.example.com")
        assert r.status == 200 and r.json()["service"] == "echo-r1", r
    assert gw.admin_get("/readyz").status == 200

    kube.restart_apiserver()
    apply(kube, [h.ingress("web", [{"host": "r.example.com", "paths": [
        h.ingress_path("/a", "svc-a", a.port), h.ingress_path("/b", "svc-b", b.port)]}],
        namespace=ns)])
    served_by(gw, "r.example.com", "/b", "echo-r2", timeout=15)
    metrics = gw.admin_get("/metrics").body.decode()
    assert re.search(r'atrium_kube_watch_restarts_total\{kind="Ingress"\} [1-9]', metrics), metrics
    # The restarted server's watch cache begins at its current revision, older than what the
    # watches resume from: they get 410 Gone and relist rather than crash or go empty.
    assert re.search(r"resourceVersion \d+ is too old \(410 Gone\); listing again", gw.stderr()), \
        gw.stderr()
    for path, service in (("/a", "echo-r1"), ("/b", "echo-r2")):
        served_by(gw, "r.example.com", path, service)

    # The CRDs arrive late: APIRoutes are picked up without a restart of Atrium.
    install_crds(kube)
    apply(kube, [h.apiroute("late", {
        "ingressClassName": "atrium", "hostnames": ["late.example.com"],
        "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                   "backends": [{"service": {"name": "svc-a", "port": a.port}}]}]},
        namespace=ns)])
    served_by(gw, "late.example.com", "/x", "echo-r1", timeout=15)
