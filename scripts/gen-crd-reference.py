#!/usr/bin/env python3
"""Writes the field references docs/reference/apiroute.md and docs/reference/apiconsumer.md
from the CRD schemas in crds/, so that the docs cannot drift from what the API server accepts.

    python3 scripts/gen-crd-reference.py           # rewrite both files
    python3 scripts/gen-crd-reference.py --check   # exit 1 and name the stale files

Every field's type, constraints, schema default and description come from the CRD. The script
adds what the schema cannot say (each kept small and explicit below, and checked against the
schema so that none of it names a field that does not exist):
  NOT_IMPLEMENTED  fields the translator does not implement yet, and what it does with them
  ATRIUM_DEFAULTS  defaults Atrium applies itself (the API server stores nothing for them)
  AS_BUILT         where the behaviour is more precise than the CRD's one-line description
  EXAMPLES         one example value per field, validated against that field's schema
  FULL_EXAMPLES    one whole object per kind, validated against the whole schema; sections
                   quote the part of it they describe
tests/integration/test_docs_reference.py regenerates in memory and fails on any difference.
Needs only the standard library and PyYAML.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
COMMAND = "python3 scripts/gen-crd-reference.py"

KINDS = {
    "APIRoute": {"crd": "crds/apiroutes.atrium.dev.yaml", "doc": "docs/reference/apiroute.md"},
    "APIConsumer": {"crd": "crds/apiconsumers.atrium.dev.yaml",
                    "doc": "docs/reference/apiconsumer.md"},
}

# --------------------------------------------------------------------------------------------
# What the translator does not implement yet (controller/translator/apiroute_translator.cc).

IGNORED = ("accepted and ignored, with a warning from `atrium check` and in the log (the "
           "route's status does not mention it)")
CONSUMER_IGNORED = "accepted and ignored, with a warning from `atrium check` and in the log"
POLICY_PATHS = ("spec.policy", "spec.rules[].policy")

NOT_IMPLEMENTED = {
    "APIRoute": {
    },
    "APIConsumer": {
        "status": "Atrium does not write it yet",
    },
}

# --------------------------------------------------------------------------------------------
# Defaults that Atrium applies when a field is absent (src/config/snapshot.h, the translator).

ATRIUM_DEFAULTS = {
    "APIRoute": {
        "spec.hostnames": "every host",
        "spec.tls.redirectHTTP": "`false`",
        "spec.rules[].aggregate.calls[].method": "`GET`",
        "spec.rules[].aggregate.timeout": "the rule's `policy.timeouts.request` (60s unless set)",
        "spec.rules[].aggregate.onError": "`Partial`",
        "spec.rules[].aggregate.maxCallBodySize": "`1Mi`",
        "spec.tls.hsts.includeSubDomains": "`false`",
        "spec.tls.hsts.preload": "`false`",
        "spec.tls.clientValidation.optional": "`false`",
        "spec.policy.auth.apiKey.header": "`X-API-Key`",
        "spec.policy.auth.basic.realm": "`atrium`",
        "spec.policy.auth.allowConsumers": "every consumer of the namespace (when "
                                           "`allowGroups` is empty too)",
        "spec.policy.auth.stripCredentials": "`false`",
        "spec.policy.rateLimit.limits[].burst": "`0`",
        "spec.policy.rateLimit.limits[].key": "`Consumer`",
        "spec.policy.rateLimit.scope": "`Local`",
        "spec.policy.cache.ttl": "`0`: only what the response says",
        "spec.policy.cache.methods": "`[GET, HEAD]`",
        "spec.policy.cache.vary": "none",
        "spec.policy.cache.respectCacheControl": "`true`",
        "spec.policy.cache.staleIfError": "`0`: never stale",
        "spec.policy.cache.maxObjectSize": "`1Mi`",
        "spec.policy.cache.keyQueryParams": "the whole query",
        "spec.policy.cache.shareAcrossConsumers": "`false`",
        "spec.policy.cache.cacheSetCookie": "`false`",
        "spec.policy.cors.allowOrigins": "none: every cross-origin request is refused",
        "spec.policy.cors.allowMethods": "`[GET, HEAD, POST]`",
        "spec.policy.cors.allowHeaders": "whatever the preflight asks for",
        "spec.policy.cors.exposeHeaders": "none",
        "spec.policy.cors.allowCredentials": "`false`",
        "spec.policy.cors.maxAge": "`0`: no `Access-Control-Max-Age`",
        "spec.policy.timeouts.connect": "`5s`",
        "spec.policy.timeouts.request": "`60s`",
        "spec.policy.timeouts.idle": "`60s`",
        "spec.policy.retries.attempts": "`0`",
        "spec.policy.retries.retryOn": "`[connect-failure, reset]`",
        "spec.policy.retries.perTryTimeout": "the request timeout",
        "spec.policy.retries.backoff": "`25ms`",
        "spec.policy.retries.retryNonIdempotent": "`false`",
        "spec.policy.circuitBreaker.consecutiveFailures": "`5`",
        "spec.policy.circuitBreaker.openFor": "`30s`",
        "spec.policy.circuitBreaker.maxConnections": "unlimited",
        "spec.policy.circuitBreaker.maxPendingRequests": "unlimited",
        "spec.policy.healthCheck.path": "`/healthz`",
        "spec.policy.healthCheck.interval": "`5s`",
        "spec.policy.healthCheck.timeout": "`1s`",
        "spec.policy.healthCheck.unhealthyThreshold": "`3`",
        "spec.policy.healthCheck.healthyThreshold": "`2`",
        "spec.policy.loadBalancer": "`RoundRobin`",
        "spec.policy.hashOn": "`ClientIP`",
        "spec.policy.fallback.contentType": "`text/plain`",
        "spec.policy.fallback.body": "empty",
        "spec.policy.ipAllow": "every client",
        "spec.policy.maxRequestBodySize": "`10Mi`",
        "spec.rules[].name": "the rule's index",
        "spec.rules[].matches": "every request",
        "spec.rules[].backends[].tls.insecureSkipVerify": "`false`",
        "spec.rules[].filters.redirect.scheme": "the request's",
        "spec.rules[].filters.redirect.hostname": "the request's",
        "spec.rules[].filters.redirect.port": "the scheme's, not written",
    },
    "APIConsumer": {
        "spec.plan": "no limit, no quota, no pricing",
        "spec.plan.rateLimit.burst": "`0`",
    },
}

# --------------------------------------------------------------------------------------------
# Behaviour as built, where the CRD's description is shorter or less exact.

AS_BUILT = {
    "APIRoute": {
        "spec.ingressClassName": (
            "Without it, the route is served only when an IngressClass of Atrium's is the "
            "default class or `--watch-ingress-without-class` is on (the default with "
            "`--manifests`). Another class: ignored, no status"),
        "spec.tls.secretName": (
            "A missing or unusable Secret is a warning and sets `ResolvedRefs=False` "
            "(`InvalidCertificateRef`); the hosts keep the last good certificate, else the "
            "default one ([tls.md](../tls.md))"),
        "spec.policy": (
            "A rule's `policy` replaces these fields one by one: within `timeouts`, `cache`, "
            "`cors`, `retries`, `circuitBreaker` and `healthCheck` each field on its own (a list "
            "such as `cache.vary` as a whole); `auth`, `rateLimit` and `fallback` as a whole. An invalid "
            "value of any field is refused: in `spec.policy` the whole APIRoute is not served; "
            "in a rule's `policy` that rule is left out; `atrium check`, the log and the "
            "`Accepted` condition say why. A misspelt field inside one of these objects is "
            "a warning"),
        "spec.policy.auth": (
            "Callers authenticate as an APIConsumer of the route's namespace. Missing or wrong "
            "credentials get 401 `unauthorized`, with one `WWW-Authenticate` line per method "
            "(`Basic realm=\"…\"`, `APIKey header=\"…\"`); a consumer the route does not allow "
            "gets 403 `forbidden`. The upstream gets `X-Consumer-Name` and `X-Consumer-Groups` "
            "(client-sent `X-Consumer-*` headers are always removed)"),
        "spec.policy.auth.type": (
            "`None` alone turns authentication off, e.g. for one rule under a route-wide "
            "`auth`; `None` together with another type is refused. `JWT` is refused: see "
            "`jwt`"),
        "spec.policy.auth.anyOf": (
            "As built, `None` together with another type is refused, because it would let "
            "everyone in while the route looks protected; so authentication cannot be made "
            "optional this way. `JWT` is refused: see `jwt`"),
        "spec.policy.auth.apiKey.header": "When the header is sent, the query is not looked at",
        "spec.policy.auth.apiKey.queryParam": (
            "The parameter is removed from the query sent upstream and from the access log, "
            "whatever `stripCredentials` says"),
        "spec.policy.auth.allowConsumers": (
            "With `allowGroups`: a consumer named here, or in one of those groups, may call"),
        "spec.policy.auth.stripCredentials": (
            "Removes the API-key header and `Authorization` from the request sent upstream"),
        "spec.policy.rateLimit": (
            "Route-wide, one set of buckets shared by all rules of the APIRoute (named "
            "`namespace/name` in `/config`); a rule's own `rateLimit` replaces it as a whole, "
            "with buckets of its own (`namespace/name/rule`, the rule's name or index). Invalid, "
            "it is refused like an invalid `auth`: in `spec.policy` the whole APIRoute is not "
            "served; in a rule's `policy` that rule is left out; `atrium check`, the log and the "
            "`Accepted` condition say why"),
        "spec.policy.rateLimit.limits[].key": (
            "`Consumer` counts per authenticated consumer; on a route without `auth` nobody is "
            "authenticated, so the client IP is counted instead, with a warning from `atrium "
            "check`. `Header:<name>`: the name is case-insensitive"),
        "spec.policy.cache": (
            "Each field missing from a rule's `cache` is the route-wide one, else the default"),
        "spec.policy.cache.methods": (
            "As built, `atrium check` also takes lower-case names (`get`) and upper-cases them"),
        "spec.policy.cache.vary": "Case-insensitive (header names)",
        "spec.policy.cache.keyQueryParams": (
            "Names are case-sensitive. An empty list keeps the query out of the key entirely"),
        "spec.policy.cache.shareAcrossConsumers": (
            "Off, a response to an authenticated request is cached per consumer, so that one "
            "consumer is never served another's response"),
        "spec.policy.cache.cacheSetCookie": (
            "Off, a response with `Set-Cookie` is never stored, so that one caller's session "
            "cookie is never handed to the next"),
        "spec.policy.cors": (
            "The gateway answers preflights (`OPTIONS` with `Origin` and "
            "`Access-Control-Request-Method`) itself: 204 with the `Access-Control-Allow-*` "
            "headers when the origin, the method and every requested header are allowed, else "
            "403 `forbidden`; they never reach the backend. Other requests from an allowed "
            "origin get `Access-Control-Allow-Origin`, `-Allow-Credentials` and "
            "`-Expose-Headers`. Every response of the route gets `Vary: Origin`. Each field "
            "missing from a rule's `cors` is the route-wide one"),
        "spec.policy.cors.allowOrigins": (
            "Scheme and host are case-insensitive; the scheme must be `http` or `https`, and a "
            "default port (`:443`, `:80`) is the same as none. `https://*.example.com` matches "
            "`https://a.example.com` and `https://a.b.example.com`, not `https://example.com`. "
            "`*` is answered with `Access-Control-Allow-Origin: *`; the origin `null` is never "
            "allowed"),
        "spec.policy.cors.allowMethods": (
            "`GET`, `HEAD` and `POST` are always allowed. `*` allows every method (the "
            "requested one is echoed, which browsers also accept with credentials). As built, "
            "`atrium check` also takes lower-case names and upper-cases them"),
        "spec.policy.cors.allowHeaders": (
            "Case-insensitive. Empty or `*`: the headers the preflight asks for are echoed "
            "back"),
        "spec.policy.cors.exposeHeaders": (
            "With `allowCredentials`, browsers take `*` as a header name, not every header; "
            "`atrium check` warns"),
        "spec.policy.cors.allowCredentials": (
            "Together with the origin `*` (also one inherited from `spec.policy`) it is "
            "refused: browsers do not accept credentials for any origin"),
        "spec.policy.retries.retryOn": (
            "Status codes are strings: quote them in YAML (`\"503\"`). An empty list retries "
            "nothing"),
        "spec.policy.retries.perTryTimeout": "As built, must be greater than zero",
        "spec.policy.retries.backoff": "As built, `0s` is allowed: retries follow at once",
        "spec.policy.retries.retryNonIdempotent": (
            "Off, POST and PATCH requests are not retried: the first attempt may have taken "
            "effect upstream"),
        "spec.policy.circuitBreaker.openFor": "As built, must be greater than zero",
        "spec.policy.healthCheck.interval": "As built, must be greater than zero",
        "spec.policy.healthCheck.path": (
            "Percent-escapes are normalised like match paths (`%7E` becomes `~`); `//`, `/./` "
            "and `/../` are refused"),
        "spec.policy.healthCheck.timeout": (
            "As built, must be greater than zero and shorter than `interval` (once a rule's "
            "fields are applied on top of the route-wide ones)"),
        "spec.policy.loadBalancer": "`ConsistentHash` without `hashOn` keys on the client IP",
        "spec.policy.hashOn": (
            "`Header:<name>`: the name is case-insensitive; `Cookie:<name>`: case-sensitive. "
            "Used only where the rule's `loadBalancer` is `ConsistentHash` (a route-wide "
            "`hashOn` serves the rules that turn it on); where no rule uses it, `atrium check` "
            "warns that it is ignored"),
        "spec.policy.fallback": "A rule's `fallback` replaces the route-wide one as a whole",
        "spec.policy.timeouts.connect": "Expiry answers 504 `upstream_timeout`",
        "spec.policy.timeouts.request": (
            "As built: from sending the request upstream until the response header; pauses "
            "inside a body are `idle`. Expiry answers 504"),
        "spec.policy.timeouts.idle": (
            "As built: the longest pause between two reads or writes of the request or "
            "response body. Pooled upstream connections are closed after 30 s idle, whatever "
            "this says"),
        "spec.policy.ipAllow": "Matched against the TCP peer address (`--trusted-proxies` is "
                               "not used yet); others get 403 `forbidden`",
        "spec.policy.ipDeny": "Matched against the TCP peer address",
        "spec.rules[].backends[].service": (
            "A Service or port that does not exist makes these requests answer 500 "
            "`backend_not_resolved` and sets `ResolvedRefs=False` (`BackendNotFound`); a "
            "Service without ready endpoints answers 503"),
        "status": "Atrium writes it only when it changes; `kubectl apply` of the spec never "
                  "touches it",
    },
    "APIConsumer": {
        "spec.displayName": "Shown by `kubectl get apiconsumers` and in `/config`; not used "
                            "otherwise",
        "spec.groups": (
            "Sent upstream as `X-Consumer-Groups` (comma-separated). A group with a comma or a "
            "space is left out, with a warning"),
        "spec.credentials.apiKeys": (
            "Each key is read from its Secret and kept only as a SHA-256 digest (a trailing "
            "newline is dropped). A key that two consumers of one namespace share stays with "
            "the first by name and is reported for the other. A missing Secret or key makes "
            "that credential unusable, with a warning; the consumer keeps its other ones"),
        "spec.credentials.basicAuth.secretRef": (
            "The Secret's keys `username` (without `:`) and `password`. A bcrypt hash "
            "(`$2a$`, `$2b$`, `$2y$`) is checked with bcrypt; any other password is kept as a "
            "SHA-256 digest and compared in constant time. A user name is unique per namespace, "
            "like an API key"),
        "spec.plan": (
            "Not secret: `/config` shows it. A plan with any invalid field leaves the whole "
            "consumer out, with an error from `atrium check` and in the log: its callers get 401 "
            "until it is fixed, rather than calls without the limits they were given"),
        "spec.plan.rateLimit": "Counted per consumer: there is no `key` to choose here",
        "spec.plan.pricing.perThousandRequests": (
            "As built, at most 12 digits before the point and 6 after it; a YAML number "
            "(unquoted `0.40`) is refused, since it cannot hold most prices exactly"),
    },
}

# --------------------------------------------------------------------------------------------
# One example value per field (paths as in the headings; rule policies share spec.policy's).

EXAMPLES = {
    "APIRoute": {
        "apiVersion": "atrium.dev/v1alpha1",
        "kind": "APIRoute",
        "spec.ingressClassName": "atrium",
        "spec.hostnames": ["api.example.com", "*.api.example.com"],
        "spec.tls.secretName": "api-tls",
        "spec.tls.redirectHTTP": True,
        "spec.tls.hsts.maxAge": 31536000,
        "spec.tls.hsts.includeSubDomains": True,
        "spec.tls.hsts.preload": False,
        "spec.tls.clientValidation.caSecretRef.name": "partners-ca",
        "spec.tls.clientValidation.caSecretRef.key": "ca.crt",
        "spec.tls.clientValidation.optional": False,
        "spec.policy.auth.type": "APIKey",
        "spec.policy.auth.anyOf": ["APIKey", "Basic"],
        "spec.policy.auth.apiKey.header": "X-API-Key",
        "spec.policy.auth.apiKey.queryParam": "api_key",
        "spec.policy.auth.jwt.issuer": "https://auth.example.com/",
        "spec.policy.auth.jwt.audiences": ["orders"],
        "spec.policy.auth.jwt.jwksSecretRef.name": "auth-jwks",
        "spec.policy.auth.jwt.jwksSecretRef.key": "jwks.json",
        "spec.policy.auth.jwt.jwksURI": "https://auth.example.com/.well-known/jwks.json",
        "spec.policy.auth.jwt.hmacSecretRef.name": "jwt-hmac",
        "spec.policy.auth.jwt.hmacSecretRef.key": "secret",
        "spec.policy.auth.jwt.algorithms": ["RS256", "ES256"],
        "spec.policy.auth.jwt.clockSkew": "30s",
        "spec.policy.auth.jwt.claimsToHeaders[].claim": "tenant",
        "spec.policy.auth.jwt.claimsToHeaders[].header": "X-Tenant",
        "spec.policy.auth.jwt.consumerClaim": "sub",
        "spec.policy.auth.basic.realm": "orders",
        "spec.policy.auth.allowConsumers": ["acme"],
        "spec.policy.auth.allowGroups": ["gold"],
        "spec.policy.auth.stripCredentials": True,
        "spec.policy.rateLimit.limits[].requests": 100,
        "spec.policy.rateLimit.limits[].period": "1m",
        "spec.policy.rateLimit.limits[].burst": 20,
        "spec.policy.rateLimit.limits[].key": "Consumer",
        "spec.policy.rateLimit.scope": "Global",
        "spec.policy.cache.ttl": "30s",
        "spec.policy.cache.methods": ["GET", "HEAD"],
        "spec.policy.cache.vary": ["Accept-Language"],
        "spec.policy.cache.respectCacheControl": True,
        "spec.policy.cache.staleIfError": "5m",
        "spec.policy.cache.maxObjectSize": "1Mi",
        "spec.policy.cache.keyQueryParams": ["page", "sort"],
        "spec.policy.cache.shareAcrossConsumers": False,
        "spec.policy.cache.cacheSetCookie": False,
        "spec.policy.timeouts.connect": "2s",
        "spec.policy.timeouts.request": "30s",
        "spec.policy.timeouts.idle": "1m",
        "spec.policy.retries.attempts": 2,
        "spec.policy.retries.retryOn": ["connect-failure", "503"],
        "spec.policy.retries.perTryTimeout": "2s",
        "spec.policy.retries.backoff": "100ms",
        "spec.policy.retries.retryNonIdempotent": False,
        "spec.policy.circuitBreaker.consecutiveFailures": 5,
        "spec.policy.circuitBreaker.openFor": "30s",
        "spec.policy.circuitBreaker.maxConnections": 1000,
        "spec.policy.circuitBreaker.maxPendingRequests": 100,
        "spec.policy.healthCheck.path": "/healthz",
        "spec.policy.healthCheck.interval": "10s",
        "spec.policy.healthCheck.timeout": "1s",
        "spec.policy.healthCheck.unhealthyThreshold": 3,
        "spec.policy.healthCheck.healthyThreshold": 2,
        "spec.policy.loadBalancer": "ConsistentHash",
        "spec.policy.hashOn": "Header:X-Tenant",
        "spec.policy.fallback.status": 503,
        "spec.policy.fallback.contentType": "application/json",
        "spec.policy.fallback.body": '{"error":"try again later"}',
        "spec.policy.cors.allowOrigins": ["https://app.example.com"],
        "spec.policy.cors.allowMethods": ["GET", "POST"],
        "spec.policy.cors.allowHeaders": ["Authorization", "Content-Type"],
        "spec.policy.cors.exposeHeaders": ["X-Request-Id"],
        "spec.policy.cors.allowCredentials": True,
        "spec.policy.cors.maxAge": 600,
        "spec.policy.ipAllow": ["10.0.0.0/8", "192.168.1.7"],
        "spec.policy.ipDeny": ["192.0.2.0/24"],
        "spec.policy.maxRequestBodySize": "8Mi",
        "spec.rules[].name": "list-orders",
        "spec.rules[].matches[].path.type": "Exact",
        "spec.rules[].matches[].path.value": "/v1/orders",
        "spec.rules[].matches[].method": "GET",
        "spec.rules[].matches[].headers[].name": "X-Api-Version",
        "spec.rules[].matches[].headers[].type": "RegularExpression",
        "spec.rules[].matches[].headers[].value": "2(\\.[0-9]+)?",
        "spec.rules[].matches[].queryParams[].name": "beta",
        "spec.rules[].matches[].queryParams[].type": "Exact",
        "spec.rules[].matches[].queryParams[].value": "1",
        "spec.rules[].backends[].service.name": "orders-v2",
        "spec.rules[].backends[].service.port": "http",
        "spec.rules[].backends[].url": "https://payments.example.net",
        "spec.rules[].backends[].weight": 90,
        "spec.rules[].backends[].tls.caSecretRef.name": "payments-ca",
        "spec.rules[].backends[].tls.caSecretRef.key": "ca.crt",
        "spec.rules[].backends[].tls.serverName": "payments.internal",
        "spec.rules[].backends[].tls.insecureSkipVerify": False,
        "spec.rules[].filters.rewrite.pathPrefix": "/orders",
        "spec.rules[].filters.rewrite.path": "/orders/list",
        "spec.rules[].filters.rewrite.hostname": "orders.internal",
        "spec.rules[].filters.redirect.scheme": "https",
        "spec.rules[].filters.redirect.hostname": "api.example.com",
        "spec.rules[].filters.redirect.port": 8443,
        "spec.rules[].filters.redirect.path": "/v1/orders",
        "spec.rules[].filters.redirect.pathPrefix": "/v1",
        "spec.rules[].filters.redirect.statusCode": 301,
        "spec.rules[].filters.requestHeaders.set": {"X-Gateway": "atrium"},
        "spec.rules[].filters.requestHeaders.add": {"X-Tags": "beta"},
        "spec.rules[].filters.requestHeaders.remove": ["Cookie"],
        "spec.rules[].filters.responseHeaders.set": {"Cache-Control": "no-store"},
        "spec.rules[].filters.responseHeaders.add": {"Vary": "Accept"},
        "spec.rules[].filters.responseHeaders.remove": ["Server-Timing"],
        "spec.rules[].directResponse.status": 200,
        "spec.rules[].directResponse.contentType": "application/json",
        "spec.rules[].directResponse.body": '{"ok":true}',
        "spec.rules[].aggregate.calls[].name": "user",
        "spec.rules[].aggregate.calls[].service.name": "users",
        "spec.rules[].aggregate.calls[].service.port": 80,
        "spec.rules[].aggregate.calls[].url": "http://10.0.0.7:9000",
        "spec.rules[].aggregate.calls[].path": "/users/{query.id}",
        "spec.rules[].aggregate.calls[].method": "GET",
        "spec.rules[].aggregate.timeout": "2s",
        "spec.rules[].aggregate.onError": "Partial",
        "spec.rules[].aggregate.maxCallBodySize": "256Ki",
        "status.observedGeneration": 3,
        "status.conditions[].type": "Programmed",
        "status.conditions[].status": "True",
        "status.conditions[].observedGeneration": 3,
        "status.conditions[].lastTransitionTime": "2026-01-31T12:00:00Z",
        "status.conditions[].reason": "Programmed",
        "status.conditions[].message": "the route is in the configuration being served",
    },
    "APIConsumer": {
        "apiVersion": "atrium.dev/v1alpha1",
        "kind": "APIConsumer",
        "spec.displayName": "ACME Corp",
        "spec.groups": ["gold"],
        "spec.credentials.apiKeys[].secretRef.name": "acme-key",
        "spec.credentials.apiKeys[].secretRef.key": "key",
        "spec.credentials.basicAuth.secretRef.name": "acme-basic",
        "spec.credentials.jwt.subject": "acme",
        "spec.plan.rateLimit.requests": 50,
        "spec.plan.rateLimit.period": "1s",
        "spec.plan.rateLimit.burst": 100,
        "spec.plan.quota.requests": 1000000,
        "spec.plan.quota.period": "month",
        "spec.plan.pricing.currency": "USD",
        "spec.plan.pricing.perThousandRequests": "0.40",
        "status.observedGeneration": 1,
        "status.conditions[].type": "Accepted",
        "status.conditions[].status": "True",
        "status.conditions[].observedGeneration": 1,
        "status.conditions[].lastTransitionTime": "2026-01-31T12:00:00Z",
        "status.conditions[].reason": "Accepted",
        "status.conditions[].message": "the consumer is valid",
    },
}

# One whole object per kind. The APIRoute uses only what Atrium implements (test_docs_reference
# runs `atrium check` on it); tests/k8s/test_examples.py has the API server accept both.
FULL_EXAMPLES = {
    "APIRoute": """\
