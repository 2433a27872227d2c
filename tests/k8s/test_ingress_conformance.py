"""The Ingress conformance scenarios of tests/integration/ingress_scenarios.py (default backend,
host rules, ingress classes, path rules, service ports), applied with the real `kubectl` to the
real kube-apiserver: the answers must be exactly those of the manifests mode
(tests/integration/test_routing.py runs the same cases there).

Backends are ExternalName Services naming `localhost` on the echo's port (targetPort), because
the API server refuses loopback addresses in EndpointSlices. Endpoint scaling through the API
server is therefore checked on the programmed configuration (/config) with documentation-range
addresses; that the proxy balances over exactly the endpoints of that configuration is proven
on loopback by tests/integration/test_endpoints.py.

Run by hand:
    eval "$(bash scripts/k8s-test-env.sh)"
    ATRIUM_BIN=build/atrium ECHO_BACKEND_BIN=build/echo-backend \\
        /usr/bin/python3 -m pytest -q tests/k8s/test_ingress_conformance.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from cluster_helpers import ClusterAtrium, apply  # noqa: E402
from ingress_scenarios import (HOST_CASES, OTHER_CASES, PATH_CASES, SERVICES,  # noqa: E402
                               routing_ingresses)
from integration_helpers import h  # noqa: E402

NAMESPACE = "conformance"


def external(name, ports, namespace=NAMESPACE):
    """ports: [(port name, service port, the echo's port)]."""
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"type": "ExternalName", "externalName": "localhost",
                     "ports": [{"name": n, "port": p, "targetPort": t} for n, p, t in ports]}}


@pytest.fixture(scope="module")
def gw(cluster, tmp_path_factory):
    backends = {name: h.EchoBackend(name) for name in SERVICES}
    try:
        cluster.kubectl("create", "namespace", NAMESPACE)
        docs = [h.ingress_class("other", "example.com/other-controller")]
        for name in SERVICES:
            if name not in ("named", "numbered"):
                docs.append(external(name, [("http", 80, backends[name].port)]))
        docs.append(external("multi", [("http", 80, backends["numbered"].port),
                                       ("admin", 9000, backends["named"].port)]))
        docs += routing_ingresses(h.ingress, h.ingress_path, namespace=NAMESPACE)
        apply(cluster, docs)
        gateway = ClusterAtrium(tmp_path_factory.mktemp("conformance"), cluster.kubeconfig,
                                ["--watch-namespace", NAMESPACE, "--watch-ingress-without-class",
                                 "--leader-elect=false"])
        try:
            yield gateway
        finally:
            assert gateway.stop() == 0, gateway.stderr()
    finally:
        for b in backends.values():
            b.stop()


def served_by(gw, host, path):
    r = gw.get(path, host=host)
    return r.json()["service"] if r.status == 200 else r.status


@pytest.mark.parametrize("host,expected", HOST_CASES)
def test_host_rules(gw, host, expected):
    assert served_by(gw, host, "/anything") == expected


@pytest.mark.parametrize("path,expected", PATH_CASES)
def test_path_rules(gw, path, expected):
    assert served_by(gw, "paths.example.com", path) == expected


@pytest.mark.parametrize("host,path,expected", OTHER_CASES)
def test_default_backend_ports_and_classes(gw, host, path, expected):
    assert served_by(gw, host, path) == expected


def endpoints_of(gw, cluster_name):
    for c in gw.snapshot()["clusters"]:
        if c["name"] == cluster_name:
            return sorted(e["address"] for e in c["endpoints"])
    return None


def endpoint_slice(name, addresses, ready=None):
    ready = ready or {}
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": NAMESPACE,
                         "labels": {"kubernetes.io/service-name": "scaled"}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 8080}],
            "endpoints": [{"addresses": [a], "conditions": {"ready": ready.get(a, True)}}
                          for a in addresses]}


def test_endpoints_follow_scaling(cluster, gw):
    """Scale a Service's endpoints up and down through EndpointSlices, as the EndpointSlice
    controller would: the programmed cluster follows within a second each time."""
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "scaled", "namespace": NAMESPACE},
               "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
    apply(cluster, [service, endpoint_slice("scaled-a", ["192.0.2.1"]),
                    h.ingress("scaled", [{"host": "scaled.example.com", "paths": [
                        h.ingress_path("/", "scaled")]}], namespace=NAMESPACE)])
    name = f"{NAMESPACE}/scaled:80"

    def expect(addresses, what):
        t0 = time.monotonic()
        h.wait_until(lambda: endpoints_of(gw, name) == addresses, 1.0, interval=0.02,
                     message=f"{what}: endpoints {addresses}, got {endpoints_of(gw, name)}")
        print(f"{what}: programmed after {time.monotonic() - t0:.3f}s")

    # The first apply also creates the route; give it the usual propagation time.
    h.wait_until(lambda: endpoints_of(gw, name) == ["192.0.2.1"], 5, message="first endpoint")
    apply(cluster, [endpoint_slice("scaled-a", ["192.0.2.1", "192.0.2.2", "192.0.2.3"],
                                   ready={"192.0.2.3": False})])
    expect(["192.0.2.1", "192.0.2.2"], "scaled up (one not ready yet)")
    apply(cluster, [endpoint_slice("scaled-a", ["192.0.2.1", "192.0.2.2", "192.0.2.3"])])
    expect(["192.0.2.1", "192.0.2.2", "192.0.2.3"], "the third became ready")
    apply(cluster, [endpoint_slice("scaled-b", ["192.0.2.4", "192.0.2.5"])])
    expect(["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"], "a second slice")
    cluster.kubectl("delete", "endpointslice", "scaled-a", "-n", NAMESPACE)
    expect(["192.0.2.4", "192.0.2.5"], "scaled down (slice deleted)")
    apply(cluster, [endpoint_slice("scaled-b", ["192.0.2.5"])])
    expect(["192.0.2.5"], "scaled down (endpoint removed)")
