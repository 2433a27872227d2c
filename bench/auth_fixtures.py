#!/usr/bin/env python3
"""Writes the manifests and credentials bench/run.sh --auth needs: an APIRoute with API-key auth
(host apikey.bench), one with RS256 JWT auth against a JWKS Secret (host jwt.bench), their
consumer and Secrets, all in front of the bench's echo Service. Prints two lines for the shell:
the API key and a JWT valid for a day. Keys are generated here for each run.

usage: bench/auth_fixtures.py OUT_YAML
"""

import base64
import json
import secrets
import sys
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(n: int) -> str:
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def main():
    out = sys.argv[1]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = key.public_key().public_numbers()
    jwks = {"keys": [{"kty": "RSA", "kid": "bench", "n": uint(pub.n), "e": uint(pub.e)}]}
    head = b64url(json.dumps({"alg": "RS256", "kid": "bench", "typ": "JWT"}).encode())
    body = b64url(json.dumps({"sub": "bench", "iss": "https://bench.example/",
                              "exp": int(time.time()) + 86400}).encode())
    signature = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    token = f"{head}.{body}.{b64url(signature)}"
    api_key = secrets.token_hex(16)

    def route(name, host, auth):
        return {"apiVersion": "atrium.dev/v1alpha1", "kind": "APIRoute",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"ingressClassName": "atrium", "hostnames": [host],
                         "policy": {"auth": auth},
                         "rules": [{"backends": [{"service": {"name": "echo", "port": 80}}]}]}}
    docs = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bench-key",
                                                            "namespace": "default"},
         "stringData": {"key": api_key}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bench-jwks",
                                                            "namespace": "default"},
         "stringData": {"jwks.json": json.dumps(jwks)}},
        {"apiVersion": "atrium.dev/v1alpha1", "kind": "APIConsumer",
         "metadata": {"name": "bench", "namespace": "default"},
         "spec": {"groups": ["bench"],
                  "credentials": {"apiKeys": [{"secretRef": {"name": "bench-key", "key": "key"}}],
                                  "jwt": {"subject": "bench"}}}},
        route("bench-apikey", "apikey.bench", {"type": "APIKey",
                                               "apiKey": {"header": "X-API-Key"}}),
        route("bench-jwt", "jwt.bench", {"type": "JWT", "jwt": {
            "issuer": "https://bench.example/", "algorithms": ["RS256"],
            "jwksSecretRef": {"name": "bench-jwks", "key": "jwks.json"}}}),
    ]
    with open(out, "w") as f:
        f.write("\n---\n".join(json.dumps(d) for d in docs) + "\n")
    print(api_key)
    print(token)


if __name__ == "__main__":
    main()
