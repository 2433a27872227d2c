"""Status written back to the API server (SPEC §7): APIRoute conditions + observedGeneration,
Ingress status.loadBalancer from --publish-address / --publish-service; only for objects of
our class, only when changed.

Each test has its own namespace, watched with --watch-namespace, and its own leader-election
Lease in that namespace (--lease-namespace), so tests never contend for one Lease.

Run by hand:
    eval "$(bash scripts/k8s-test-env.sh)"
    ATRIUM_BIN=build/atrium ECHO_BACKEND_BIN=build/echo-backend \\
        /usr/bin/python3 -m pytest -q tests/k8s/test_status.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster_helpers import apply, external_service, served_by, status_of  # noqa: E402
from integration_helpers import h  # noqa: E402


def conditions(kube, namespace, name) -> dict:
    route = kube.kubectl_json("get", "apiroute", name, "-n", namespace)
    return {c["type"]: c for c in (route.get("status") or {}).get("conditions") or []}


def route_status(kube, namespace, name) -> dict:
    return kube.kubectl_json("get", "apiroute", name, "-n", namespace)


def lb_ingress(kube, namespace, name) -> list:
    ing = kube.kubectl_json("get", "ingress", name, "-n", namespace)
    return ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []


def start(gateways, kube, namespace, *args):
    return gateways(kube.kubeconfig, "--watch-namespace", namespace,
                    "--lease-namespace", namespace, "--lease-duration", "3s", *args)


def two_rule_route(port, missing_service="missing"):
    return {"ingressClassName": "atrium", "hostnames": ["status.example.com"],
            "rules": [
                {"name": "good", "matches": [{"path": {"type": "PathPrefix", "value": "/good"}}],
                 "backends": [{"service": {"name": "svc", "port": port}}]},
                {"name": "broken", "matches": [{"path": {"type": "PathPrefix", "value": "/broken"}}],
                 "backends": [{"service": {"name": missing_service, "port": port}}]}]}


def test_apiroute_conditions_and_observed_generation(cluster, namespace, echo, gateways):
    a = echo("echo-status")
    apply(cluster, [external_service("svc", a.port, namespace)])
    gw = start(gateways, cluster, namespace)
    apply(cluster, [h.apiroute("api", two_rule_route(a.port), namespace=namespace)])

    # The rule naming a missing Service answers 500; the other one keeps working.
    served_by(gw, "status.example.com", "/good", "echo-status")
    assert status_of(gw, "status.example.com", "/broken") == 500

    def settled():
        c = conditions(cluster, namespace, "api")
        return c if "ResolvedRefs" in c else None
    c = h.wait_until(settled, 10, interval=0.1, message="APIRoute conditions written")
    route = route_status(cluster, namespace, "api")
    generation = route["metadata"]["generation"]
    assert route["status"]["observedGeneration"] == generation
    assert c["Accepted"]["status"] == "True" and c["Accepted"]["reason"] == "Accepted"
    assert c["ResolvedRefs"]["status"] == "False"
    assert c["ResolvedRefs"]["reason"] == "BackendNotFound"
    assert "missing" in c["ResolvedRefs"]["message"], c["ResolvedRefs"]
    assert c["Programmed"]["status"] == "True"
    for cond in c.values():
        assert cond["observedGeneration"] == generation and cond["lastTransitionTime"]
    accepted_since = c["Accepted"]["lastTransitionTime"]

    # Only when changed: unrelated changes re-translate but must not rewrite the status.
    version = route["metadata"]["resourceVersion"]
    for i in range(3):
        apply(cluster, [external_service(f"unrelated-{i}", a.port, namespace)])
        time.sleep(0.3)
    assert route_status(cluster, namespace, "api")["metadata"]["resourceVersion"] == version

    # The missing Service appears: ResolvedRefs turns True and /broken is served.
    apply(cluster, [external_service("missing", a.port, namespace)])
    h.wait_until(lambda: conditions(cluster, namespace, "api")["ResolvedRefs"]["status"] == "True",
                 10, interval=0.1, message="ResolvedRefs True")
    served_by(gw, "status.example.com", "/broken", "echo-status")

    # A spec change bumps the generation; observedGeneration follows, and a condition whose
    # status did not change keeps its lastTransitionTime.
    spec = two_rule_route(a.port, missing_service="missing")
    spec["rules"][0]["matches"][0]["path"]["value"] = "/better"
    apply(cluster, [h.apiroute("api", spec, namespace=namespace)])

    def observed_new_generation():
        r = route_status(cluster, namespace, "api")
        return r if r.get("status", {}).get("observedGeneration") == generation + 1 else None
    r = h.wait_until(observed_new_generation, 10, interval=0.1, message="observedGeneration bumped")
    c = {x["type"]: x for x in r["status"]["conditions"]}
    assert c["Accepted"]["lastTransitionTime"] == accepted_since
    assert all(x["observedGeneration"] == generation + 1 for x in c.values())

    # Printer columns read the conditions.
    table = cluster.kubectl("get", "apiroute", "api", "-n", namespace).stdout
    assert "status.example.com" in table and "True" in table, table


def test_invalid_rule_and_invalid_route(cluster, namespace, echo, gateways):
    """What the schema lets through but Atrium refuses (an RE2-invalid regex) is reported on
    the object: a partly invalid route is Accepted with reason PartiallyInvalid, a wholly
    invalid one is not Accepted and not Programmed."""
    a = echo("echo-invalid")
    apply(cluster, [external_service("svc", a.port, namespace)])
    gw = start(gateways, cluster, namespace)
    bad_match = {"path": {"type": "RegularExpression", "value": "/(unclosed"}}
    partly = {"ingressClassName": "atrium", "hostnames": ["partly.example.com"],
              "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/ok"}}],
                         "backends": [{"service": {"name": "svc", "port": a.port}}]},
                        {"matches": [bad_match],
                         "backends": [{"service": {"name": "svc", "port": a.port}}]}]}
    wholly = {"ingressClassName": "atrium", "hostnames": ["wholly.example.com"],
              "rules": [{"matches": [bad_match],
                         "backends": [{"service": {"name": "svc", "port": a.port}}]}]}
    apply(cluster, [h.apiroute("partly", partly, namespace=namespace),
                    h.apiroute("wholly", wholly, namespace=namespace)])
    served_by(gw, "partly.example.com", "/ok", "echo-invalid")

    c = h.wait_until(lambda: conditions(cluster, namespace, "wholly") or None, 10, interval=0.1,
                     message="status of the invalid route")
    assert c["Accepted"]["status"] == "False" and c["Accepted"]["reason"] == "Invalid"
    assert "spec.rules[0].matches[0].path" in c["Accepted"]["message"], c["Accepted"]
    assert c["Programmed"]["status"] == "False"
    c = h.wait_until(lambda: conditions(cluster, namespace, "partly") or None, 10, interval=0.1,
                     message="status of the partly invalid route")
    assert c["Accepted"]["status"] == "True" and c["Accepted"]["reason"] == "PartiallyInvalid"
    assert "spec.rules[1]" in c["Accepted"]["message"], c["Accepted"]
    assert c["Programmed"]["status"] == "True"


def test_ingress_status_from_publish_address(cluster, namespace, echo, gateways):
    a = echo("echo-pub")
    apply(cluster, [
        external_service("svc", a.port, namespace),
        h.ingress("ours", [{"host": "ours.example.com", "paths": [
            h.ingress_path("/", "svc", a.port)]}], namespace=namespace),
        h.ingress("invalid", [{"host": "invalid.example.com", "paths": [
            h.ingress_path("/", "svc", a.port)]}], class_name="some-invalid-class-name",
            namespace=namespace),
    ])
    gw = start(gateways, cluster, namespace, "--publish-address", "192.0.2.10,lb.example.com")
    h.wait_until(lambda: lb_ingress(cluster, namespace, "ours") ==
                 [{"ip": "192.0.2.10"}, {"hostname": "lb.example.com"}],
                 10, interval=0.1, message="Ingress status has the publish address")
    # The other class's Ingress gets no status and is not served.
    time.sleep(0.5)
    assert lb_ingress(cluster, namespace, "invalid") == []
    assert status_of(gw, "invalid.example.com", "/") == 404
    # An API route gets no address; a status added by hand to our Ingress is corrected.
    cluster.kubectl("patch", "ingress", "ours", "-n", namespace, "--subresource=status",
                    "--type=merge", "-p",
                    json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": "10.9.9.9"}]}}}))
    h.wait_until(lambda: lb_ingress(cluster, namespace, "ours") ==
                 [{"ip": "192.0.2.10"}, {"hostname": "lb.example.com"}],
                 10, interval=0.1, message="hand-edited status corrected")


def test_ingress_status_from_publish_service_in_another_namespace(cluster, namespace, echo,
                                                                   gateways):
    """--publish-service names a LoadBalancer Service outside the watched namespace (where the
    Helm chart puts Atrium's own Service): its load balancer addresses are published, and
    followed when they change."""
    a = echo("echo-pubsvc")
    home = namespace + "-home"
    cluster.kubectl("create", "namespace", home)
    lb = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "atrium", "namespace": home},
          "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80,
                                                      "targetPort": 8080}]}}
    apply(cluster, [lb, external_service("svc", a.port, namespace),
                    h.ingress("web", [{"host": "pub.example.com", "paths": [
                        h.ingress_path("/", "svc", a.port)]}], namespace=namespace)])
    start(gateways, cluster, namespace, "--publish-service", f"{home}/atrium")

    def set_lb(address):
        cluster.kubectl("patch", "service", "atrium", "-n", home, "--subresource=status",
                        "--type=merge", "-p",
                        json.dumps({"status": {"loadBalancer": {"ingress": [address]}}}))
    set_lb({"ip": "198.51.100.7"})
    h.wait_until(lambda: lb_ingress(cluster, namespace, "web") == [{"ip": "198.51.100.7"}],
                 10, interval=0.1, message="Ingress status has the Service's LB address")
    set_lb({"hostname": "elb.example.net"})
    h.wait_until(lambda: lb_ingress(cluster, namespace, "web") == [{"hostname": "elb.example.net"}],
                 10, interval=0.1, message="Ingress status follows the Service")
