"""Authentication in controller mode: APIConsumers, their Secrets and APIRoutes with
`policy.auth` applied with the real `kubectl` to the real kube-apiserver (through the CRDs'
schemas and CEL rules), changed live and deleted. tests/integration/test_auth.py covers the
methods in depth through the manifests mode, on the same translator and proxy.

Run by hand:
    eval "$(bash scripts/k8s-test-env.sh)"
    ATRIUM_BIN=build/atrium ECHO_BACKEND_BIN=build/echo-backend \\
        /usr/bin/python3 -m pytest -q tests/k8s/test_auth_controller.py
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster_helpers import apply, external_service  # noqa: E402
from integration_helpers import h  # noqa: E402
from test_status import conditions  # noqa: E402

HOST = "auth.k8s.example.com"
KEY_HEADER = "X-API-Key"
CHALLENGE = f'APIKey header="{KEY_HEADER}"'


def opaque_secret(name: str, namespace: str, **values: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}}


def api_consumer(name: str, namespace: str, groups: list, key_secret: str | None = None,
                 basic_secret: str | None = None) -> dict:
    credentials: dict = {}
    if key_secret:
        credentials["apiKeys"] = [{"secretRef": {"name": key_secret, "key": "key"}}]
    if basic_secret:
        credentials["basicAuth"] = {"secretRef": {"name": basic_secret}}
    return {"apiVersion": "atrium.dev/v1alpha1", "kind": "APIConsumer",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"groups": groups, "credentials": credentials}}


def auth_route(name: str, namespace: str, port: int, host: str = HOST,
               route_auth: dict | None = None) -> dict:
    """Route-wide API keys; /login with Basic and /gold for group gold override it per rule."""
    def rule(rule_name, path, auth=None):
        r = {"name": rule_name, "matches": [{"path": {"type": "PathPrefix", "value": path}}],
             "backends": [{"service": {"name": "svc", "port": port}}]}
        if auth:
            r["policy"] = {"auth": auth}
        return r
    key_auth = {"type": "APIKey", "apiKey": {"header": KEY_HEADER}}
    return h.apiroute(name, {
        "ingressClassName": "atrium", "hostnames": [host],
        "policy": {"auth": route_auth or key_auth},
        "rules": [rule("keyed", "/key"),
                  rule("login", "/login", {"type": "Basic", "basic": {"realm": "k8s"}}),
                  rule("gold", "/gold", {**key_auth, "allowGroups": ["gold"]})]},
        namespace=namespace)


def status(gw, path, host=HOST, key=None, auth=None) -> int:
    headers = {}
    if key is not None:
        headers[KEY_HEADER] = key
    if auth is not None:
        headers["Authorization"] = auth
    return gw.get(path, host=host, headers=headers).status


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def consumer_seen(gw, path, host=HOST, **creds) -> dict:
    """The X-Consumer-* headers the echo received for an authenticated request."""
    headers = {KEY_HEADER: creds["key"]} if "key" in creds else {}
    if "auth" in creds:
        headers["Authorization"] = creds["auth"]
    r = gw.get(path, host=host, headers=headers)
    assert r.status == 200, r
    return {k: v for k, v in r.json()["headers"].items() if k.startswith("x-consumer-")}


def wait_status(gw, path, expected, message, timeout=10.0, **kw):
    h.wait_until(lambda: status(gw, path, **kw) == expected, timeout, interval=0.05,
                 message=message)


def test_consumer_applied_rotated_and_deleted(cluster, namespace, echo, gateways):
    a = echo("echo-auth")
    first, second = f"k8s-first-{secrets.token_hex(12)}", f"k8s-second-{secrets.token_hex(12)}"
    password = f"k8s-pw-{secrets.token_hex(8)}"
    apply(cluster, [external_service("svc", a.port, namespace),
                    opaque_secret("acme-key", namespace, key=first),
                    opaque_secret("acme-basic", namespace, username="acme", password=password),
                    auth_route("api", namespace, a.port)])
    gw = gateways(cluster.kubeconfig, "--watch-namespace", namespace, "--leader-elect=false")

    # The route is served, but without a consumer nobody gets in.
    wait_status(gw, "/key", 401, "the auth route served (401 without consumers)", key=first)
    r = gw.get("/key", host=HOST)
    assert r.status == 401 and r.json()["error"]["code"] == "unauthorized", r
    assert r.headers.get_all("WWW-Authenticate") == [CHALLENGE], r

    # The consumer applied: its key and its Basic credentials are accepted.
    t0 = time.monotonic()
    apply(cluster, [api_consumer("acme", namespace, ["ops"], "acme-key", "acme-basic")])
    wait_status(gw, "/key", 200, "consumer's key accepted", key=first)
    print(f"kubectl apply APIConsumer → key accepted: {time.monotonic() - t0:.3f}s")
    assert consumer_seen(gw, "/key", key=first) == {"x-consumer-name": "acme",
                                                    "x-consumer-groups": "ops"}
    assert consumer_seen(gw, "/login", auth=basic("acme", password))["x-consumer-name"] == "acme"
    assert status(gw, "/login", auth=basic("acme", "wrong")) == 401
    assert status(gw, "/key", key="wrong") == 401
    # Authenticated but not in group gold: 403, until the consumer joins it.
    r = gw.get("/gold", host=HOST, headers={KEY_HEADER: first})
    assert r.status == 403 and r.json()["error"]["code"] == "forbidden", r
    apply(cluster, [api_consumer("acme", namespace, ["gold", "ops"], "acme-key", "acme-basic")])
    wait_status(gw, "/gold", 200, "group gold applied", key=first)
    assert consumer_seen(gw, "/gold", key=first)["x-consumer-groups"] == "gold,ops"

    # The Secret changed with kubectl apply: the new key works, the old one is refused.
    t0 = time.monotonic()
    apply(cluster, [opaque_secret("acme-key", namespace, key=second)])
    wait_status(gw, "/key", 200, "rotated key accepted", key=second)
    print(f"kubectl apply Secret → new key accepted: {time.monotonic() - t0:.3f}s")
    r = gw.get("/key", host=HOST, headers={KEY_HEADER: first})
    assert r.status == 401 and r.json()["error"]["code"] == "unauthorized", r

    # The consumer deleted: every credential of it is refused.
    cluster.kubectl("delete", "apiconsumer", "acme", "-n", namespace)
    wait_status(gw, "/key", 401, "deleted consumer refused", key=second)
    assert status(gw, "/login", auth=basic("acme", password)) == 401
    assert status(gw, "/gold", key=second) == 401
    assert gw.proc.poll() is None
    leaked = [v for v in (first, second, password) if v in gw.stderr()]
    assert not leaked, leaked


def test_consumers_of_another_namespace_do_not_authenticate(cluster, namespace, echo, gateways):
    """Routes authenticate against the consumers of their own namespace only."""
    other = f"{namespace}-b"
    cluster.kubectl("create", "namespace", other)
    a = echo("echo-auth-ns")
    key = f"k8s-ns-{secrets.token_hex(12)}"
    apply(cluster, [external_service("svc", a.port, namespace),
                    external_service("svc", a.port, other),
                    auth_route("api", namespace, a.port, host="ns-a.k8s.example.com"),
                    auth_route("api", other, a.port, host="ns-b.k8s.example.com"),
                    opaque_secret("acme-key", other, key=key),
                    api_consumer("acme", other, [], "acme-key")])
    # Both namespaces watched: the whole cluster (the hosts are this test's own).
    gw = gateways(cluster.kubeconfig, "--leader-elect=false")
    wait_status(gw, "/key", 200, "key accepted in its own namespace",
                host="ns-b.k8s.example.com", key=key)
    assert consumer_seen(gw, "/key", host="ns-b.k8s.example.com", key=key) == \
        {"x-consumer-name": "acme"}
    wait_status(gw, "/key", 401, "the other namespace's route served",
                host="ns-a.k8s.example.com", key=key)
    time.sleep(0.3)  # settled: still refused
    assert status(gw, "/key", host="ns-a.k8s.example.com", key=key) == 401


def hs256_token(secret: str, payload: dict) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(payload).encode())
    mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


def test_jwt_route_with_hmac_secret_and_consumer_subject(cluster, namespace, echo, gateways):
    """JWT through the API server: the HMAC secret and the consumer's jwt.subject come from
    objects applied with kubectl (test_jwt.py covers JWT in depth in the manifests mode)."""
    a = echo("echo-auth-jwt")
    hmac_secret = secrets.token_hex(16)
    jwt = {"type": "JWT", "jwt": {"issuer": "https://issuer.example.com/",
                                  "hmacSecretRef": {"name": "hmac", "key": "secret"},
                                  "algorithms": ["HS256"]}}
    acme = api_consumer("acme", namespace, ["gold"])
    acme["spec"]["credentials"] = {"jwt": {"subject": "acme-subject"}}
    apply(cluster, [external_service("svc", a.port, namespace),
                    opaque_secret("hmac", namespace, secret=hmac_secret), acme,
                    auth_route("tokens", namespace, a.port, host="jwt.k8s.example.com",
                               route_auth=jwt)])
    gw = gateways(cluster.kubeconfig, "--watch-namespace", namespace, "--leader-elect=false")

    c = h.wait_until(lambda: conditions(cluster, namespace, "tokens").get("Accepted"), 10,
                     interval=0.1, message="Accepted condition written")
    assert c["status"] == "True", c
    now = int(time.time())
    good = hs256_token(hmac_secret, {"iss": "https://issuer.example.com/", "sub": "acme-subject",
                                     "exp": now + 300})
    forged = hs256_token("not-the-secret", {"iss": "https://issuer.example.com/",
                                            "sub": "acme-subject", "exp": now + 300})

    def answer(token):
        return gw.get("/key", host="jwt.k8s.example.com",
                      headers={"Authorization": f"Bearer {token}"} if token else {})
    r = h.wait_until(lambda: (lambda r: r if r.status == 200 else None)(answer(good)), 10,
                     message="served with a valid token")
    assert r.json()["headers"].get("x-consumer-name") == "acme", r.json()
    for token in (None, forged):
        r = answer(token)
        assert r.status == 401 and r.json()["error"]["code"] == "unauthorized", r
    assert good not in gw.stderr()



# htpasswd lines as `htpasswd -B` writes them (bcrypt, cost 5, precomputed): alice's password
# is "alice-secret"; after the Secret is rotated it holds demo, password "demo-password".
ALICE_LINE = "alice:$2y$05$B.MCsaePBZ9prN1mXBzdLu6rXfaG7jANyqMFgU9i6PUsgBHlugLsC"
DEMO_LINE = "demo:$2y$05$nzMNGYjsMEWmlO7ZrTyteud3f.jdupnODow2C1cc06GOPILnU9bpy"
NGINX = "nginx.ingress.kubernetes.io/"


def test_ingress_nginx_basic_auth_secret_is_fetched_and_followed(cluster, namespace, echo,
                                                                gateways):
    """An ingress-nginx Ingress with auth-type: basic. Controller mode keeps only the Secrets
    that objects refer to, so the annotation's Secret must count as one (else: 503)."""
    a = echo("echo-basic")
    host = "basic.k8s.example.com"
    ingress = h.ingress("private", [{"host": host, "paths": [h.ingress_path("/", "svc", a.port)]}],
                        namespace=namespace,
                        annotations={f"{NGINX}auth-type": "basic",
                                     f"{NGINX}auth-secret": "htpasswd",
                                     f"{NGINX}auth-realm": "Private"})
    apply(cluster, [external_service("svc", a.port, namespace),
                    opaque_secret("htpasswd", namespace, auth=ALICE_LINE + "\n"), ingress])
    gw = gateways(cluster.kubeconfig, "--watch-namespace", namespace, "--leader-elect=false")

    wait_status(gw, "/", 200, "alice accepted", host=host, auth=basic("alice", "alice-secret"))
    r = gw.get("/", host=host)
    assert r.status == 401 and r.header("WWW-Authenticate") == 'Basic realm="Private"', r
    assert status(gw, "/", host=host, auth=basic("alice", "wrong")) == 401

    # The Secret rotated with kubectl apply: the new user gets in, the old one no longer.
    apply(cluster, [opaque_secret("htpasswd", namespace, auth=DEMO_LINE + "\n")])
    wait_status(gw, "/", 200, "rotated htpasswd accepted", host=host,
                auth=basic("demo", "demo-password"))
    assert status(gw, "/", host=host, auth=basic("alice", "alice-secret")) == 401
    assert "alice-secret" not in gw.stderr() and "$2y$" not in gw.stderr()
