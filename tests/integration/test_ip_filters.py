"""policy.ipAllow / policy.ipDeny (SPEC §3.2) on the client address as --trusted-proxies
determines it: X-Forwarded-For is believed only from trusted peers, read right to left, and
IPv4 and IPv6 CIDRs both apply. Denied clients get 403 `forbidden`."""

from conftest import apiroute, service_docs


def test_ip_filters_with_and_without_trusted_proxies(echo, gateway):
    backend = echo("ip")
    route = apiroute("ip", {"hostnames": ["ip.example.com"], "rules": [
        {"name": "office", "matches": [{"path": {"type": "PathPrefix", "value": "/office"}}],
         "backends": [{"service": {"name": "ip", "port": 80}}],
         "policy": {"ipAllow": ["203.0.113.0/24", "2001:db8::/32"]}},
        {"name": "blocked", "matches": [{"path": {"type": "PathPrefix", "value": "/blocked"}}],
         "backends": [{"service": {"name": "ip", "port": 80}}],
         "policy": {"ipDeny": ["198.51.100.7/32"]}},
    ]})
    manifests = {"svc.yaml": service_docs("ip", [backend]), "route.yaml": route}
    direct = gateway(manifests)
    # Without trusted proxies X-Forwarded-For is not believed: the client is 127.0.0.1.
    assert direct.get("/office", host="ip.example.com",
                      headers={"X-Forwarded-For": "203.0.113.9"}).status == 403
    assert direct.get("/blocked", host="ip.example.com",
                      headers={"X-Forwarded-For": "198.51.100.7"}).status == 200

    proxied = gateway(manifests, extra_args=["--trusted-proxies", "127.0.0.1/32"])
    ok = proxied.get("/office", host="ip.example.com", headers={"X-Forwarded-For": "203.0.113.9"})
    assert ok.status == 200, ok
    assert proxied.get("/office", host="ip.example.com",
                       headers={"X-Forwarded-For": "2001:db8::1"}).status == 200
    r = proxied.get("/office", host="ip.example.com", headers={"X-Forwarded-For": "192.0.2.1"})
    assert r.status == 403 and r.json()["error"]["code"] == "forbidden"
    # The address right of the last trusted hop counts, not a spoofed one further left.
    assert proxied.get("/office", host="ip.example.com",
                       headers={"X-Forwarded-For": "203.0.113.9, 192.0.2.1"}).status == 403
    assert proxied.get("/blocked", host="ip.example.com",
                       headers={"X-Forwarded-For": "198.51.100.7"}).status == 403
    assert proxied.get("/blocked", host="ip.example.com",
                       headers={"X-Forwarded-For": "198.51.100.8"}).status == 200
