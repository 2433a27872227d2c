"""Proves the `k8s` test environment: a real kube-apiserver on kine, driven by the real kubectl.

Run by hand:
    eval "$(bash scripts/k8s-test-env.sh)"
    /usr/bin/python3 -m pytest -q tests/k8s/test_kube_env.py
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import quote

import pytest

NS = "atrium-env-test"

MANIFESTS = textwrap.dedent(f"""\
    apiVersion: v1
    kind: Namespace
    metadata:
      name: {NS}
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: echo
      namespace: {NS}
    spec:
      selector: {{app: echo}}
      ports:
      - name: http
        port: 80
        targetPort: 8080
    ---
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata:
      name: echo-abc12
      namespace: {NS}
      labels:
        kubernetes.io/service-name: echo
    addressType: IPv4
    ports:
    - name: http
      port: 8080
      protocol: TCP
    endpoints:
    - addresses: ["192.0.2.10"]  # TEST-NET-1: stored, never contacted
      conditions: {{ready: true}}
    ---
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: echo
      namespace: {NS}
      annotations:
        atrium.dev/test-generation: "1"
    spec:
      ingressClassName: atrium
      rules:
      - host: echo.example.test
        http:
          paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: echo
                port: {{number: 80}}
    """)


@pytest.fixture(scope="module")
def applied(kube):
    res = kube.kubectl("apply", "-f", "-", input=MANIFESTS)
    return res.stdout


def test_apiserver_ready_and_versioned(kube):
    conn = kube.https_connection()  # verifies TLS against the self-signed serving cert
    conn.request("GET", "/readyz", headers={"Authorization": f"Bearer {kube.admin_token}"})
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (200, b"ok")
    conn.close()
    status, version = kube.request("GET", "/version")
    assert status == 200
    assert version["gitVersion"] == os.environ.get("ATRIUM_K8S_VERSION", version["gitVersion"])
    assert version["gitVersion"].startswith("v1.")
    print(f"kube-apiserver {version['gitVersion']} ready in {kube.startup_seconds:.1f} s")


def test_kubectl_apply_and_get(kube, applied):
    for kind in ("namespace", "service", "endpointslice.discovery.k8s.io", "ingress"):
        assert kind.split(".")[0] in applied
    ns = kube.kubectl_json("get", "namespace", NS)
    assert ns["status"]["phase"] == "Active"

    svc = kube.kubectl_json("get", "-n", NS, "service", "echo")
    assert svc["spec"]["ports"][0]["port"] == 80
    assert svc["spec"]["clusterIP"].startswith("10.0.0.")  # allocated from the service range

    eps = kube.kubectl_json("get", "-n", NS, "endpointslices.discovery.k8s.io", "echo-abc12")
    assert eps["metadata"]["labels"]["kubernetes.io/service-name"] == "echo"
    assert eps["endpoints"][0]["addresses"] == ["192.0.2.10"]
    assert eps["endpoints"][0]["conditions"]["ready"] is True

    ing = kube.kubectl_json("get", "-n", NS, "ingress", "echo")
    assert ing["spec"]["ingressClassName"] == "atrium"
    rule = ing["spec"]["rules"][0]
    assert rule["host"] == "echo.example.test"
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "echo",
                                                              "port": {"number": 80}}


def test_endpointslice_address_rules(kube, applied):
    """What controller-mode tests must live with: the API rejects loopback endpoint IPs, so a
    backend on 127.0.0.1 can only be named by a host name: an FQDN EndpointSlice (deprecated,
    two labels at least) or an ExternalName Service."""
    def apply(obj, check=True):
        return kube.kubectl("apply", "-f", "-", input=json.dumps(obj), check=check)

    def slice_(name, address_type, address):
        return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": name, "namespace": NS,
                             "labels": {"kubernetes.io/service-name": "echo"}},
                "addressType": address_type, "ports": [{"name": "http", "port": 8080}],
                "endpoints": [{"addresses": [address], "conditions": {"ready": True}}]}

    res = apply(slice_("loop", "IPv4", "127.0.0.1"), check=False)
    assert res.returncode != 0
    assert "may not be in the loopback range" in res.stderr, res.stderr
    res = apply(slice_("bare-name", "FQDN", "localhost"), check=False)
    assert res.returncode != 0
    assert "at least two segments" in res.stderr, res.stderr

    res = apply(slice_("local-fqdn", "FQDN", "echo.localhost"))
    assert "FQDN endpoints are deprecated" in res.stderr
    res = apply({"apiVersion": "v1", "kind": "Service",
                 "metadata": {"name": "echo-external", "namespace": NS},
                 "spec": {"type": "ExternalName", "externalName": "localhost",
                          "ports": [{"name": "http", "port": 8080}]}})
    svc = kube.kubectl_json("get", "-n", NS, "service", "echo-external")
    assert svc["spec"]["externalName"] == "localhost"
    kube.kubectl("delete", "-n", NS, "endpointslices.discovery.k8s.io/local-fqdn",
                 "service/echo-external")


def test_list_is_paginated_with_continue_tokens(kube, applied):
    for i in range(3):
        kube.kubectl("create", "configmap", f"page-{i}", "-n", NS, f"--from-literal=i={i}")
    names, token, pages = [], "", 0
    while True:
        path = f"/api/v1/namespaces/{NS}/configmaps?limit=1"
        if token:
            path += "&continue=" + quote(token, safe="")
        status, body = kube.request("GET", path)
        assert status == 200, body
        assert body["kind"] == "ConfigMapList"
        assert body["metadata"]["resourceVersion"]
        names += [item["metadata"]["name"] for item in body["items"]]
        pages += 1
        token = body["metadata"].get("continue", "")
        if pages == 1:
            assert token, "a LIST with limit=1 over 3 objects must return a continue token"
            assert body["metadata"]["remainingItemCount"] >= 2
        if not token:
            break
        assert pages < 10
    assert sorted(n for n in names if n.startswith("page-")) == ["page-0", "page-1", "page-2"]


def test_watch_streams_changes_and_bookmarks(kube, applied):
    base = f"/apis/networking.k8s.io/v1/namespaces/{NS}/ingresses"
    status, listing = kube.request("GET", base)
    assert status == 200
    rv = listing["metadata"]["resourceVersion"]

    timeout_s = 12  # the watch cache sends a bookmark ~2 s before a watch's deadline
    conn = kube.https_connection(timeout=timeout_s + 15)
    conn.request("GET", f"{base}?watch=1&resourceVersion={rv}&allowWatchBookmarks=true"
                        f"&timeoutSeconds={timeout_s}",
                 headers={"Authorization": f"Bearer {kube.admin_token}",
                          "Accept": "application/json"})
    started = time.monotonic()
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Transfer-Encoding") == "chunked"

    # The change arrives through `kubectl apply` (a merge patch), as Atrium's tests will do it.
    changed = MANIFESTS.replace('atrium.dev/test-generation: "1"',
                                'atrium.dev/test-generation: "2"')
    kube.kubectl("apply", "-f", "-", input=changed)

    # Read until the server ends the watch at timeoutSeconds (the terminating zero-length chunk).
    events = []
    while line := resp.readline():  # http.client undoes the chunked encoding
        events.append((time.monotonic() - started, json.loads(line)))
    ended_after = time.monotonic() - started
    conn.close()
    assert timeout_s - 1 <= ended_after <= timeout_s + 5, ended_after

    assert all(e["type"] in ("ADDED", "MODIFIED", "BOOKMARK") for _, e in events), events
    modified = [i for i, (_, e) in enumerate(events)
                if e["type"] == "MODIFIED" and e["object"]["metadata"]["name"] == "echo"]
    assert modified, f"no MODIFIED event for the applied change: {events}"
    change = events[modified[0]][1]["object"]
    assert change["metadata"]["annotations"]["atrium.dev/test-generation"] == "2"
    assert int(change["metadata"]["resourceVersion"]) > int(rv)

    # Bookmarks: only metadata.resourceVersion, never older than what was already delivered.
    bookmarks = [(t, e) for t, e in events[modified[0]:] if e["type"] == "BOOKMARK"]
    assert bookmarks, f"no BOOKMARK within {timeout_s} s: {events}"
    bookmark_after, bookmark = bookmarks[0]
    assert set(bookmark["object"]["metadata"]) == {"resourceVersion"}
    assert int(bookmark["object"]["metadata"]["resourceVersion"]) >= int(
        change["metadata"]["resourceVersion"])
    print(f"watch: {len(events)} events, first bookmark after {bookmark_after:.1f} s")


def test_unprivileged_user_is_forbidden(kube):
    res = kube.kubectl("get", "pods", "-n", "default", kubeconfig=kube.user_kubeconfig,
                       check=False)
    assert res.returncode != 0
    assert "forbidden" in res.stderr.lower(), res.stderr
    assert f'User "{kube.user_name}" cannot list resource "pods"' in res.stderr

    status, body = kube.request("GET", "/api/v1/namespaces/default/pods", token=kube.user_token)
    assert status == 403
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "Forbidden", 403)
    # The same request as admin is allowed: the 403 comes from RBAC, not from a broken token.
    status, _ = kube.request("GET", "/api/v1/namespaces/default/pods")
    assert status == 200


CHILD = textwrap.dedent("""\
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from kube_env import KubeEnv
    env = KubeEnv().start()
    print(" ".join(str(p.pid) for p in env._procs.values()), flush=True)
    time.sleep(600)
    """)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_servers_die_with_the_test_process(kube, tmp_path):
    # `kube` only makes this test skip (or fail) with the others when the binaries are missing.
    # The killed child cannot remove its temporary folder: put it under pytest's tmp_path.
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(Path(__file__).parent)],
                             stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ, TMPDIR=str(tmp_path)))
    try:
        line = child.stdout.readline()
        pids = [int(p) for p in line.split()]
        assert len(pids) == 2, line
        assert all(_alive(p) for p in pids)
    finally:
        child.send_signal(signal.SIGKILL)  # no cleanup code runs: only PDEATHSIG can help
        child.wait()
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids), "kine or kube-apiserver outlived the test process"
