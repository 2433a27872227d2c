"""TLS in controller mode: certificates come from Secrets applied with the real `kubectl` to the
real kube-apiserver (only referenced Secrets are read), rotate on `kubectl apply`, and a broken
or missing one shows on the APIRoute's status. tests/integration/test_tls.py covers the rest of
TLS through the manifests mode, on the same translator and proxy.

Run by hand:
    eval "$(bash scripts/k8s-test-env.sh)"
    ATRIUM_BIN=build/atrium ECHO_BACKEND_BIN=build/echo-backend \\
        /usr/bin/python3 -m pytest -q tests/k8s/test_tls_controller.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from cluster_helpers import apply, external_service  # noqa: E402
from integration_helpers import h  # noqa: E402
from tls_certs import CertFactory, cert_info, tls_secret  # noqa: E402


def served_over_tls(gw, host, service):
    r = h.https_request(gw.https_port, "GET", "/", host=host)
    return r if r.status == 200 and r.json().get("service") == service else None


def leaf_cn(response) -> str:
    return cert_info(response.tls["cert"])["subject"]


def test_secret_applied_rotated_and_broken(cluster, namespace, echo, gateways, tmp_path):
    certs = CertFactory(tmp_path / "pki")
    ca = certs.ca("k8s test CA")
    first = certs.leaf(ca, "shop.example.com")
    second = certs.leaf(ca, "shop.example.com", org="rotated")
    a = echo("echo-tls")
    ingress = h.ingress("shop", [{"host": "shop.example.com", "paths": [
        h.ingress_path("/", "svc", a.port)]}], namespace=namespace)
    ingress["spec"]["tls"] = [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}]
    apply(cluster, [external_service("svc", a.port, namespace),
                    tls_secret("shop-tls", first, namespace, encoding="data"), ingress])
    gw = gateways(cluster.kubeconfig, "--watch-namespace", namespace, "--leader-elect=false")

    r = h.wait_until(lambda: served_over_tls(gw, "shop.example.com", "echo-tls"), 10,
                     message="served over TLS with the Secret's certificate")
    assert leaf_cn(r) == first.subject
    assert r.json()["headers"].get("x-forwarded-proto") == "https", r.json()
    # ssl-redirect is on by default for TLS hosts.
    plain = gw.get("/x?y=1", host="shop.example.com")
    assert plain.status == 308 and plain.header("Location") == "https://shop.example.com/x?y=1"

    # An open keep-alive connection survives the rotation; new connections get the new one.
    conn = h.https_connection(gw.https_port, "shop.example.com")
    try:
        assert h.https_request(gw.https_port, host="shop.example.com", conn=conn).status == 200
        apply(cluster, [tls_secret("shop-tls", second, namespace, encoding="data")])
        h.wait_until(lambda: leaf_cn(h.https_request(gw.https_port, host="shop.example.com"))
                     == second.subject, 5, message="rotated certificate served")
        again = h.https_request(gw.https_port, host="shop.example.com", conn=conn)
        assert again.status == 200 and leaf_cn(again) == first.subject
    finally:
        conn.close()

    # A broken update keeps the last good certificate in service and is reported.
    apply(cluster, [tls_secret("shop-tls", namespace=namespace, crt="not a certificate",
                               key="not a key", encoding="data")])
    h.wait_until(lambda: "Secret " + namespace + "/shop-tls: tls.crt" in gw.stderr(), 5,
                 message="broken Secret reported")
    r = h.https_request(gw.https_port, host="shop.example.com")
    assert r.status == 200 and leaf_cn(r) == second.subject
    metrics = gw.admin_get("/metrics").body.decode()
    assert "atrium_tls_invalid_secrets 1" in metrics, metrics


def test_apiroute_with_missing_secret_reports_invalid_certificate_ref(cluster, namespace, echo,
                                                                      gateways):
    a = echo("echo-tls-route")
    apply(cluster, [external_service("svc", a.port, namespace), h.apiroute("api", {
        "ingressClassName": "atrium", "hostnames": ["api.example.com"],
        "tls": {"secretName": "nowhere"},
        "rules": [{"backends": [{"service": {"name": "svc", "port": a.port}}]}]},
        namespace=namespace)])
    gw = gateways(cluster.kubeconfig, "--watch-namespace", namespace, "--leader-elect=false")

    def resolved_refs():
        route = cluster.kubectl_json("get", "apiroute", "api", "-n", namespace)
        for c in (route.get("status") or {}).get("conditions") or []:
            if c["type"] == "ResolvedRefs":
                return c
        return None
    c = h.wait_until(resolved_refs, 10, interval=0.1, message="ResolvedRefs written")
    assert c["status"] == "False" and c["reason"] == "InvalidCertificateRef", c
    assert f"Secret {namespace}/nowhere not found" in c["message"], c
    # The route itself is served, over TLS with the default certificate.
    r = h.https_request(gw.https_port, host="api.example.com")
    assert r.status == 200 and r.json()["service"] == "echo-tls-route"
    assert "CN=atrium-default" in leaf_cn(r)