apiVersion: atrium.dev/v1alpha1
kind: APIRoute
metadata:
  name: orders
  namespace: shop
spec:
  ingressClassName: atrium
  hostnames: ["api.example.com", "*.api.example.com"]
  tls:
    secretName: api-tls
    redirectHTTP: true
    hsts: {maxAge: 31536000, includeSubDomains: true}
    clientValidation:
      caSecretRef: {name: partners-ca, key: ca.crt}
      optional: true
  policy:                                   # route-wide; a rule may override any field
    auth:                                   # callers are APIConsumers of namespace shop
      anyOf: [APIKey, Basic]
      apiKey: {header: X-API-Key}
      basic: {realm: orders}
      allowGroups: [gold]
      stripCredentials: true
    rateLimit:                              # buckets shared by all rules of this APIRoute
      limits: [{requests: 100, period: 1m, burst: 20, key: Consumer}]
      scope: Global
    cache: {ttl: 30s, vary: [Accept-Language], keyQueryParams: [page, sort]}
    timeouts: {connect: 2s, request: 30s, idle: 1m}
    retries: {attempts: 2, retryOn: [connect-failure, "503"], perTryTimeout: 2s}
    circuitBreaker: {consecutiveFailures: 5, openFor: 30s, maxPendingRequests: 100}
    healthCheck: {path: /healthz, interval: 10s, timeout: 1s}
    loadBalancer: ConsistentHash
    hashOn: "Header:X-Tenant"
    fallback: {status: 503, contentType: application/json, body: '{"error":"try again later"}'}
    maxRequestBodySize: 8Mi
    ipDeny: ["192.0.2.0/24"]
  rules:
  - name: list-orders
    matches:                                # OR of matches; inside one, AND
    - path: {type: PathPrefix, value: /v1/orders}
      method: GET
      headers: [{name: X-Api-Version, type: Exact, value: "2"}]
      queryParams: [{name: beta, type: Exact, value: "1"}]
    backends:
    - {service: {name: orders-v2, port: 8080}, weight: 90}
    - {service: {name: orders-v3, port: http}, weight: 10}
    filters:
      rewrite: {pathPrefix: /orders, hostname: orders.internal}
      requestHeaders: {set: {X-Gateway: atrium}, add: {X-Tags: beta}, remove: [Cookie]}
      responseHeaders: {set: {Cache-Control: no-store}, remove: [Server-Timing]}
    policy:
      timeouts: {request: 5s}
      ipAllow: ["10.0.0.0/8"]
      rateLimit:                            # replaces the route-wide one for this rule
        limits: [{requests: 10, period: 1s, key: "Header:X-Tenant"}]
      cache: {ttl: 5s}                      # the rest of the route-wide cache still applies
  - name: payments
    matches:
    - path: {type: RegularExpression, value: "/v1/payments/[0-9]+"}
    backends:
    - url: https://payments.example.net
      tls: {serverName: payments.example.net}
  - name: moved
    matches:
    - path: {type: PathPrefix, value: /v0}
    filters:
      redirect: {scheme: https, hostname: api.example.com, pathPrefix: /v1, statusCode: 301}
  - name: health
    matches:
    - path: {type: Exact, value: /healthz}
    directResponse: {status: 200, contentType: application/json, body: '{"ok":true}'}
    policy:
      auth: {type: None}                    # open to everyone
