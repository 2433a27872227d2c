"""The CRDs of crds/ in a real kube-apiserver: installed with the real `kubectl apply
--server-side`, valid objects accepted (with the API server's defaulting, printer columns and the
status subresource), and every bad object of tests/integration/test_crds.py refused by the API
server itself, each CEL case with its rule's message.

The objects and cases live in tests/integration/test_crds.py (which checks them without an API
server, and proves each CEL case passes the OpenAPI part of the schema, so here only its CEL rule
can refuse it).

Run by hand:
    eval "$(bash scripts/k8s-test-env.sh)"
    /usr/bin/python3 -m pytest -q tests/k8s/test_crds_apiserver.py
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
NS = "atrium-crd-test"
CRD_NAMES = ("apiroutes.atrium.dev", "apiconsumers.atrium.dev")


def _load_cases():
    path = REPO / "tests" / "integration" / "test_crds.py"
    spec = importlib.util.spec_from_file_location("atrium_crd_cases", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


cases = _load_cases()


def in_namespace(obj: dict) -> dict:
    """The object in the test namespace, without server-owned metadata or status."""
    obj = copy.deepcopy(obj)
    obj["metadata"] = {"name": obj["metadata"]["name"], "namespace": NS}
    obj.pop("status", None)
    return obj


def manifest(*objs: dict) -> str:
    return yaml.safe_dump_all([in_namespace(o) for o in objs], sort_keys=False)


def wait_for(what: str, probe, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def installed(kube):
    """The CRDs applied (twice: server-side apply is idempotent) and served; the namespace."""
    first = kube.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
    second = kube.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
    kube.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                 *(f"crd/{name}" for name in CRD_NAMES))
    kube.kubectl("apply", "-f", "-",
                 input=f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NS}\n")
    # Discovery follows Established within moments; kubectl re-reads it on a miss.
    for resource in ("apiroutes", "apiconsumers"):
        wait_for(f"{resource} in discovery",
                 lambda: kube.kubectl("get", resource, "-n", NS, check=False).returncode == 0)
    return first, second


def test_crds_install_without_warnings_and_are_established(kube, installed):
    for res in installed:
        for name in CRD_NAMES:
            assert f"customresourcedefinition.apiextensions.k8s.io/{name} serverside-applied" \
                in res.stdout
        assert "Warning" not in res.stderr, res.stderr
    for name in CRD_NAMES:
        crd = kube.kubectl_json("get", "crd", name)
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions.get("Established") == "True"
        assert conditions.get("NamesAccepted") == "True"
        assert "NonStructuralSchema" not in conditions
        accepted = crd["status"]["acceptedNames"]
        assert accepted["shortNames"] == (["ar"] if name.startswith("apiroutes") else ["ac"])
        assert accepted["categories"] == ["atrium"]


def test_short_names_and_category(kube, installed):
    for resource in ("ar", "ac", "atrium"):
        kube.kubectl("get", resource, "-n", NS)
    out = kube.kubectl("api-resources", "--api-group=atrium.dev", "--namespaced=true").stdout
    assert re.search(r"^apiroutes\s+ar\s+atrium\.dev/v1alpha1\s+true\s+APIRoute$", out, re.M), out
    assert re.search(r"^apiconsumers\s+ac\s+atrium\.dev/v1alpha1\s+true\s+APIConsumer$", out,
                     re.M), out


@pytest.fixture(scope="module")
def applied(kube, installed):
    """Every valid object of the offline tests, applied server-side."""
    examples = cases.example_routes()
    for i, route in enumerate(examples):  # orders-api.yaml and the fixture both say "orders"
        route["metadata"]["name"] = f"example-{i}-{route['metadata']['name']}"
    routes = cases.full_routes() + cases.edge_routes() + examples + [cases.base_route()]
    names = [r["metadata"]["name"] for r in routes]
    assert len(set(names)) == len(names)
    consumers = cases.full_consumers() + [cases.base_consumer()]
    res = kube.kubectl("apply", "--server-side", "-f", "-", input=manifest(*routes, *consumers))
    assert "Warning" not in res.stderr, res.stderr
    return routes, consumers


def test_valid_objects_are_accepted(kube, applied):
    routes, consumers = applied
    stored = kube.kubectl_json("get", "apiroutes", "-n", NS)["items"]
    assert sorted(o["metadata"]["name"] for o in stored) == sorted(
        r["metadata"]["name"] for r in routes)
    stored = kube.kubectl_json("get", "apiconsumers", "-n", NS)["items"]
    assert sorted(o["metadata"]["name"] for o in stored) == sorted(
        c["metadata"]["name"] for c in consumers)


def test_api_server_defaults_as_the_offline_validator_does(kube, applied, installed):
    """The stored spec equals the offline defaulting (and so the translator's defaults)."""
    routes, _ = applied
    crd = cases.load_crd("apiroutes")
    for route in routes:
        stored = kube.kubectl_json("get", "apiroute", route["metadata"]["name"], "-n", NS)
        assert stored["spec"] == cases.defaulted(in_namespace(route), crd)["spec"], \
            route["metadata"]["name"]
    base = kube.kubectl_json("get", "apiroute", "crd-test", "-n", NS)
    assert base["spec"]["rules"][0]["backends"][0]["weight"] == 1


def test_printer_columns(kube, applied):
    out = kube.kubectl("get", "ar", "full", "-n", NS).stdout.splitlines()
    assert re.split(r"\s{2,}", out[0].strip()) == ["NAME", "HOSTS", "ACCEPTED", "PROGRAMMED", "AGE"]
    assert '["api.example.com","*.example.com"]' in out[1]
    out = kube.kubectl("get", "ac", "full", "-n", NS).stdout.splitlines()
    assert re.split(r"\s{2,}", out[0].strip()) == ["NAME", "DISPLAY NAME", "GROUPS", "AGE"]
    assert "ACME Corp" in out[1] and '["gold"]' in out[1]


def test_status_subresource(kube, applied):
    before = kube.kubectl_json("get", "apiroute", "full", "-n", NS)
    status = {"status": {"observedGeneration": before["metadata"]["generation"], "conditions": [
        {"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
         "lastTransitionTime": "2024-03-01T10:00:00Z"},
        {"type": "Programmed", "status": "False", "reason": "Pending", "message": "not yet",
         "lastTransitionTime": "2024-03-01T10:00:00Z"}]}}
    kube.kubectl("patch", "apiroute", "full", "-n", NS, "--subresource=status", "--type=merge",
                 "-p", json.dumps(status))
    after = kube.kubectl_json("get", "apiroute", "full", "-n", NS)
    assert after["status"] == status["status"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    row = kube.kubectl("get", "ar", "full", "-n", NS).stdout.splitlines()[1]
    assert re.search(r"\sTrue\s+False\s", row), row
    # Status is not written through the main resource...
    route = cases.full_routes()[0]
    route = in_namespace(route)
    route["status"] = {"observedGeneration": 99}
    kube.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(route))
    assert kube.kubectl_json("get", "apiroute", "full", "-n", NS)["status"] == status["status"]
    # ...and is validated by the schema on the status subresource.
    bad = {"status": {"conditions": [{"type": "Accepted", "status": "Maybe", "reason": "X",
                                      "message": "",
                                      "lastTransitionTime": "2024-03-01T10:00:00Z"}]}}
    res = kube.kubectl("patch", "apiroute", "full", "-n", NS, "--subresource=status",
                       "--type=merge", "-p", json.dumps(bad), check=False)
    assert res.returncode != 0 and "Unsupported value" in res.stderr, res.stderr


def test_explain_shows_the_schema(kube, installed):
    out = wait_for("the CRD's OpenAPI to be published", lambda: (
        lambda r: r.stdout if r.returncode == 0 and "PathPrefix" in r.stdout else "")(
        kube.kubectl("explain", "apiroute.spec.rules.matches.path", check=False)))
    assert "RegularExpression" in out


def _dry_run(kube, obj: dict):
    return kube.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-",
                        input=manifest(obj), check=False)


def test_bases_pass_a_dry_run(kube, installed):
    for obj in (cases.base_route(), cases.base_consumer()):
        res = _dry_run(kube, obj)
        assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("case", cases.schema_cases(), ids=lambda c: c.id)
def test_schema_violation_is_refused_by_the_api_server(kube, installed, case):
    res = _dry_run(kube, case.make())
    output = res.stderr + res.stdout
    assert res.returncode != 0, f"{case.id}: accepted\n{output}"
    # Field paths are spelled differently by validation ("spec.a[0].b") and by server-side
    # apply's own checks (".spec.a[0].b: field not declared in schema", duplicate entries):
    # the field's name is in either.
    name = re.sub(r"\[\d+\]$", "", case.field).split(".")[-1]
    assert name in output, f"{case.id}: {name} not named in\n{output}"


@pytest.mark.parametrize("case", cases.cel_cases(), ids=lambda c: c.id)
def test_cel_rule_refuses_with_its_message(kube, installed, case):
    res = _dry_run(kube, case.make())
    output = res.stderr + res.stdout
    assert res.returncode != 0, f"{case.id}: accepted\n{output}"
    assert f"{case.field}: Invalid value" in output, output
    assert case.message in output, output
