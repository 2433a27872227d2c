"""Ingress routing as a user of the Kubernetes Ingress API sees it (SPEC §3.1).

One gateway serves a set of Ingresses over several echo backends (one Service each); every test
asserts which backend answered, by the echo's reported service name.
"""

import pytest

from conftest import (endpoint_slice, ingress, ingress_class, ingress_path, service,
                      service_docs, stop_and_check)
from ingress_scenarios import (HOST_CASES, OTHER_CASES, PATH_CASES, SERVICES,
                               routing_ingresses)


@pytest.fixture(scope="module")
def setup(request, tmp_path_factory):
    """Backends and a gateway shared by every test in this module (read-only tests)."""
    # Module-scoped: build the processes by hand instead of through the function fixtures.
    from conftest import Atrium, EchoBackend

    # "named" and "numbered" serve the two ports of the "multi" Service: the named port "admin"
    # and the numbered port 80 resolve to different endpoints.
    backends = {name: EchoBackend(name) for name in SERVICES}
    multi_http, multi_admin = backends["numbered"], backends["named"]
    docs = [ingress_class("atrium"), ingress_class("other", "example.com/other-controller")]
    for name in SERVICES:
        if name in ("named", "numbered"):
            continue
        docs += service_docs(name, [backends[name]])
    docs.append(service("multi", [("http", 80), ("admin", 9000)]))
    docs.append(endpoint_slice("multi", "multi-1",
                               {"http": multi_http.port, "admin": multi_admin.port}))

    routes = routing_ingresses(ingress, ingress_path)
    workdir = tmp_path_factory.mktemp("routing")
    try:
        gw = Atrium(workdir, {"services.yaml": docs, "ingresses.yaml": routes})
    except Exception:
        for b in backends.values():
            b.stop()
        raise
    request.node._atrium_gateways = [gw]
    yield gw
    try:
        stop_and_check(gw)
    finally:
        for b in backends.values():
            b.stop()


def served_by(gw, host, path):
    r = gw.get(path, host=host)
    if r.status != 200:
        return r.status
    return r.json()["service"]


@pytest.mark.parametrize("host,expected", HOST_CASES)
def test_host_matching(setup, host, expected):
    assert served_by(setup, host, "/anything") == expected


@pytest.mark.parametrize("path,expected", PATH_CASES)
def test_path_matching(setup, path, expected):
    assert served_by(setup, "paths.example.com", path) == expected


def test_query_string_does_not_affect_path_match_and_is_forwarded(setup):
    r = setup.get("/foo?x=1&y=%20", host="paths.example.com")
    assert r.status == 200
    body = r.json()
    assert body["service"] == "exact-foo"
    assert body["path"] == "/foo?x=1&y=%20"


@pytest.mark.parametrize("host,path,expected", OTHER_CASES)
def test_default_backend_ports_and_classes(setup, host, path, expected):
    assert served_by(setup, host, path) == expected


def test_other_ingress_classes_are_not_in_the_snapshot(setup):
    snapshot = setup.config()["snapshot"]
    hosts = {vh["hostname"] for vh in snapshot["virtual_hosts"]}
    assert "foreign.example.com" not in hosts
    assert "unknown-class.example.com" not in hosts


def test_not_found_is_json_with_request_id(setup):
    r = setup.get("/nothing/here", host="nope.example.com")
    assert r.status == 404
    assert r.header("Content-Type", "").startswith("application/json")
    assert r.header("Server") == "atrium"
    assert r.header("Date")
    request_id = r.header("X-Request-Id")
    assert request_id
    err = r.json()["error"]
    assert err["status"] == 404
    assert err["code"] == "route_not_found"
    assert isinstance(err["message"], str) and err["message"]
    assert err["requestId"] == request_id


def test_not_found_keeps_the_client_request_id(setup):
    r = setup.get("/missing", host="nope.example.com", headers={"X-Request-Id": "client-id-42"})
    assert r.status == 404
    assert r.header("X-Request-Id") == "client-id-42"
    assert r.json()["error"]["requestId"] == "client-id-42"


@pytest.fixture
def annotated(echo, gateway):
    b = echo("annot")
    return gateway({
        "svc.yaml": service_docs("annot", [b]),
        "ing.yaml": [
            ingress("rewrite", [{"host": "rw.example.com", "paths": [
                ingress_path("/api(/|$)(.*)", "annot", path_type="ImplementationSpecific"),
            ]}], annotations={"nginx.ingress.kubernetes.io/rewrite-target": "/$2"}),
            ingress("regex", [{"host": "rx.example.com", "paths": [
                ingress_path("/v[0-9]+/items", "annot", path_type="ImplementationSpecific"),
            ]}], annotations={"atrium.dev/use-regex": "true"}),
            ingress("unknown", [{"host": "unknown-annotation.example.com", "paths": [
                ingress_path("/", "annot")]}], annotations={"atrium.dev/no-such-thing": "1"}),
        ],
    })


def test_ingress_rewrite_target_annotation(annotated):
    gw = annotated
    r = gw.get("/api/users/7?x=1", host="rw.example.com")
    assert r.status == 200, r
    assert r.json()["path"] == "/users/7?x=1"
    assert gw.get("/api", host="rw.example.com").json()["path"] == "/"
    assert gw.get("/other", host="rw.example.com").status == 404


def test_ingress_use_regex_annotation(annotated):
    gw = annotated
    assert gw.get("/v2/items", host="rx.example.com").status == 200
    assert gw.get("/v10/items/5", host="rx.example.com").status == 200
    assert gw.get("/vx/items", host="rx.example.com").status == 404


def test_unknown_annotation_is_reported_and_the_ingress_served(annotated):
    gw = annotated
    assert gw.get("/", host="unknown-annotation.example.com").status == 200
    assert "no-such-thing" in gw.stderr()