""",
    "APIConsumer": """\
apiVersion: atrium.dev/v1alpha1
kind: APIConsumer
metadata:
  name: acme
  namespace: shop
spec:
  displayName: ACME Corp
  groups: [gold]
  credentials:
    apiKeys: [{secretRef: {name: acme-key, key: key}}]
    basicAuth: {secretRef: {name: acme-basic}}     # keys: username, password (bcrypt or plain)
    jwt: {subject: acme}                           # its tokens' consumerClaim value
  plan:                                            # its own limit, a quota, a price
    rateLimit: {requests: 50, period: 1s, burst: 100}
    quota: {requests: 1000000, period: month}
    pricing: {currency: USD, perThousandRequests: "0.40"}
""",
}

# Readable names for the patterns the CRDs repeat; any other pattern is shown as it is.
DURATION = r"^(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h|d))+$"
TOKEN = r"^[-A-Za-z0-9!#$%&'*+.^_`|~]+$"
SIZE = r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)(b|B|k|K|Ki|m|M|Mi|g|G|Gi|kB|KB|MB|GB)?$"
LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
NAMED_PATTERNS = {
    DURATION: "a duration: Go syntax (`500ms`, `1m30s`) or `1s`/`1m`/`1h`/`1d`",
    TOKEN: "an RFC 9110 token (a header name)",
    SIZE: "a byte size: a number, or with `k`/`Ki`, `m`/`Mi`, `g`/`Gi` (powers of 1024) or "
          "`kB`/`MB`/`GB` (powers of 1000)",
    LABEL: "an RFC 1123 label (lower-case letters, digits, `-`)",
    SUBDOMAIN: "an RFC 1123 subdomain (lower-case letters, digits, `-`, `.`)",
    r"^[a-z]([-a-z0-9]*[a-z0-9])?$": "an RFC 1035 label (a Service name: starts with a letter)",
    r"^(\*\.)?[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?"
    r"(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*$":
        "a DNS name, optionally with one leading `*.` label",
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$":
        "a lower-case DNS name",
    r"^[-._a-zA-Z0-9]+$": "letters, digits, `-`, `_`, `.` (a Secret key)",
    r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$":
        "letters, digits, `-`, `_`, `.`; starts and ends with a letter or digit",
    r"^/[^\x00-\x20\x7F?#]*$": "a path: starts with `/`; no spaces, control characters, `?` or `#`",
    r"^/[^\x00-\x20\x7F#]*$": "a path and query: starts with `/`; no spaces, control characters "
                              "or `#`",
    r"^[^\x00-\x08\x0A-\x1F\x7F]*$": "no control characters (a tab is allowed)",
    r'^[^"\\\x00-\x1F\x7F]*$': "no `\"`, `\\` or control characters",
    r"^https?://[^\s]+$": "an `http://` or `https://` URI",
    r"^[A-Za-z_][A-Za-z0-9_-]*$": "letters, digits, `_`, `-`; not starting with a digit or `-`",
    r"^(Consumer|ClientIP|Route|Header:[-A-Za-z0-9!#$%&'*+.^_`|~]+)$":
        "`Consumer`, `ClientIP`, `Route` or `Header:<name>`",
    r"^(ClientIP|Header:[-A-Za-z0-9!#$%&'*+.^_`|~]+|Cookie:[-A-Za-z0-9!#$%&'*+.^_`|~]+)$":
        "`ClientIP`, `Header:<name>` or `Cookie:<name>`",
    r"^(\*|[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#]+)$": "`*` or `scheme://host[:port]`",
    r"^[A-Z]{3}$": "three capital letters",
    r"^[0-9]+(\.[0-9]+)?$": "a decimal number",
    r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$": "a CamelCase reason",
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$":
        "a condition type: a name, optionally prefixed with a DNS subdomain and `/`",
}
# Sentences of the CRD's descriptions that the Constraints column already says.
DESCRIPTION_TRIMS = (
    ' A duration: Go syntax ("500ms", "1m30s") or 1s/1m/1h/1d.',
    ' A number of bytes, or a size string: "1024", "10k"/"10Ki", "8m"/"8Mi", "1g"/"1Gi" '
    '(powers of 1024), "10kB"/"10MB"/"1GB" (powers of 1000).',
)
URL_PATTERN = re.compile(r"^\^\[A-Za-z\]\[A-Za-z0-9\+\.-\]\*://")


SNIPPET_LINES = 14


class SchemaError(Exception):
    pass


# --------------------------------------------------------------------------------------------
# The schema: loading, walking, checking values against it


def load_crd(kind: str) -> dict:
    path = REPO / KINDS[kind]["crd"]
    for doc in yaml.safe_load_all(path.read_text()):
        if doc and doc.get("kind") == "CustomResourceDefinition":
            return doc
    raise SchemaError(f"{path}: no CustomResourceDefinition")


def schema_of(crd: dict) -> dict:
    versions = crd["spec"]["versions"]
    if len(versions) != 1:
        raise SchemaError("one version per CRD is expected; extend the script for more")
    return versions[0]["schema"]["openAPIV3Schema"]


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def node_at(schema: dict, path: str) -> dict | None:
    """The schema node of a dotted path ("spec.rules[].name"); None if there is none."""
    node = schema
    for part in path.split("."):
        name, arrays = part.rstrip("[]"), part.count("[]")
        node = (node.get("properties") or {}).get(name)
        if node is None:
            return None
        for _ in range(arrays):
            node = node.get("items")
            if node is None:
                return None
    return node


def is_int_or_string(node: dict) -> bool:
    return bool(node.get("x-kubernetes-int-or-string"))


def is_object(node: dict) -> bool:
    return node.get("type") == "object" and "properties" in node


def validate(value, node: dict, path: str) -> list[str]:
    """Problems of `value` against `node`: types, unknown fields, required fields, enums,
    patterns, lengths, bounds and sizes. The CEL rules are left to the API server."""
    problems = []
    if is_int_or_string(node):
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            return [f"{path}: must be an integer or a string"]
    else:
        want = node.get("type")
        ok = {"string": lambda v: isinstance(v, str),
              "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "boolean": lambda v: isinstance(v, bool),
              "object": lambda v: isinstance(v, dict),
              "array": lambda v: isinstance(v, list)}.get(want, lambda v: True)
        if not ok(value):
            return [f"{path}: must be {want}, found {type(value).__name__}"]
    if "enum" in node and value not in node["enum"]:
        problems.append(f"{path}: {value!r} is not one of {node['enum']}")
    if isinstance(value, str):
        if "pattern" in node and not re.search(node["pattern"], value):
            problems.append(f"{path}: {value!r} does not match {node['pattern']}")
        if len(value) > node.get("maxLength", len(value)) or len(value) < node.get("minLength", 0):
            problems.append(f"{path}: {value!r} has the wrong length")
    if isinstance(value, int) and not isinstance(value, bool):
        if value < node.get("minimum", value) or value > node.get("maximum", value):
            problems.append(f"{path}: {value} is out of range")
    if isinstance(value, list):
        if not node.get("minItems", 0) <= len(value) <= node.get("maxItems", len(value)):
            problems.append(f"{path}: wrong number of items")
        for i, item in enumerate(value):
            problems += validate(item, node["items"], f"{path}[{i}]")
    if isinstance(value, dict):
        props = node.get("properties")
        extra = node.get("additionalProperties")
        if props is not None:
            for key in node.get("required", []):
                if key not in value:
                    problems.append(f"{path}: {key} is required")
            for key, item in value.items():
                if key in props:
                    problems += validate(item, props[key], join(path, key))
                elif path == "" and key == "metadata":
                    continue
                else:
                    problems.append(f"{join(path, key)}: unknown field")
        elif isinstance(extra, dict):
            if len(value) > node.get("maxProperties", len(value)):
                problems.append(f"{path}: too many entries")
            for key, item in value.items():
                problems += validate(item, extra, f"{path}[{key}]")
    return problems


def leaf_paths(node: dict, path: str = ""):
    """Paths of every field that gets a row of its own and an example (arrays of scalars and
    maps are one field; arrays of objects are walked into)."""
    for key, child in (node.get("properties") or {}).items():
        p = join(path, key)
        if key == "metadata" and path == "":
            continue
        if is_object(child):
            yield from leaf_paths(child, p)
        elif child.get("type") == "array" and is_object(child.get("items", {})):
            yield from leaf_paths(child["items"], p + "[]")
        else:
            yield p


# --------------------------------------------------------------------------------------------
# Rendering


def anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^a-z0-9 _-]", "", title.lower()).replace(" ", "-")


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def flow(value) -> str:
    """A value as one line of YAML flow style."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000)
    text = text.strip()
    if text.endswith("\n...") or text.endswith("..."):
        text = text[: text.rfind("...")].strip()
    return text


