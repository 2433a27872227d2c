"""A route can name any upstream, but never this Atrium's own admin server or listeners on
loopback: the admin server trusts loopback clients (SPEC §6), so a route to 127.0.0.1:<admin
port> would publish /config (and DELETE /cache) to the world, and a route to the proxy's own
port would loop. Such connections are refused (502) whether the route names the address as a
URL, an ExternalName Service or a DNS name resolving to loopback."""

import pytest

from conftest import LOOPBACK, apiroute


def routes(admin_port: int, proxy_port: int, https_port: int) -> list[dict]:
    def rule(name, path, url):
        return {"name": name, "matches": [{"path": {"type": "PathPrefix", "value": path}}],
                "backends": [{"url": url}]}
    external = {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "admin-by-name", "namespace": "default"},
                "spec": {"type": "ExternalName", "externalName": "localhost",
                         "ports": [{"name": "http", "port": admin_port}]}}
    return [external, apiroute("sneaky", {"hostnames": ["sneaky.example.com"], "rules": [
        rule("admin-ip", "/ip", f"http://{LOOPBACK}:{admin_port}"),
        rule("admin-name", "/name", f"http://localhost:{admin_port}"),
        rule("self", "/self", f"http://{LOOPBACK}:{proxy_port}"),
        rule("self-tls", "/self-tls", f"https://{LOOPBACK}:{https_port}"),
        {"name": "admin-svc", "matches": [{"path": {"type": "PathPrefix", "value": "/svc"}}],
         "backends": [{"service": {"name": "admin-by-name", "port": admin_port}}]},
    ]})]


@pytest.mark.parametrize("path", ["/ip/config", "/name/config", "/svc/config", "/self/x",
                                  "/self-tls/x"])
def test_routes_cannot_reach_the_admin_server_or_the_proxy_itself(gateway, path):
    gw = gateway({})
    gw.apply("routes.yaml", routes(gw.admin_port, gw.port, gw.https_port))
    r = gw.get(path, host="sneaky.example.com")
    assert r.status == 502, r
    assert b"virtual_hosts" not in r.body
    # The admin server itself still answers its real (loopback) clients.
    assert gw.admin_get("/config").status == 200