def describe_pattern(pattern: str) -> str:
    if pattern in NAMED_PATTERNS:
        return NAMED_PATTERNS[pattern]
    if URL_PATTERN.match(pattern):
        return "`scheme://host[:port]`, without a path, query or credentials"
    return "matches " + code(pattern)


def constraints(node: dict) -> list[str]:
    out = []
    if "enum" in node:
        out.append("one of " + ", ".join(code(json.dumps(v) if not isinstance(v, str) else v)
                                        for v in node["enum"]))
    if "pattern" in node:
        out.append(describe_pattern(node["pattern"]))
    lo, hi = node.get("minLength"), node.get("maxLength")
    if lo and hi:
        out.append(f"{lo}–{hi} characters")
    elif hi:
        out.append(f"at most {hi} characters")
    lo, hi = node.get("minimum"), node.get("maximum")
    if lo is not None and hi is not None:
        out.append(f"{lo}–{hi}")
    elif lo is not None:
        out.append(f"≥ {lo}")
    elif hi is not None:
        out.append(f"≤ {hi}")
    lo, hi = node.get("minItems"), node.get("maxItems")
    if lo and hi:
        out.append(f"{lo}–{hi} items")
    elif hi:
        out.append(f"at most {hi} items")
    if node.get("x-kubernetes-list-type") == "set":
        out.append("no duplicates")
    if node.get("x-kubernetes-list-type") == "map":
        keys = ", ".join(code(k) for k in node.get("x-kubernetes-list-map-keys", []))
        out.append(f"unique {keys}")
    if "maxProperties" in node:
        out.append(f"at most {node['maxProperties']} entries")
    if not is_object(node):  # an object's own rules are listed in its section
        for rule in node.get("x-kubernetes-validations", []):
            out.append(f"API server rule: {rule['message']}")
    if node.get("type") == "array" and not is_object(node.get("items", {})):
        items = constraints(node["items"])
        if items:
            out.append("each item: " + ", ".join(items))
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        values = constraints(extra)
        if values:
            out.append("each value: " + ", ".join(values))
    return out


def type_of(node: dict, required: bool) -> str:
    if is_int_or_string(node):
        text = "integer or string"
    elif node.get("type") == "array":
        items = node.get("items", {})
        text = "list of objects" if is_object(items) else f"list of {type_of(items, False)}"
    elif node.get("type") == "object" and isinstance(node.get("additionalProperties"), dict):
        text = f"map of string to {node['additionalProperties'].get('type', 'any')}"
    else:
        text = node.get("type", "any")
        if node.get("format"):
            text += f" ({node['format']})"
    return text + (", **required**" if required else "")


class Reference:
    """One kind's reference page."""

    def __init__(self, kind: str):
        self.kind = kind
        self.crd = load_crd(kind)
        self.schema = schema_of(self.crd)
        self.not_implemented = NOT_IMPLEMENTED[kind]
        self.full_example = yaml.safe_load(FULL_EXAMPLES[kind])
        self.sections: list[tuple[str, dict]] = []  # (path, node) in document order
        self.section_paths: set[str] = set()
        self.same_as: dict[str, str] = {}  # path -> the documented path with the same schema
        self.check_inputs()

    # --- consistency of the hand-written parts with the schema

    def check_inputs(self):
        problems = []
        tables = {"NOT_IMPLEMENTED": self.not_implemented, "ATRIUM_DEFAULTS":
                  ATRIUM_DEFAULTS[self.kind], "AS_BUILT": AS_BUILT[self.kind]}
        for name, table in tables.items():
            for path in table:
                if node_at(self.schema, path) is None:
                    problems.append(f"{name}[{self.kind}]: {path} is not a field of the CRD")
        examples = EXAMPLES[self.kind]
        leaves = [p for p in leaf_paths(self.schema) if not p.startswith("spec.rules[].policy.")]
        for path in leaves:
            if path not in examples:
                problems.append(f"EXAMPLES[{self.kind}]: no example for {path}")
        for path, value in examples.items():
            node = node_at(self.schema, path)
            if node is None:
                problems.append(f"EXAMPLES[{self.kind}]: {path} is not a field of the CRD")
                continue
            problems += [f"EXAMPLES[{self.kind}]: {p}" for p in validate(value, node, path)]
        problems += [f"FULL_EXAMPLES[{self.kind}]: {p}"
                     for p in validate(self.full_example, self.schema, "")]
        if problems:
            raise SchemaError("\n".join(problems))

    # --- helpers

    def marked(self, path: str) -> tuple[str, str] | None:
        """(root path, what happens) when `path` is, or is inside, a not-implemented field."""
        for root, text in self.not_implemented.items():
            if path == root or path.startswith(root + ".") or path.startswith(root + "["):
                return root, text
        return None

    def link(self, path: str) -> str:
        """A link to `path`'s section, or to the section of the object that has the field."""
        target = path
        while target and target not in self.section_paths:
            target = target.rsplit(".", 1)[0] if "." in target else ""
        title = code(target) if target else f"{code(self.kind)} (the object)"
        return f"[{code(path)}](#{anchor(title)})"

    def example_part(self, path: str):
        """The part of the full example at `path` (the first list item that has it)."""
        def walk(value, parts):
            if not parts:
                return value
            name, arrays = parts[0].rstrip("[]"), parts[0].count("[]")
            if not isinstance(value, dict) or name not in value:
                return None
            values = [value[name]]
            for _ in range(arrays):
                values = [item for v in values if isinstance(v, list) for item in v]
            for v in values:
                found = walk(v, parts[1:])
                if found is not None:
                    return found
            return None
        return walk(self.full_example, path.split(".")) if path else None

    # --- collecting sections

    def collect(self, node: dict, path: str, seen: dict[str, str]):
        self.sections.append((path, node))
        for key, child in (node.get("properties") or {}).items():
            if path == "" and key == "metadata":
                continue
            p = join(path, key)
            target = child.get("items") if child.get("type") == "array" else child
            if not target or not is_object(target):
                continue
            sub = p + "[]" if child.get("type") == "array" else p
            fingerprint = json.dumps({k: v for k, v in target.items() if k != "description"},
                                     sort_keys=True)
            if fingerprint in seen and len(list(leaf_paths(target))) >= 8:
                self.same_as[sub] = seen[fingerprint]
                continue
            seen.setdefault(fingerprint, sub)
            self.collect(target, sub, seen)

    # --- output

    def row(self, parent: str, key: str, node: dict, required: bool) -> str:
        path = join(parent, key)
        sub = path + "[]" if node.get("type") == "array" else path
        target = node.get("items") if node.get("type") == "array" else node
        description = node.get("description", "")
        for trim in DESCRIPTION_TRIMS:
            description = description.replace(trim, "")
        if path == "metadata":
            description = ("Standard Kubernetes object metadata: `name`, `namespace`, labels, "
                           "annotations")
        notes = []
        mark = self.marked(path)
        if mark:
            root, text = mark
            notes.append("**Not implemented yet**: " + (text if root == path
                                                          else f"see {self.link(root)}") + ".")
        if path in AS_BUILT[self.kind]:
            notes.append(AS_BUILT[self.kind][path] + ".")
        if sub in self.same_as:
            notes.append(f"Same fields as {self.link(self.same_as[sub])}.")
        text = " ".join([description.rstrip(".") + "." if description else ""] + notes).strip()
        default = "—"
        if "default" in node:
            default = f"{code(flow(node['default']))} (API server)"
        elif path in ATRIUM_DEFAULTS[self.kind]:
            default = ATRIUM_DEFAULTS[self.kind][path]
        example = "—"
        example_key = path if path in EXAMPLES[self.kind] else None
        if example_key:
            example = code(flow({key: EXAMPLES[self.kind][example_key]})[1:-1])
        elif path == "metadata":
            example = code("{name: orders, namespace: shop}" if self.kind == "APIRoute"
                           else "{name: acme, namespace: shop}")
        elif target and is_object(target):
            example = "see " + self.link(self.same_as.get(sub, sub))
        limits = "; ".join(constraints(node)) or "—"
        return "| " + " | ".join(cell(c) for c in (
            code(key), type_of(node, required), default, limits, text, example)) + " |"

    def render(self) -> str:
        self.sections.clear()
        self.same_as.clear()
        self.collect(self.schema, "", {})
        self.section_paths = {p for p, _ in self.sections}
        names = self.crd["spec"]["names"]
        version = self.crd["spec"]["versions"][0]
        group = self.crd["spec"]["group"]
        out = [f"# {self.kind} reference", "",
               f"<!-- Generated by scripts/gen-crd-reference.py from {KINDS[self.kind]['crd']}. "
               f"Do not edit: change the CRD or the script, then run `{COMMAND}`. -->", "",
               f"`{group}/{version['name']}`, {self.crd['spec']['scope'].lower()}, "
               f"short name `{names['shortNames'][0]}`, category "
               f"`{names['categories'][0]}` (`kubectl get {names['categories'][0]}` lists "
               f"both kinds). {self.schema.get('description', '')}", ""]
        columns = ", ".join(c["name"] for c in version.get("additionalPrinterColumns", []))
        out += [f"`kubectl get {names['plural']}` shows: {columns}.", ""]
        out += self.intro()
        out += ["## Example", "", "```yaml", FULL_EXAMPLES[self.kind].rstrip(), "```", ""]
        if self.not_implemented:
            out += ["## Not implemented yet", ""]
        groups: dict[str, list[str]] = {}
        for root, text in self.not_implemented.items():
            # Fields inside an object documented as "same fields as X" are listed under X.
            if not any(root.startswith(s + ".") for s in self.same_as):
                groups.setdefault(text, []).append(root)
        for text, roots in groups.items():
            out.append(f"- {', '.join(self.link(r) for r in roots)}: {text}.")
        for copy, original in self.same_as.items():
            if any(r.startswith(original + ".") for r in self.not_implemented):
                out.append(f"- The same fields in {self.link(copy)}, which has the fields of "
                           f"{code(original)}.")
        if self.not_implemented:
            out.append("")
        out += ["## Fields", "",
                "Each section lists the fields of one object. **Default** says who fills in a "
                "missing field: the API server (the schema's default, stored in the object) or "
                "Atrium (when it builds its configuration; the object keeps the field unset). "
                "Constraints are checked by the API server when an object is applied, and by "
                "`atrium check` for the rules it knows. A `[]` in a path stands for every item "
                "of a list.", ""]
        for path, node in self.sections:
            title = code(path) if path else f"{code(self.kind)} (the object)"
            out += [f"### {title}", ""]
            mark = self.marked(path) if path else None
            if mark and mark[0] == path:
                out += [f"> **Not implemented yet**: {mark[1]}.", ""]
            elif mark:
                out += [f"> **Not implemented yet**: see {self.link(mark[0])}.", ""]
            if path and node.get("description"):
                out += [node["description"].rstrip(".") + ".", ""]
            out += ["| Field | Type | Default | Constraints | Description | Example |",
                    "|---|---|---|---|---|---|"]
            required = set(node.get("required", []))
            for key, child in node["properties"].items():
                out.append(self.row(path, key, child, key in required))
            out.append("")
            rules = node.get("x-kubernetes-validations", [])
            if rules:
                out += ["Also checked by the API server for this object:", ""]
                out += [f"- {r['message']}" for r in rules]
                out.append("")
            part = self.example_part(path)
            if part is not None and not mark:
                key = path.split(".")[-1].rstrip("[]")
                snippet = yaml.safe_dump({key: [part] if path.endswith("[]") else part},
                                         sort_keys=False, allow_unicode=True, width=100)
                if snippet.count("\n") <= SNIPPET_LINES:  # the whole example is above
                    out += ["From the example:", "", "```yaml", snippet.rstrip(), "```", ""]
        return "\n".join(out).rstrip() + "\n"

    def intro(self) -> list[str]:
        if self.kind == "APIRoute":
            return [
                "An APIRoute is a superset of Gateway API HTTPRoute matching, with typed "
                "policy. How routes are matched and ordered is described in "
                "[routing.md](../routing.md), TLS in [tls.md](../tls.md), and what the route's "
                "status conditions mean in [operations.md](../operations.md#status-and-leader-"
                "election). `atrium check` reports what only Atrium can check: RE2 syntax, "
                "missing Services and Secrets, and the fields below that are not implemented "
                "yet.", ""]
        return [
            "An APIConsumer is a caller of the APIRoutes in its namespace: its credentials, "
            "groups and plan. A route with `policy.auth` authenticates its callers against the "
            "consumers of its own namespace, and can limit itself to some of them by name "
            "(`auth.allowConsumers`) or by group (`auth.allowGroups`), see "
            "[apiroute.md](apiroute.md#specpolicyauth). API keys and Basic credentials work "
            "today, and so do JWT identities. A consumer's plan (its own rate limit, a quota and "
            "the price its usage is billed at) is part of Atrium's configuration; a plan Atrium "
            "cannot read leaves the consumer out. The credentials live in "
            "Secrets of the consumer's namespace, and only digests of them (or a bcrypt hash) "
            "reach Atrium's configuration, so they never appear in `/config`, logs or status.",
            ""]


def render(kind: str) -> str:
    return Reference(kind).render()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 when a checked-in file differs")
    args = parser.parse_args(argv)
    stale = []
    for kind, paths in KINDS.items():
        try:
            text = render(kind)
        except SchemaError as e:
            print(f"{kind}: {e}", file=sys.stderr)
            return 2
        target = REPO / paths["doc"]
        current = target.read_text() if target.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(paths["doc"])
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            print(f"wrote {paths['doc']}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run `{COMMAND}`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
