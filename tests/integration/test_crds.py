"""The APIRoute and APIConsumer CRDs in crds/: structure, agreement with the translator, and
validation of good and bad objects.

No API server here (tests/k8s/test_crds_apiserver.py installs the same CRDs into a real
kube-apiserver and replays the same cases). What this file proves:
- both files are well-formed apiextensions.k8s.io/v1 CRDs with the names, short names,
  categories, status subresource and printer columns SPEC §3.2/§3.3/§8 ask for;
- the schemas are structural, and bounded (maxLength/maxItems/maxProperties everywhere, which the
  API server's CEL cost estimator needs);
- every field the translator (controller/translator/apiroute_translator.cc and the
  rate_limit_reader.cc it reads policy.rateLimit with) reads exists at the right place with the
  right type, its enums list the values the translator accepts, and the schema defaults exactly
  what the translator defaults;
- the APIRoutes of examples/, the translator's own APIRoute fixtures and a "full" object using
  every field validate; each deliberately bad object (one broken rule each) does not;
- every CEL rule has a message and at least one bad object that only it rejects (the objects of
  CEL_CASES pass the OpenAPI part of the schema, so the API server can only refuse them by CEL).

The validator below implements the OpenAPI subset the CRDs use, in the API server's order:
drop unknown fields (reported, as `kubectl apply` does with strict field validation), apply
defaults, then check type/enum/pattern/min/max/length/items/required/list types.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CRD_DIR = REPO / "crds"
TRANSLATOR_FILES = [REPO / "controller" / "translator" / name
                    for name in ("apiroute_translator.cc", "rate_limit_reader.h",
                                 "rate_limit_reader.cc", "cache_reader.h", "cache_reader.cc",
                                 "cors_reader.h", "cors_reader.cc",
                                 "aggregate_reader.cc", "backend_ref_reader.cc",
                                 "resilience_reader.h", "resilience_reader.cc",
                                 "unit_reader.cc", "validation.cc")]

GROUP = "atrium.dev"
VERSION = "v1alpha1"


def load_crd(plural: str) -> dict:
    docs = [d for d in yaml.safe_load_all((CRD_DIR / f"{plural}.{GROUP}.yaml").read_text()) if d]
    assert len(docs) == 1, f"{plural}: expected exactly one YAML document"
    return docs[0]


def root_schema(crd: dict) -> dict:
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


# =============================================================================================
# Schema walking
# =============================================================================================

def walk(schema: dict, path: str = ""):
    """Yields (path, node) for every schema node. Paths: "spec.rules[].matches[].path.type";
    map values are "<map>{}"."""
    yield path, schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from walk(sub, f"{path}.{name}" if path else name)
    if isinstance(schema.get("items"), dict):
        yield from walk(schema["items"], path + "[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from walk(schema["additionalProperties"], path + "{}")


def resolve(schema: dict, path: str) -> dict | None:
    """The node at `path` (walk()'s notation), or None."""
    node = schema
    for token in re.findall(r"[^.\[\]{}]+|\[\]|\{\}", path):
        if token == "[]":
            node = node.get("items")
        elif token == "{}":
            node = node.get("additionalProperties")
        else:
            node = (node.get("properties") or {}).get(token)
        if not isinstance(node, dict):
            return None
    return node


def schema_type(node: dict) -> str:
    if node.get("x-kubernetes-int-or-string"):
        return "int-or-string"
    return node.get("type", "")


# =============================================================================================
# A small OpenAPI validator (the subset the CRDs use), in the API server's order
# =============================================================================================

def _go_pattern(pattern: str) -> re.Pattern:
    # Go's (RE2's) `$` without the m flag matches only at the end of the text; Python's also
    # matches before a final "\n". Every pattern here ends with an unescaped `$`.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


_PATTERNS: dict[str, re.Pattern] = {}


def _matches(pattern: str, value: str) -> bool:
    if pattern not in _PATTERNS:
        _PATTERNS[pattern] = _go_pattern(pattern)
    return _PATTERNS[pattern].search(value) is not None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def prune_unknown(value: Any, schema: dict, path: str, errors: list, root: bool = False) -> None:
    """Reports fields the schema does not declare and drops nulls (the API server prunes both;
    kubectl's default strict field validation turns unknown fields into errors)."""
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key in list(value):
            if value[key] is None:
                del value[key]
                continue
            if root and key == "metadata":
                continue
            if props is not None and key in props:
                prune_unknown(value[key], props[key], _join(path, key), errors)
            elif isinstance(extra, dict):
                prune_unknown(value[key], extra, _join(path, key), errors)
            elif props is not None:
                errors.append((_join(path, key), "unknown field"))
                del value[key]
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            prune_unknown(item, schema["items"], f"{path}[{i}]", errors)


def apply_defaults(value: Any, schema: dict) -> None:
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                apply_defaults(value[key], sub)
        if isinstance(schema.get("additionalProperties"), dict):
            for v in value.values():
                apply_defaults(v, schema["additionalProperties"])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            apply_defaults(item, schema["items"])


def check(value: Any, schema: dict, path: str, errors: list, root: bool = False) -> None:
    typ = schema_type(schema)
    ok_type = {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "integer": _is_int(value),
        "number": _is_int(value) or isinstance(value, float),
        "boolean": isinstance(value, bool),
        "int-or-string": _is_int(value) or isinstance(value, str),
        "": True,
    }[typ]
    if not ok_type:
        errors.append((path, f"must be of type {typ}"))
        return
    if "enum" in schema and value not in schema["enum"]:
        errors.append((path, f"Unsupported value: {value!r}"))
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append((path, f"may not be longer than {schema['maxLength']}"))
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append((path, f"should be at least {schema['minLength']} chars long"))
        if "pattern" in schema and not _matches(schema["pattern"], value):
            errors.append((path, f"should match '{schema['pattern']}'"))
    if _is_int(value) or isinstance(value, float):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append((path, f"should be greater than or equal to {schema['minimum']}"))
        if "maximum" in schema and value > schema["maximum"]:
            errors.append((path, f"should be less than or equal to {schema['maximum']}"))
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append((path, f"must have at most {schema['maxItems']} items"))
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append((path, f"should have at least {schema['minItems']} items"))
        list_type = schema.get("x-kubernetes-list-type", "atomic")
        seen = set()
        for i, item in enumerate(value):
            if list_type == "set":
                key = repr(item)
            elif list_type == "map" and isinstance(item, dict):
                key = repr(tuple(item.get(k) for k in schema["x-kubernetes-list-map-keys"]))
            else:
                key = None
            if key is not None:
                if key in seen:
                    errors.append((f"{path}[{i}]", "Duplicate value"))
                seen.add(key)
            check(item, schema.get("items", {}), f"{path}[{i}]", errors)
    if isinstance(value, dict):
        for req in schema.get("required", []):
            if req not in value:
                errors.append((_join(path, req), "Required value"))
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            errors.append((path, f"must have at most {schema['maxProperties']} properties"))
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, v in value.items():
            if root and key == "metadata":
                continue
            if key in props:
                check(v, props[key], _join(path, key), errors)
            elif isinstance(extra, dict):
                check(v, extra, _join(path, key), errors)


def validate(obj: dict, crd: dict) -> list[tuple[str, str]]:
    """(field path, problem) for every violation of the CRD's OpenAPI schema (CEL excluded)."""
    schema = root_schema(crd)
    obj = copy.deepcopy(obj)
    errors: list = []
    prune_unknown(obj, schema, "", errors, root=True)
    apply_defaults(obj, schema)
    check(obj, schema, "", errors, root=True)
    return errors


def defaulted(obj: dict, crd: dict) -> dict:
    obj = copy.deepcopy(obj)
    apply_defaults(obj, root_schema(crd))
    return obj


# =============================================================================================
# Objects: a base route, full objects using every field, and bad cases
# =============================================================================================

def base_route(name: str = "crd-test") -> dict:
    """A small valid APIRoute; each bad case changes one thing in it."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "APIRoute",
        "metadata": {"name": name},
        "spec": {
            "ingressClassName": "atrium",
            "hostnames": ["api.example.com", "*.example.com"],
            "rules": [{
                "name": "r0",
                "matches": [{"path": {"type": "PathPrefix", "value": "/v1"}}],
                "backends": [{"service": {"name": "orders", "port": 80}}],
            }],
        },
    }


def base_consumer(name: str = "crd-test") -> dict:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "APIConsumer",
        "metadata": {"name": name},
        "spec": {
            "displayName": "ACME Corp",
            "groups": ["gold"],
            "credentials": {"apiKeys": [{"secretRef": {"name": "acme-key", "key": "key"}}]},
            "plan": {"rateLimit": {"requests": 50, "period": "1s", "burst": 100},
                     "quota": {"requests": 1000000, "period": "month"},
                     "pricing": {"currency": "USD", "perThousandRequests": "0.40"}},
        },
    }


def full_policy(rule_level: bool) -> dict:
    auth = {
        "apiKey": {"header": "X-API-Key", "queryParam": "api_key"},
        "jwt": {
            "issuer": "https://issuer.example.com/",
            "audiences": ["orders", "billing"],
            "jwksSecretRef": {"name": "jwks", "key": "jwks.json"},
            "jwksURI": "https://issuer.example.com/.well-known/jwks.json",
            "hmacSecretRef": {"name": "hmac", "key": "secret"},
            "algorithms": ["RS256", "ES256", "HS256"],
            "clockSkew": "30s",
            "claimsToHeaders": [{"claim": "tenant", "header": "X-Tenant"}],
            "consumerClaim": "sub",
        },
        "basic": {"realm": "orders"},
        "allowConsumers": ["acme", "globex"],
        "allowGroups": ["gold", "platinum"],
        "stripCredentials": True,
    }
    if rule_level:
        auth["anyOf"] = ["APIKey", "JWT"]
    else:
        auth["type"] = "JWT"
    return {
        "auth": auth,
        "rateLimit": {"limits": [{"requests": 100, "period": "1m", "burst": 20, "key": "Consumer"},
                                 {"requests": 10, "period": "1s", "key": "Header:X-Tenant"}],
                      "scope": "Global"},
        "cache": {"ttl": "30s", "methods": ["GET", "HEAD"], "vary": ["Accept-Language"],
                  "respectCacheControl": True, "staleIfError": "5m", "maxObjectSize": "1Mi",
                  "keyQueryParams": ["page", "size"], "shareAcrossConsumers": rule_level,
                  "cacheSetCookie": False},
        "timeouts": {"connect": "2s", "request": "30s", "idle": "1m30s"},
        "retries": {"attempts": 2, "retryOn": ["connect-failure", "reset", "503"],
                    "perTryTimeout": "500ms", "backoff": "25ms", "retryNonIdempotent": True},
        "circuitBreaker": {"consecutiveFailures": 5, "openFor": "30s", "maxConnections": 1024,
                           "maxPendingRequests": 128},
        "healthCheck": {"path": "/healthz", "interval": "10s", "timeout": "1s",
                        "unhealthyThreshold": 3, "healthyThreshold": 2},
        "loadBalancer": "ConsistentHash",
        "hashOn": "Cookie:session",
        "fallback": {"status": 503, "contentType": "application/json", "body": '{"down":true}'},
        "cors": {"allowOrigins": ["https://app.example.com", "https://*.example.com"],
                 "allowMethods": ["GET", "POST"], "allowHeaders": ["Content-Type", "X-API-Key"],
                 "exposeHeaders": ["X-Request-Id"], "allowCredentials": True, "maxAge": 600},
        "ipAllow": ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"],
        "ipDeny": ["10.66.0.0/16"],
        "maxRequestBodySize": 1048576 if rule_level else "10Mi",
    }


def full_routes() -> list[dict]:
    """Valid APIRoutes that between them use every field of the schema (status included)."""
    route = base_route("full")
    route["spec"] = {
        "ingressClassName": "atrium",
        "hostnames": ["api.example.com", "*.example.com"],
        "tls": {
            "secretName": "api-tls",
            "redirectHTTP": True,
            "hsts": {"maxAge": 31536000, "includeSubDomains": True, "preload": False},
            "clientValidation": {"caSecretRef": {"name": "client-ca", "key": "ca.crt"},
                                 "optional": False},
        },
        "policy": full_policy(rule_level=False),
        "rules": [
            {
                "name": "list-orders",
                "matches": [{
                    "path": {"type": "PathPrefix", "value": "/v1/orders"},
                    "method": "GET",
                    "headers": [{"name": "X-Api-Version", "type": "Exact", "value": "2"}],
                    "queryParams": [{"name": "beta", "type": "RegularExpression", "value": "[01]"}],
                }],
                "backends": [
                    {"service": {"name": "orders-v2", "port": 8080}, "weight": 90},
                    {"service": {"name": "orders-v3", "port": "http"}, "weight": 10},
                    {"url": "http://10.0.0.7:9000", "weight": 0},
                    {"url": "https://payments.example.net", "weight": 0,
                     "tls": {"caSecretRef": {"name": "payments-ca", "key": "ca.crt"},
                             "serverName": "payments.example.net"}},
                    {"service": {"name": "legacy", "port": 8443}, "weight": 0,
                     "tls": {"insecureSkipVerify": True}},
                ],
                "filters": {
                    "rewrite": {"pathPrefix": "/orders", "hostname": "orders.internal"},
                    "requestHeaders": {"set": {"X-A": "1"}, "add": {"X-B": "2"}, "remove": ["X-C"]},
                    "responseHeaders": {"set": {"Cache-Control": "no-store"}, "add": {},
                                        "remove": ["Server-Timing"]},
                },
                "policy": full_policy(rule_level=True),
            },
            {
                "name": "moved",
                "matches": [{"path": {"type": "Exact", "value": "/old"}}],
                "filters": {"redirect": {"scheme": "https", "hostname": "x.example.com",
                                         "port": 8443, "path": "/new", "statusCode": 301}},
            },
            {
                "name": "moved-prefix",
                "matches": [{"path": {"type": "PathPrefix", "value": "/v0"}}],
                "filters": {"redirect": {"pathPrefix": "/v1"}},
            },
            {
                "name": "fixed",
                "matches": [{"path": {"type": "RegularExpression", "value": "/v[0-9]+/fixed"}}],
                "backends": [{"url": "https://payments.example.net"}],
                "filters": {"rewrite": {"path": "/fixed"}},
            },
            {
                "name": "ping",
                "matches": [{"path": {"type": "Exact", "value": "/ping"}, "method": "HEAD"}],
                "directResponse": {"status": 200, "contentType": "application/json",
                                   "body": '{"pong":true}'},
            },
            {
                "name": "bundle",
                "matches": [{"path": {"type": "Exact", "value": "/bundle"}}],
                "aggregate": {
                    "calls": [
                        {"name": "user", "service": {"name": "users", "port": 80},
                         "path": "/users/{query.id}"},
                        {"name": "orders", "url": "http://orders.internal:8080",
                         "path": "/orders?user={query.id}", "method": "GET"},
                    ],
                    "timeout": "2s",
                    "onError": "Partial",
                    "maxCallBodySize": "256Ki",
                },
            },
        ],
    }
    route["status"] = {
        "observedGeneration": 3,
        "conditions": [
            {"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
             "lastTransitionTime": "2024-03-01T10:00:00Z", "observedGeneration": 3},
            {"type": "Programmed", "status": "True", "reason": "Programmed", "message": "ok",
             "lastTransitionTime": "2024-03-01T10:00:00Z", "observedGeneration": 3},
        ],
    }
    # The same with the auth forms swapped: anyOf route-wide, type in the rule.
    swapped = copy.deepcopy(route)
    swapped["metadata"]["name"] = "full-swapped"
    swapped["spec"]["policy"] = full_policy(rule_level=True)
    swapped["spec"]["rules"][0]["policy"] = full_policy(rule_level=False)
    return [route, swapped]


def full_consumers() -> list[dict]:
    consumer = base_consumer("full")
    consumer["spec"]["credentials"] = {
        "apiKeys": [{"secretRef": {"name": "acme-key", "key": "key"}},
                    {"secretRef": {"name": "acme-key-next", "key": "key"}}],
        "basicAuth": {"secretRef": {"name": "acme-basic"}},
        "jwt": {"subject": "acme"},
    }
    consumer["status"] = {"observedGeneration": 1, "conditions": [
        {"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
         "lastTransitionTime": "2024-03-01T10:00:00Z", "observedGeneration": 1}]}
    return [consumer]


# --- mutations --------------------------------------------------------------------------------

def _steps(path: str) -> list:
    out = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        out.append(int(index) if index else name)
    return out


def setp(obj: dict, path: str, value: Any) -> dict:
    """Sets obj[path] ("spec.rules[0].backends[0].weight"), creating objects on the way."""
    steps = _steps(path)
    node = obj
    for step in steps[:-1]:
        if isinstance(step, str) and step not in node:
            node[step] = {}
        node = node[step]
    if isinstance(node, list) and steps[-1] == len(node):
        node.append(copy.deepcopy(value))
    else:
        node[steps[-1]] = copy.deepcopy(value)
    return obj


def delp(obj: dict, path: str) -> dict:
    steps = _steps(path)
    node = obj
    for step in steps[:-1]:
        node = node[step]
    del node[steps[-1]]
    return obj


@dataclass
class Case:
    """One bad object. `field`: the field path the API server names; `message`: for CEL
    cases, the rule's message (verbatim in the API server's answer)."""
    id: str
    kind: str
    make: Callable[[], dict]
    field: str
    message: str = ""
    ops: list = dc_field(default_factory=list)


def _route_case(id: str, field_path: str, *ops, message: str = "", base=None) -> Case:
    def make():
        obj = (base or base_route)(id.lower().replace("_", "-")[:60].strip("-"))
        for op in ops:
            if op[0] == "set":
                setp(obj, op[1], op[2])
            else:
                delp(obj, op[1])
        return obj
    return Case(id, "APIRoute", make, field_path, message, list(ops))


def _consumer_case(id: str, field_path: str, *ops, message: str = "") -> Case:
    case = _route_case(id, field_path, *ops, message=message, base=base_consumer)
    case.kind = "APIConsumer"
    return case


R0 = "spec.rules[0]"
DIRECT = ("del", f"{R0}.backends")  # turn r0 into a rule whose only action is set separately


def S(path, value):
    return ("set", path, value)


def D(path):
    return ("del", path)


def schema_cases() -> list[Case]:
    """Bad objects refused by the OpenAPI part of the schema (one violation each)."""
    long_name = "a" * 64
    return [
        # enums
        _route_case("enum-path-type", f"{R0}.matches[0].path.type",
                    S(f"{R0}.matches[0].path.type", "Prefix")),
        _route_case("enum-method", f"{R0}.matches[0].method",
                    S(f"{R0}.matches[0].method", "FETCH")),
        _route_case("enum-header-match-type", f"{R0}.matches[0].headers[0].type",
                    S(f"{R0}.matches[0].headers",
                      [{"name": "X-A", "type": "Prefix", "value": "1"}])),
        _route_case("enum-auth-type", "spec.policy.auth.type", S("spec.policy.auth.type", "OAuth")),
        _route_case("enum-auth-anyof", "spec.policy.auth.anyOf[0]",
                    S("spec.policy.auth.anyOf", ["Digest"])),
        _route_case("enum-ratelimit-scope", "spec.policy.rateLimit.scope",
                    S("spec.policy.rateLimit", {"limits": [{"requests": 1, "period": "1s"}],
                                                "scope": "Cluster"})),
        _route_case("enum-jwt-algorithm", "spec.policy.auth.jwt.algorithms[0]",
                    S("spec.policy.auth", {"type": "JWT", "jwt": {
                        "jwksURI": "https://x.example.com/jwks", "algorithms": ["none"]}})),
        _route_case("enum-load-balancer", "spec.policy.loadBalancer",
                    S("spec.policy.loadBalancer", "Random")),
        _route_case("enum-retry-on", "spec.policy.retries.retryOn[0]",
                    S("spec.policy.retries", {"retryOn": ["500"]})),
        _route_case("enum-redirect-status", f"{R0}.filters.redirect.statusCode", DIRECT,
                    S(f"{R0}.filters.redirect", {"statusCode": 200})),
        _route_case("enum-redirect-scheme", f"{R0}.filters.redirect.scheme", DIRECT,
                    S(f"{R0}.filters.redirect", {"scheme": "ftp"})),
        _route_case("enum-aggregate-on-error", f"{R0}.aggregate.onError", DIRECT,
                    S(f"{R0}.aggregate", {"calls": [{"name": "a", "url": "http://a"}],
                                          "onError": "Ignore"})),
        # patterns
        _route_case("pattern-duration", "spec.policy.timeouts.request",
                    S("spec.policy.timeouts.request", "soon")),
        _route_case("pattern-duration-no-unit", "spec.policy.rateLimit.limits[0].period",
                    S("spec.policy.rateLimit", {"limits": [{"requests": 1, "period": "60"}]})),
        _route_case("pattern-header-name", f"{R0}.matches[0].headers[0].name",
                    S(f"{R0}.matches[0].headers", [{"name": "Bad Header", "value": "x"}])),
        _route_case("pattern-header-value-crlf", f"{R0}.filters.requestHeaders.set.X-Evil",
                    S(f"{R0}.filters.requestHeaders.set", {"X-Evil": "a\r\nX-Injected: 1"})),
        _route_case("pattern-remove-header-name", f"{R0}.filters.responseHeaders.remove[0]",
                    S(f"{R0}.filters.responseHeaders.remove", ["Bad:Name"])),
        _route_case("pattern-hostname-space", "spec.hostnames[0]",
                    S("spec.hostnames", ["bad host"])),
        _route_case("pattern-hostname-inner-wildcard", "spec.hostnames[0]",
                    S("spec.hostnames", ["a.*.example.com"])),
        _route_case("pattern-hostname-double-wildcard", "spec.hostnames[0]",
                    S("spec.hostnames", ["*.*.example.com"])),
        _route_case("pattern-hostname-label-too-long", "spec.hostnames[0]",
                    S("spec.hostnames", ["a" * 64 + ".example.com"])),
        _route_case("pattern-rewrite-hostname-wildcard", f"{R0}.filters.rewrite.hostname",
                    S(f"{R0}.filters.rewrite", {"hostname": "*.example.com"})),
        _route_case("pattern-rule-name", f"{R0}.name", S(f"{R0}.name", "Not_A_Label")),
        _route_case("pattern-ingress-class", "spec.ingressClassName",
                    S("spec.ingressClassName", "Atrium!")),
        _route_case("pattern-service-name", f"{R0}.backends[0].service.name",
                    S(f"{R0}.backends[0].service.name", "Orders_V1")),
        _route_case("pattern-port-name", f"{R0}.backends[0].service.port",
                    S(f"{R0}.backends[0].service.port", "HTTP_1")),
        _route_case("pattern-url-with-path", f"{R0}.backends[0].url",
                    S(f"{R0}.backends[0]", {"url": "http://a/path"})),
        _route_case("pattern-url-bad-port", f"{R0}.backends[0].url",
                    S(f"{R0}.backends[0]", {"url": "http://a:80x"})),
        _route_case("pattern-url-port-range", f"{R0}.backends[0].url",
                    S(f"{R0}.backends[0]", {"url": "http://a:65536"})),
        _route_case("pattern-url-credentials", f"{R0}.backends[0].url",
                    S(f"{R0}.backends[0]", {"url": "http://user:pw@a"})),
        _route_case("pattern-rewrite-path", f"{R0}.filters.rewrite.path",
                    S(f"{R0}.filters.rewrite", {"path": "relative"})),
        _route_case("pattern-redirect-path-query", f"{R0}.filters.redirect.pathPrefix", DIRECT,
                    S(f"{R0}.filters.redirect", {"pathPrefix": "/a?b"})),
        _route_case("pattern-body-size", "spec.policy.maxRequestBodySize",
                    S("spec.policy.maxRequestBodySize", "ten MB")),
        _route_case("pattern-rate-limit-key", "spec.policy.rateLimit.limits[0].key",
                    S("spec.policy.rateLimit", {"limits": [{"requests": 1, "period": "1s",
                                                            "key": "Cookie:x"}]})),
        _route_case("pattern-hash-on", "spec.policy.hashOn",
                    S("spec.policy.loadBalancer", "ConsistentHash"),
                    S("spec.policy.hashOn", "Path")),
        _route_case("pattern-content-type", f"{R0}.directResponse.contentType", DIRECT,
                    S(f"{R0}.directResponse", {"contentType": "text/plain\nX: 1"})),
        _route_case("pattern-secret-name", "spec.tls.secretName",
                    S("spec.tls", {"secretName": "API_TLS"})),
        _route_case("pattern-basic-realm-quote", "spec.policy.auth.basic.realm",
                    S("spec.policy.auth", {"type": "Basic", "basic": {"realm": 'a"b'}})),
        _route_case("pattern-cors-origin", "spec.policy.cors.allowOrigins[0]",
                    S("spec.policy.cors", {"allowOrigins": ["app.example.com/x"]})),
        # minimum / maximum
        _route_case("min-weight", f"{R0}.backends[0].weight", S(f"{R0}.backends[0].weight", -1)),
        _route_case("max-weight", f"{R0}.backends[0].weight",
                    S(f"{R0}.backends[0].weight", 1000001)),
        _route_case("min-port", f"{R0}.backends[0].service.port",
                    S(f"{R0}.backends[0].service.port", 0)),
        _route_case("max-port", f"{R0}.backends[0].service.port",
                    S(f"{R0}.backends[0].service.port", 65536)),
        _route_case("min-redirect-port", f"{R0}.filters.redirect.port", DIRECT,
                    S(f"{R0}.filters.redirect", {"port": 0})),
        _route_case("min-direct-status", f"{R0}.directResponse.status", DIRECT,
                    S(f"{R0}.directResponse", {"status": 199})),
        _route_case("max-direct-status", f"{R0}.directResponse.status", DIRECT,
                    S(f"{R0}.directResponse", {"status": 600})),
        _route_case("min-rate-requests", "spec.policy.rateLimit.limits[0].requests",
                    S("spec.policy.rateLimit", {"limits": [{"requests": 0, "period": "1s"}]})),
        _route_case("min-body-size", "spec.policy.maxRequestBodySize",
                    S("spec.policy.maxRequestBodySize", -1)),
        _route_case("max-retries", "spec.policy.retries.attempts",
                    S("spec.policy.retries", {"attempts": 11})),
        _route_case("min-hsts", "spec.tls.hsts.maxAge", S("spec.tls", {"hsts": {"maxAge": -1}})),
        # required
        _route_case("required-spec", "spec", D("spec")),
        _route_case("required-rules", "spec.rules", D("spec.rules")),
        _route_case("required-service-name", f"{R0}.backends[0].service.name",
                    D(f"{R0}.backends[0].service.name")),
        _route_case("required-service-port", f"{R0}.backends[0].service.port",
                    D(f"{R0}.backends[0].service.port")),
        _route_case("required-header-match-value", f"{R0}.matches[0].headers[0].value",
                    S(f"{R0}.matches[0].headers", [{"name": "X-A"}])),
        _route_case("required-limit-period", "spec.policy.rateLimit.limits[0].period",
                    S("spec.policy.rateLimit", {"limits": [{"requests": 1}]})),
        _route_case("required-secret-key", "spec.tls.clientValidation.caSecretRef.key",
                    S("spec.tls", {"clientValidation": {"caSecretRef": {"name": "ca"}}})),
        _route_case("required-aggregate-calls", f"{R0}.aggregate.calls", DIRECT,
                    S(f"{R0}.aggregate", {"timeout": "1s"})),
        # sizes
        _route_case("max-items-hostnames", "spec.hostnames",
                    S("spec.hostnames", [f"h{i}.example.com" for i in range(17)])),
        _route_case("max-items-rules", "spec.rules",
                    S("spec.rules", [{"name": f"r{i}", "directResponse": {"status": 200}}
                                     for i in range(65)])),
        _route_case("max-length-rule-name", f"{R0}.name", S(f"{R0}.name", long_name)),
        _route_case("max-length-body", f"{R0}.directResponse.body", DIRECT,
                    S(f"{R0}.directResponse", {"body": "x" * 65537})),
        _route_case("max-properties-header-set", f"{R0}.filters.requestHeaders.set",
                    S(f"{R0}.filters.requestHeaders.set", {f"X-H{i}": "1" for i in range(33)})),
        _route_case("min-items-rules", "spec.rules", S("spec.rules", [])),
        _route_case("min-items-backends", f"{R0}.backends", S(f"{R0}.backends", [])),
        _route_case("min-items-aggregate-calls", f"{R0}.aggregate.calls", DIRECT,
                    S(f"{R0}.aggregate", {"calls": []})),
        _route_case("min-length-path-value", f"{R0}.matches[0].path.value",
                    S(f"{R0}.matches[0].path.value", "")),
        # types
        _route_case("type-weight", f"{R0}.backends[0].weight",
                    S(f"{R0}.backends[0].weight", "ten")),
        _route_case("type-hostnames", "spec.hostnames", S("spec.hostnames", "api.example.com")),
        _route_case("type-port", f"{R0}.backends[0].service.port",
                    S(f"{R0}.backends[0].service.port", 80.5)),
        _route_case("type-redirect-http", "spec.tls.redirectHTTP",
                    S("spec.tls", {"redirectHTTP": "yes"})),
        # unknown fields (the translator only warns; the API server refuses them)
        _route_case("unknown-rule-field", f"{R0}.frobnicate", S(f"{R0}.frobnicate", True)),
        _route_case("unknown-policy-field", "spec.policy.frobnicate",
                    S("spec.policy.frobnicate", True)),
        # list types
        _route_case("set-duplicate-hostname", "spec.hostnames[1]",
                    S("spec.hostnames", ["api.example.com", "api.example.com"])),
        _route_case("map-duplicate-call-name", f"{R0}.aggregate.calls[1]", DIRECT,
                    S(f"{R0}.aggregate", {"calls": [{"name": "a", "url": "http://a"},
                                                    {"name": "a", "url": "http://b"}]})),
        # APIConsumer
        _consumer_case("consumer-enum-quota-period", "spec.plan.quota.period",
                       S("spec.plan.quota.period", "week")),
        _consumer_case("consumer-pattern-currency", "spec.plan.pricing.currency",
                       S("spec.plan.pricing.currency", "usd")),
        _consumer_case("consumer-pattern-price", "spec.plan.pricing.perThousandRequests",
                       S("spec.plan.pricing.perThousandRequests", "0,40")),
        _consumer_case("consumer-type-price", "spec.plan.pricing.perThousandRequests",
                       S("spec.plan.pricing.perThousandRequests", 0.4)),
        _consumer_case("consumer-pattern-period", "spec.plan.rateLimit.period",
                       S("spec.plan.rateLimit.period", "1 second")),
        _consumer_case("consumer-min-requests", "spec.plan.rateLimit.requests",
                       S("spec.plan.rateLimit.requests", 0)),
        _consumer_case("consumer-min-quota", "spec.plan.quota.requests",
                       S("spec.plan.quota.requests", 0)),
        _consumer_case("consumer-required-secret-key", "spec.credentials.apiKeys[0].secretRef.key",
                       D("spec.credentials.apiKeys[0].secretRef.key")),
        _consumer_case("consumer-required-basic-secret", "spec.credentials.basicAuth.secretRef",
                       S("spec.credentials.basicAuth", {})),
        _consumer_case("consumer-min-length-subject", "spec.credentials.jwt.subject",
                       S("spec.credentials.jwt", {"subject": ""})),
        _consumer_case("consumer-set-duplicate-group", "spec.groups[1]",
                       S("spec.groups", ["gold", "gold"])),
        _consumer_case("consumer-pattern-group", "spec.groups[0]",
                       S("spec.groups", ["gold,silver"])),
        _consumer_case("consumer-unknown-field", "spec.plan.discount",
                       S("spec.plan.discount", "10%")),
    ]


def cel_cases() -> list[Case]:
    """Bad objects that pass the OpenAPI part of the schema and are refused by one CEL rule."""
    one_action = ("a rule needs exactly one of backends, directResponse, aggregate or "
                  "filters.redirect")
    path_or_prefix = "set either path or pathPrefix, not both"
    no_ip = "must be a DNS name, not an IP address"
    cidr = "must be a CIDR such as 10.0.0.0/8 or 2001:db8::/32, or a single address"
    managed = ("Content-Length, Transfer-Encoding, Connection, Keep-Alive, Proxy-Connection, TE, "
               "Trailer and Upgrade are managed by the gateway and cannot be changed")
    exact = [{"path": {"type": "Exact", "value": "/e"}}]
    rewrite_prefix = "filters.rewrite.pathPrefix needs every match to be a PathPrefix match"
    redirect_prefix = "filters.redirect.pathPrefix needs every match to be a PathPrefix match"
    jwt_keys = "JWT authentication needs jwt.jwksSecretRef, jwt.jwksURI or jwt.hmacSecretRef"

    def bad_path(id, value, message):
        return _route_case(id, f"{R0}.matches[0].path", S(f"{R0}.matches[0].path.value", value),
                           message=message)

    abs_msg = "an Exact or PathPrefix path must start with '/'"
    chars_msg = ("an Exact or PathPrefix path must not contain spaces, control characters, "
                 "'?' or '#'")
    escape_msg = "an Exact or PathPrefix path has a malformed percent-escape"
    nul_msg = "an Exact or PathPrefix path must not contain '%00' or '%2F'"
    dots_msg = ("an Exact or PathPrefix path must not contain '//', '/./' or '/../', "
                "nor end with '/.' or '/..'")
    return [
        # actions
        _route_case("cel-backends-and-direct", R0, S(f"{R0}.directResponse", {"status": 200}),
                    message=one_action),
        _route_case("cel-no-action", R0, DIRECT, message=one_action),
        _route_case("cel-redirect-and-backends", R0, S(f"{R0}.filters.redirect", {"path": "/x"}),
                    message=one_action),
        _route_case("cel-aggregate-and-direct", R0, DIRECT,
                    S(f"{R0}.aggregate", {"calls": [{"name": "a", "url": "http://a"}]}),
                    S(f"{R0}.directResponse", {"status": 200}), message=one_action),
        # backends and calls
        _route_case("cel-backend-service-and-url", f"{R0}.backends[0]",
                    S(f"{R0}.backends[0].url", "http://a"),
                    message="exactly one of service or url is required"),
        _route_case("cel-backend-neither", f"{R0}.backends[0]",
                    S(f"{R0}.backends[0]", {"weight": 5}),
                    message="exactly one of service or url is required"),
        _route_case("cel-backend-tls-plain-url", f"{R0}.backends[0]",
                    S(f"{R0}.backends[0]", {"url": "http://a.example.com",
                                            "tls": {"serverName": "a.example.com"}}),
                    message="tls needs an https:// url"),
        _route_case("cel-backend-tls-insecure-and-ca", f"{R0}.backends[0].tls",
                    S(f"{R0}.backends[0]", {"url": "https://a.example.com",
                                            "tls": {"insecureSkipVerify": True,
                                                    "serverName": "a.example.com"}}),
                    message="insecureSkipVerify excludes caSecretRef and serverName"),
        _route_case("cel-backend-url-scheme", f"{R0}.backends[0].url",
                    S(f"{R0}.backends[0]", {"url": "ftp://files.example.com"}),
                    message="url must start with http:// or https://"),
        _route_case("cel-call-service-and-url", f"{R0}.aggregate.calls[0]", DIRECT,
                    S(f"{R0}.aggregate", {"calls": [{"name": "a", "url": "http://a",
                                                     "service": {"name": "a", "port": 80}}]}),
                    message="a call needs exactly one of service or url"),
        _route_case("cel-call-url-scheme", f"{R0}.aggregate.calls[0].url", DIRECT,
                    S(f"{R0}.aggregate", {"calls": [{"name": "a", "url": "gopher://a"}]}),
                    message="url must start with http:// or https://"),
        # filters
        _route_case("cel-rewrite-path-and-prefix", f"{R0}.filters.rewrite",
                    S(f"{R0}.filters.rewrite", {"path": "/a", "pathPrefix": "/b"}),
                    message=path_or_prefix),
        _route_case("cel-redirect-path-and-prefix", f"{R0}.filters.redirect", DIRECT,
                    S(f"{R0}.filters.redirect", {"path": "/a", "pathPrefix": "/b"}),
                    message=path_or_prefix),
        _route_case("cel-redirect-and-rewrite", f"{R0}.filters", DIRECT,
                    S(f"{R0}.filters", {"redirect": {"path": "/r"}, "rewrite": {"path": "/w"}}),
                    message="redirect and rewrite cannot both be set"),
        _route_case("cel-rewrite-prefix-on-exact", R0, S(f"{R0}.matches", exact),
                    S(f"{R0}.filters.rewrite", {"pathPrefix": "/f"}),
                    message=rewrite_prefix),
        _route_case("cel-rewrite-prefix-on-regex", R0,
                    S(f"{R0}.matches", [{"path": {"type": "PathPrefix", "value": "/p"}},
                                        {"path": {"type": "RegularExpression", "value": "/r.*"}}]),
                    S(f"{R0}.filters.rewrite", {"pathPrefix": "/f"}),
                    message=rewrite_prefix),
        _route_case("cel-redirect-prefix-on-exact", R0, DIRECT, S(f"{R0}.matches", exact),
                    S(f"{R0}.filters.redirect", {"pathPrefix": "/f"}),
                    message=redirect_prefix),
        _route_case("cel-header-name-token", f"{R0}.filters.responseHeaders.add",
                    S(f"{R0}.filters.responseHeaders.add", {"X Space": "1"}),
                    message="header names must be RFC 9110 tokens of at most 256 characters"),
        _route_case("cel-header-name-too-long", f"{R0}.filters.requestHeaders.set",
                    S(f"{R0}.filters.requestHeaders.set", {"X" * 257: "1"}),
                    message="header names must be RFC 9110 tokens of at most 256 characters"),
        _route_case("cel-managed-header-set", f"{R0}.filters.requestHeaders.set",
                    S(f"{R0}.filters.requestHeaders.set", {"Transfer-Encoding": "identity"}),
                    message=managed),
        _route_case("cel-managed-header-add", f"{R0}.filters.responseHeaders.add",
                    S(f"{R0}.filters.responseHeaders.add", {"connection": "close"}),
                    message=managed),
        _route_case("cel-managed-header-remove", f"{R0}.filters.requestHeaders.remove[0]",
                    S(f"{R0}.filters.requestHeaders.remove", ["Content-Length"]), message=managed),
        # rule names
        _route_case("cel-duplicate-rule-names", "spec.rules",
                    S("spec.rules[1]", {"name": "r0", "directResponse": {"status": 200}}),
                    message="rule names must be unique"),
        # match paths (Exact/PathPrefix only; the same values are fine in a RegularExpression)
        bad_path("cel-path-relative", "v1", abs_msg),
        bad_path("cel-path-space", "/a b", chars_msg),
        bad_path("cel-path-query", "/a?b=1", chars_msg),
        bad_path("cel-path-fragment", "/a#b", chars_msg),
        bad_path("cel-path-bad-escape", "/a%zz", escape_msg),
        bad_path("cel-path-short-escape", "/a%4", escape_msg),
        bad_path("cel-path-encoded-slash", "/a%2fb", nul_msg),
        bad_path("cel-path-encoded-nul", "/a%00", nul_msg),
        bad_path("cel-path-double-slash", "/a//b", dots_msg),
        bad_path("cel-path-dot-segment", "/a/./b", dots_msg),
        bad_path("cel-path-dot-dot-segment", "/a/../b", dots_msg),
        bad_path("cel-path-trailing-dot-dot", "/a/..", dots_msg),
        bad_path("cel-path-trailing-dot", "/a/.", dots_msg),
        bad_path("cel-path-encoded-dots", "/a/%2e%2E/b", dots_msg),
        # hostnames and addresses
        _route_case("cel-hostname-ip", "spec.hostnames[0]", S("spec.hostnames", ["10.0.0.1"]),
                    message=no_ip),
        _route_case("cel-rewrite-hostname-ip", f"{R0}.filters.rewrite.hostname",
                    S(f"{R0}.filters.rewrite", {"hostname": "192.168.1.1"}), message=no_ip),
        _route_case("cel-redirect-hostname-ip", f"{R0}.filters.redirect.hostname", DIRECT,
                    S(f"{R0}.filters.redirect", {"hostname": "10.1.2.3"}), message=no_ip),
        _route_case("cel-ip-allow", "spec.policy.ipAllow[0]",
                    S("spec.policy.ipAllow", ["not-a-cidr"]),
                    message=cidr),
        _route_case("cel-ip-deny-prefix", f"{R0}.policy.ipDeny[0]",
                    S(f"{R0}.policy.ipDeny", ["10.0.0.0/33"]), message=cidr),
        # policy
        _route_case("cel-auth-type-and-anyof", "spec.policy.auth",
                    S("spec.policy.auth", {"type": "Basic", "anyOf": ["Basic"]}),
                    message="set either type or anyOf, not both"),
        _route_case("cel-jwt-without-keys", "spec.policy.auth",
                    S("spec.policy.auth", {"type": "JWT", "jwt": {"issuer": "https://i/"}}),
                    message=jwt_keys),
        _route_case("cel-jwt-anyof-without-jwt", f"{R0}.policy.auth",
                    S(f"{R0}.policy.auth", {"anyOf": ["APIKey", "JWT"],
                                            "apiKey": {"header": "X-API-Key"}}),
                    message=jwt_keys),
        _route_case("cel-apikey-without-source", "spec.policy.auth",
                    S("spec.policy.auth", {"type": "APIKey"}),
                    message="APIKey authentication needs apiKey.header or apiKey.queryParam"),
        _route_case("cel-apikey-anyof-empty-source", "spec.policy.auth",
                    S("spec.policy.auth", {"anyOf": ["Basic", "APIKey"], "apiKey": {}}),
                    message="APIKey authentication needs apiKey.header or apiKey.queryParam"),
        _route_case("cel-hash-on-without-consistent-hash", "spec.policy",
                    S("spec.policy", {"loadBalancer": "RoundRobin", "hashOn": "ClientIP"}),
                    message="hashOn needs loadBalancer: ConsistentHash"),
        _route_case("cel-consistent-hash-without-hash-on", f"{R0}.policy",
                    S(f"{R0}.policy", {"loadBalancer": "ConsistentHash"}),
                    message="loadBalancer: ConsistentHash needs hashOn"),
        _route_case("cel-cors-credentials-wildcard", "spec.policy.cors",
                    S("spec.policy.cors", {"allowOrigins": ["*"], "allowCredentials": True}),
                    message='allowCredentials cannot be combined with the wildcard origin "*"'),
        _route_case("cel-zero-timeout", "spec.policy.timeouts.connect",
                    S("spec.policy.timeouts", {"connect": "0s"}),
                    message="must be greater than zero"),
    ]


def edge_routes() -> list[dict]:
    """Values at the edges of what the translator accepts: all must validate."""
    route = base_route("edges")
    route["spec"]["hostnames"] = ["API.Example.com", "*.example.com", "xn--bcher-kva.example", "a1"]
    route["spec"]["policy"] = {
        "timeouts": {"connect": "500µs", "request": "1h30m", "idle": "1.5s"},
        "maxRequestBodySize": 0,
        "ipAllow": ["192.0.2.1", "2001:db8::1", "10.0.0.0/8", "::/0"],
        "cache": {"ttl": ".5s", "staleIfError": "1d", "maxObjectSize": 0, "keyQueryParams": [],
                  "methods": ["PATCH"]},
        "retries": {"attempts": 10, "retryOn": [], "perTryTimeout": "1ms", "backoff": "0s"},
        "circuitBreaker": {"consecutiveFailures": 1000, "openFor": "250us",
                           "maxConnections": 1000000, "maxPendingRequests": 0},
        "healthCheck": {"path": "/%7Eops/ready", "interval": "2ms", "timeout": "1ms",
                        "unhealthyThreshold": 100, "healthyThreshold": 1},
        "loadBalancer": "ConsistentHash",
        "hashOn": "Header:" + "X" * 256,
        "fallback": {"status": 599, "contentType": "text/plain;\tcharset=utf-8", "body": ""},
    }
    route["spec"]["rules"] = [
        {"matches": [{"path": {"type": "RegularExpression", "value": "/a?b#c//./(x|y)"}},
                     {"path": {"type": "PathPrefix", "value": "/a.b/..c/%7Euser/%41"}},
                     {"path": {"type": "Exact", "value": "/"}}],
         "backends": [{"url": "http://[fd00::7]:8081/"}, {"url": "https://a.example.com:65535"},
                      {"service": {"name": "s", "port": "http"}, "weight": 1000000}],
         "filters": {"requestHeaders": {"set": {"X-Custom_Header.v2": "tab\there"},
                                        "remove": ["x-c"]}},
         "policy": {"maxRequestBodySize": "10MB", "timeouts": {"request": "250us"}}},
        {"name": "0-digits-first", "matches": [{"method": "PATCH"}],
         "filters": {"redirect": {"hostname": "example.com", "port": 65535, "statusCode": 308,
                                  "path": "/x"}}},
        {"directResponse": {"status": 599, "body": ""}},
    ]
    return [route]


def example_routes() -> list[dict]:
    """APIRoutes the translator serves: the bundled examples and its own fixture."""
    out = []
    for path in (*sorted((REPO / "examples").rglob("*.yaml")),
                 REPO / "tests" / "testdata" / "translator" / "apiroute_full.in.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "APIRoute":
                out.append(doc)
    return out


# =============================================================================================
# Tests: the CRD objects
# =============================================================================================

CRDS = {
    "APIRoute": dict(plural="apiroutes", singular="apiroute", short="ar",
                     columns=[("Hosts", "string", ".spec.hostnames"),
                              ("Accepted", "string",
                               '.status.conditions[?(@.type=="Accepted")].status'),
                              ("Programmed", "string",
                               '.status.conditions[?(@.type=="Programmed")].status'),
                              ("Age", "date", ".metadata.creationTimestamp")]),
    "APIConsumer": dict(plural="apiconsumers", singular="apiconsumer", short="ac",
                        columns=[("Display Name", "string", ".spec.displayName"),
                                 ("Groups", "string", ".spec.groups"),
                                 ("Age", "date", ".metadata.creationTimestamp")]),
}


@pytest.fixture(scope="module")
def crds() -> dict[str, dict]:
    return {kind: load_crd(info["plural"]) for kind, info in CRDS.items()}


def test_crd_dir_holds_exactly_the_two_crds():
    assert sorted(p.name for p in CRD_DIR.glob("*.yaml")) == [
        "apiconsumers.atrium.dev.yaml", "apiroutes.atrium.dev.yaml"]


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_crd_names_scope_version_and_columns(crds, kind):
    crd, info = crds[kind], CRDS[kind]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == f"{info['plural']}.{GROUP}"
    spec = crd["spec"]
    assert spec["group"] == GROUP
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {"kind": kind, "listKind": kind + "List", "plural": info["plural"],
                             "singular": info["singular"], "shortNames": [info["short"]],
                             "categories": ["atrium"]}
    assert len(spec["versions"]) == 1
    version = spec["versions"][0]
    assert version["name"] == VERSION and version["served"] is True and version["storage"] is True
    assert version["subresources"] == {"status": {}}
    columns = [(c["name"], c["type"], c["jsonPath"]) for c in version["additionalPrinterColumns"]]
    assert columns == info["columns"]
    root = version["schema"]["openAPIV3Schema"]
    assert root["type"] == "object"
    assert set(root["properties"]) == {"apiVersion", "kind", "metadata", "spec", "status"}
    assert root["properties"]["metadata"] == {"type": "object"}
    status = root["properties"]["status"]["properties"]
    assert set(status) == {"observedGeneration", "conditions"}
    cond = status["conditions"]
    assert cond["x-kubernetes-list-type"] == "map"
    assert cond["x-kubernetes-list-map-keys"] == ["type"]
    assert set(cond["items"]["required"]) == {"type", "status", "lastTransitionTime", "reason",
                                              "message"}
    assert cond["items"]["properties"]["status"]["enum"] == ["True", "False", "Unknown"]


# =============================================================================================
# Tests: structural and bounded
# =============================================================================================

ALLOWED_KEYWORDS = {
    "description", "type", "format", "properties", "required", "items", "additionalProperties",
    "enum", "default", "pattern", "minLength", "maxLength", "minimum", "maximum", "minItems",
    "maxItems", "maxProperties", "anyOf", "x-kubernetes-int-or-string", "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys", "x-kubernetes-validations",
}
SCALARS = {"string", "integer", "number", "boolean", "int-or-string"}


def structural_problems(root: dict) -> list[str]:
    problems = []
    for path, node in walk(root):
        where = path or "<root>"
        unknown = set(node) - ALLOWED_KEYWORDS
        if unknown:
            problems.append(f"{where}: keywords not used by these CRDs / not structural: {unknown}")
        typ = schema_type(node)
        if node.get("x-kubernetes-int-or-string"):
            if "type" in node:
                problems.append(f"{where}: int-or-string must not set type")
            if node.get("anyOf", [{"type": "integer"}, {"type": "string"}]) != [
                    {"type": "integer"}, {"type": "string"}]:
                problems.append(f"{where}: int-or-string anyOf must be exactly [integer, string]")
            if "maxLength" not in node:
                problems.append(f"{where}: int-or-string needs maxLength for its string form")
        elif "anyOf" in node:
            problems.append(f"{where}: anyOf is only used for int-or-string")
        elif not typ:
            problems.append(f"{where}: no type (not structural)")
        if typ == "object":
            if "properties" in node and "additionalProperties" in node:
                problems.append(f"{where}: properties and additionalProperties together")
            if "additionalProperties" in node:
                if not isinstance(node["additionalProperties"], dict):
                    problems.append(f"{where}: additionalProperties must be a schema")
                if "maxProperties" not in node:
                    problems.append(f"{where}: map without maxProperties")
            elif "properties" not in node and path != "metadata":
                problems.append(f"{where}: object without properties")
            for req in node.get("required", []):
                if req not in node.get("properties", {}):
                    problems.append(f"{where}: required field {req} is not declared")
        if typ == "array":
            if not isinstance(node.get("items"), dict):
                problems.append(f"{where}: array without an items schema")
                continue
            if "maxItems" not in node:
                problems.append(f"{where}: array without maxItems")
            list_type = node.get("x-kubernetes-list-type")
            if list_type not in ("atomic", "set", "map"):
                problems.append(f"{where}: x-kubernetes-list-type must be atomic, set or map")
            items = node["items"]
            if list_type == "set" and schema_type(items) not in SCALARS:
                problems.append(f"{where}: a set needs scalar items")
            if list_type == "map":
                keys = node.get("x-kubernetes-list-map-keys") or []
                if not keys:
                    problems.append(f"{where}: a map list needs x-kubernetes-list-map-keys")
                for key in keys:
                    sub = items.get("properties", {}).get(key, {})
                    if schema_type(sub) not in SCALARS:
                        problems.append(f"{where}: map key {key} must be a scalar field")
                    if key not in items.get("required", []) and "default" not in sub:
                        problems.append(f"{where}: map key {key} must be required or defaulted")
            elif "x-kubernetes-list-map-keys" in node:
                problems.append(f"{where}: list-map-keys without list-type map")
        if typ == "string" and "maxLength" not in node:
            problems.append(f"{where}: string without maxLength")
        if typ in ("integer", "int-or-string") and "format" in node and node["format"] not in (
                "int32", "int64"):
            problems.append(f"{where}: unexpected integer format")
        if "pattern" in node:
            pattern = node["pattern"]
            if re.search(r"\(\?[=!<]|\\[1-9]", pattern):
                problems.append(f"{where}: pattern uses lookaround/backreferences (not RE2)")
            if not (pattern.startswith("^") and pattern.endswith("$")):
                problems.append(f"{where}: pattern must be anchored with ^...$")
            try:
                re.compile(pattern)
            except re.error as e:
                problems.append(f"{where}: pattern does not compile: {e}")
        if "default" in node:
            errors: list = []
            check(node["default"], node, where, errors)
            if errors:
                problems.append(f"{where}: default {node['default']!r} is invalid: {errors}")
        for value in node.get("enum", []):
            errors = []
            check(value, {k: v for k, v in node.items() if k != "enum"}, where, errors)
            if errors:
                problems.append(f"{where}: enum value {value!r} is invalid: {errors}")
    return problems


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_schema_is_structural_and_bounded(crds, kind):
    problems = structural_problems(root_schema(crds[kind]))
    assert not problems, "\n".join(problems)


def test_structural_check_catches_problems():
    bad = {"type": "object", "properties": {
        "a": {"type": "string"},                                       # no maxLength
        "b": {"properties": {"c": {"type": "boolean"}}},               # no type
        "d": {"type": "object", "properties": {"e": {"type": "integer"}},
              "additionalProperties": {"type": "string", "maxLength": 1}},
        "f": {"type": "array", "items": {"type": "string", "maxLength": 1},
              "x-kubernetes-list-type": "atomic"},                      # no maxItems
        "g": {"type": "string", "maxLength": 3, "pattern": "^(?=a)$"},  # lookahead
        "h": {"type": "integer", "default": "x"},                        # invalid default
        "i": {"type": "string", "maxLength": 3, "uniqueItems": True},
        "j": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string"}],
              "x-kubernetes-int-or-string": True, "maxLength": 3},
    }}
    text = "\n".join(structural_problems(bad))
    for needle in ("a: string without maxLength", "b: no type",
                   "d: properties and additionalProperties",
                   "f: array without maxItems", "g: pattern uses lookaround", "h: default",
                   "i: keywords", "j: int-or-string anyOf"):
        assert needle in text, f"{needle!r} not reported in:\n{text}"


def test_route_and_rule_policy_share_one_schema(crds):
    root = root_schema(crds["APIRoute"])
    route_policy = dict(resolve(root, "spec.policy"))
    rule_policy = dict(resolve(root, "spec.rules[].policy"))
    route_policy.pop("description")
    rule_policy.pop("description")
    assert route_policy == rule_policy


# --- CEL rules: present, with messages, plausibly formed --------------------------------------

CEL_FUNCTIONS = {"has", "size", "all", "exists", "exists_one", "matches", "startsWith", "endsWith",
                 "contains", "lowerAscii", "isIP", "isCIDR", "int", "string", "type"}


def cel_rules(root: dict) -> list[tuple[str, dict]]:
    return [(path, rule) for path, node in walk(root)
            for rule in node.get("x-kubernetes-validations", [])]


def cel_syntax_problems(rule: str) -> list[str]:
    """A lexical sanity check (no CEL parser on Debian): balanced brackets outside string
    literals, terminated strings, and only the functions/macros these CRDs mean to use."""
    problems, stack, i = [], [], 0
    pairs = {")": "(", "]": "[", "}": "{"}
    while i < len(rule):
        c = rule[i]
        raw = c in "rR" and i + 1 < len(rule) and rule[i + 1] in "'\""
        if raw:
            i += 1
            c = rule[i]
        if c in "'\"":
            quote = c
            i += 1
            while i < len(rule) and rule[i] != quote:
                i += 2 if (rule[i] == "\\" and not raw) else 1
            if i >= len(rule):
                problems.append("unterminated string literal")
            i += 1
            continue
        if c in "([{":
            stack.append(c)
        elif c in ")]}":
            if not stack or stack.pop() != pairs[c]:
                problems.append(f"unbalanced {c!r}")
        i += 1
    if stack:
        problems.append(f"unclosed {stack}")
    stripped = re.sub(r"""[rR]?'(?:\\.|[^'\\])*'|[rR]?"(?:\\.|[^"\\])*\"""", "''", rule)
    for name in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", stripped):
        if name not in CEL_FUNCTIONS:
            problems.append(f"unexpected function {name}()")
    if "self" not in stripped:
        problems.append("does not refer to self")
    return problems


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_cel_rules_have_messages_and_parse(crds, kind):
    rules = cel_rules(root_schema(crds[kind]))
    problems = []
    for path, rule in rules:
        if set(rule) != {"rule", "message"}:
            problems.append(f"{path}: expected exactly rule and message, got {sorted(rule)}")
        text, message = rule.get("rule"), rule.get("message")
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{path}: empty rule")
            continue
        if not isinstance(message, str) or not message.strip() or "\n" in message:
            problems.append(f"{path}: a rule needs a one-line message")
        if "oldSelf" in text:
            problems.append(f"{path}: transition rules are not used here")
        problems += [f"{path}: {text}: {p}" for p in cel_syntax_problems(text)]
    assert not problems, "\n".join(problems)
    if kind == "APIRoute":
        assert len(rules) >= 20


def test_cel_syntax_check_catches_problems():
    assert cel_syntax_problems("has(self.a) && (self.b") == ["unclosed ['(']"]
    assert "unterminated string literal" in cel_syntax_problems("self.matches('abc)")
    assert "unexpected function frobnicate()" in cel_syntax_problems("frobnicate(self)")
    assert cel_syntax_problems(r"self.matches(r'[\x00-\x20]') && self.startsWith(')')") == []


def test_every_cel_rule_has_a_case():
    """Each CEL message is produced by at least one case of cel_cases() (which
    tests/k8s/test_crds_apiserver.py sends to a real API server)."""
    messages = {rule["message"] for kind, info in CRDS.items()
                for _, rule in cel_rules(root_schema(load_crd(info["plural"])))}
    covered = {case.message for case in cel_cases()}
    assert messages - covered == set(), "CEL rules without a case"
    assert covered - messages == set(), "cases expecting a message no rule has"


# =============================================================================================
# Tests: agreement with the translator
# =============================================================================================

# Every field key the translator reads → where it lives in the APIRoute schema (walk() paths)
# and the schema type there.
M = "spec.rules[].matches[]"
F = "spec.rules[].filters"
B = "spec.rules[].backends[]"
POL = ("spec.policy", "spec.rules[].policy")
TRANSLATOR_FIELDS: dict[str, list[tuple[str, str]]] = {
    "spec": [("spec", "object")],
    "ingressClassName": [("spec.ingressClassName", "string")],
    "hostnames": [("spec.hostnames", "array")],
    "tls": [("spec.tls", "object"), (f"{B}.tls", "object")],
    "redirectHTTP": [("spec.tls.redirectHTTP", "boolean")],
    "hsts": [("spec.tls.hsts", "object")],
    "maxAge": [("spec.tls.hsts.maxAge", "integer")] + [(f"{p}.cors.maxAge", "integer")
                                                       for p in POL],
    "includeSubDomains": [("spec.tls.hsts.includeSubDomains", "boolean")],
    "preload": [("spec.tls.hsts.preload", "boolean")],
    "clientValidation": [("spec.tls.clientValidation", "object")],
    "optional": [("spec.tls.clientValidation.optional", "boolean")],
    "insecureSkipVerify": [(f"{B}.tls.insecureSkipVerify", "boolean")],
    "serverName": [(f"{B}.tls.serverName", "string")],
    "caSecretRef": [(f"{B}.tls.caSecretRef", "object")],
    "key": [(f"{B}.tls.caSecretRef.key", "string")]
    + [(f"{p}.rateLimit.limits[].key", "string") for p in POL],
    "policy": [("spec.policy", "object"), ("spec.rules[].policy", "object")],
    "rules": [("spec.rules", "array")],
    "name": [("spec.rules[].name", "string"), (f"{M}.headers[].name", "string"),
             (f"{M}.queryParams[].name", "string"), (f"{B}.service.name", "string"),
             (f"{B}.tls.caSecretRef.name", "string"),
             ("spec.rules[].aggregate.calls[].name", "string"),
             ("spec.rules[].aggregate.calls[].service.name", "string")],
    "matches": [("spec.rules[].matches", "array")],
    "path": [(f"{M}.path", "object"), (f"{F}.rewrite.path", "string"),
             ("spec.rules[].aggregate.calls[].path", "string"),
             (f"{F}.redirect.path", "string")] + [(f"{p}.healthCheck.path", "string") for p in POL],
    "type": [(f"{M}.path.type", "string"), (f"{M}.headers[].type", "string"),
             (f"{M}.queryParams[].type", "string")],
    "value": [(f"{M}.path.value", "string"), (f"{M}.headers[].value", "string"),
              (f"{M}.queryParams[].value", "string")],
    "method": [(f"{M}.method", "string"), ("spec.rules[].aggregate.calls[].method", "string")],
    "headers": [(f"{M}.headers", "array")],
    "queryParams": [(f"{M}.queryParams", "array")],
    "filters": [(F, "object")],
    "rewrite": [(f"{F}.rewrite", "object")],
    "redirect": [(f"{F}.redirect", "object")],
    "hostname": [(f"{F}.rewrite.hostname", "string"), (f"{F}.redirect.hostname", "string")],
    "pathPrefix": [(f"{F}.rewrite.pathPrefix", "string"), (f"{F}.redirect.pathPrefix", "string")],
    "scheme": [(f"{F}.redirect.scheme", "string")],
    "port": [(f"{F}.redirect.port", "integer"), (f"{B}.service.port", "int-or-string"),
             ("spec.rules[].aggregate.calls[].service.port", "int-or-string")],
    "statusCode": [(f"{F}.redirect.statusCode", "integer")],
    "requestHeaders": [(f"{F}.requestHeaders", "object")],
    "responseHeaders": [(f"{F}.responseHeaders", "object")],
    "set": [(f"{F}.requestHeaders.set", "object"), (f"{F}.responseHeaders.set", "object")],
    "add": [(f"{F}.requestHeaders.add", "object"), (f"{F}.responseHeaders.add", "object")],
    "remove": [(f"{F}.requestHeaders.remove", "array"), (f"{F}.responseHeaders.remove", "array")],
    "backends": [("spec.rules[].backends", "array")],
    "weight": [(f"{B}.weight", "integer")],
    "service": [(f"{B}.service", "object"), ("spec.rules[].aggregate.calls[].service", "object")],
    "url": [(f"{B}.url", "string"), ("spec.rules[].aggregate.calls[].url", "string")],
    "directResponse": [("spec.rules[].directResponse", "object")],
    "status": [("spec.rules[].directResponse.status", "integer")]
    + [(f"{p}.fallback.status", "integer") for p in POL],
    "contentType": [("spec.rules[].directResponse.contentType", "string")]
    + [(f"{p}.fallback.contentType", "string") for p in POL],
    "body": [("spec.rules[].directResponse.body", "string")]
    + [(f"{p}.fallback.body", "string") for p in POL],
    "aggregate": [("spec.rules[].aggregate", "object")],
    "calls": [("spec.rules[].aggregate.calls", "array")],
    "onError": [("spec.rules[].aggregate.onError", "string")],
    "maxCallBodySize": [("spec.rules[].aggregate.maxCallBodySize", "int-or-string")],
    "timeouts": [(f"{p}.timeouts", "object") for p in POL],
    "connect": [(f"{p}.timeouts.connect", "string") for p in POL],
    "request": [(f"{p}.timeouts.request", "string") for p in POL],
    "idle": [(f"{p}.timeouts.idle", "string") for p in POL],
    "maxRequestBodySize": [(f"{p}.maxRequestBodySize", "int-or-string") for p in POL],
    "ipAllow": [(f"{p}.ipAllow", "array") for p in POL],
    "ipDeny": [(f"{p}.ipDeny", "array") for p in POL],
    "auth": [(f"{p}.auth", "object") for p in POL],
    "anyOf": [(f"{p}.auth.anyOf", "array") for p in POL],
    "apiKey": [(f"{p}.auth.apiKey", "object") for p in POL],
    "header": [(f"{p}.auth.{f}", "string") for p in POL
               for f in ("apiKey.header", "jwt.claimsToHeaders[].header")],
    "queryParam": [(f"{p}.auth.apiKey.queryParam", "string") for p in POL],
    "basic": [(f"{p}.auth.basic", "object") for p in POL],
    "realm": [(f"{p}.auth.basic.realm", "string") for p in POL],
    "allowConsumers": [(f"{p}.auth.allowConsumers", "array") for p in POL],
    "allowGroups": [(f"{p}.auth.allowGroups", "array") for p in POL],
    "stripCredentials": [(f"{p}.auth.stripCredentials", "boolean") for p in POL],
    "jwt": [(f"{p}.auth.jwt", "object") for p in POL],
    "issuer": [(f"{p}.auth.jwt.issuer", "string") for p in POL],
    "audiences": [(f"{p}.auth.jwt.audiences", "array") for p in POL],
    "jwksSecretRef": [(f"{p}.auth.jwt.jwksSecretRef", "object") for p in POL],
    "jwksURI": [(f"{p}.auth.jwt.jwksURI", "string") for p in POL],
    "hmacSecretRef": [(f"{p}.auth.jwt.hmacSecretRef", "object") for p in POL],
    "algorithms": [(f"{p}.auth.jwt.algorithms", "array") for p in POL],
    "clockSkew": [(f"{p}.auth.jwt.clockSkew", "string") for p in POL],
    "claimsToHeaders": [(f"{p}.auth.jwt.claimsToHeaders", "array") for p in POL],
    "claim": [(f"{p}.auth.jwt.claimsToHeaders[].claim", "string") for p in POL],
    "consumerClaim": [(f"{p}.auth.jwt.consumerClaim", "string") for p in POL],
    "rateLimit": [(f"{p}.rateLimit", "object") for p in POL],
    "limits": [(f"{p}.rateLimit.limits", "array") for p in POL],
    "requests": [(f"{p}.rateLimit.limits[].requests", "integer") for p in POL],
    "period": [(f"{p}.rateLimit.limits[].period", "string") for p in POL],
    "burst": [(f"{p}.rateLimit.limits[].burst", "integer") for p in POL],
    "scope": [(f"{p}.rateLimit.scope", "string") for p in POL],
    "cache": [(f"{p}.cache", "object") for p in POL],
    "ttl": [(f"{p}.cache.ttl", "string") for p in POL],
    "methods": [(f"{p}.cache.methods", "array") for p in POL],
    "vary": [(f"{p}.cache.vary", "array") for p in POL],
    "respectCacheControl": [(f"{p}.cache.respectCacheControl", "boolean") for p in POL],
    "staleIfError": [(f"{p}.cache.staleIfError", "string") for p in POL],
    "maxObjectSize": [(f"{p}.cache.maxObjectSize", "int-or-string") for p in POL],
    "keyQueryParams": [(f"{p}.cache.keyQueryParams", "array") for p in POL],
    "shareAcrossConsumers": [(f"{p}.cache.shareAcrossConsumers", "boolean") for p in POL],
    "cacheSetCookie": [(f"{p}.cache.cacheSetCookie", "boolean") for p in POL],
    "retries": [(f"{p}.retries", "object") for p in POL],
    "attempts": [(f"{p}.retries.attempts", "integer") for p in POL],
    "retryOn": [(f"{p}.retries.retryOn", "array") for p in POL],
    "perTryTimeout": [(f"{p}.retries.perTryTimeout", "string") for p in POL],
    "backoff": [(f"{p}.retries.backoff", "string") for p in POL],
    "retryNonIdempotent": [(f"{p}.retries.retryNonIdempotent", "boolean") for p in POL],
    "circuitBreaker": [(f"{p}.circuitBreaker", "object") for p in POL],
    "consecutiveFailures": [(f"{p}.circuitBreaker.consecutiveFailures", "integer") for p in POL],
    "openFor": [(f"{p}.circuitBreaker.openFor", "string") for p in POL],
    "maxConnections": [(f"{p}.circuitBreaker.maxConnections", "integer") for p in POL],
    "maxPendingRequests": [(f"{p}.circuitBreaker.maxPendingRequests", "integer") for p in POL],
    "healthCheck": [(f"{p}.healthCheck", "object") for p in POL],
    "interval": [(f"{p}.healthCheck.interval", "string") for p in POL],
    "timeout": [(f"{p}.healthCheck.timeout", "string") for p in POL]
    + [("spec.rules[].aggregate.timeout", "string")],
    "unhealthyThreshold": [(f"{p}.healthCheck.unhealthyThreshold", "integer") for p in POL],
    "healthyThreshold": [(f"{p}.healthCheck.healthyThreshold", "integer") for p in POL],
    "loadBalancer": [(f"{p}.loadBalancer", "string") for p in POL],
    "hashOn": [(f"{p}.hashOn", "string") for p in POL],
    "fallback": [(f"{p}.fallback", "object") for p in POL],
    "cors": [(f"{p}.cors", "object") for p in POL],
    "allowOrigins": [(f"{p}.cors.allowOrigins", "array") for p in POL],
    "allowMethods": [(f"{p}.cors.allowMethods", "array") for p in POL],
    "allowHeaders": [(f"{p}.cors.allowHeaders", "array") for p in POL],
    "exposeHeaders": [(f"{p}.cors.exposeHeaders", "array") for p in POL],
    "allowCredentials": [(f"{p}.cors.allowCredentials", "boolean") for p in POL],
}
# Lower-case literals in the translator that are values, not field names.
TRANSLATOR_VALUES = {"http", "https",  # redirect schemes
                     "reset",  # a retries.retryOn value
                     "data",  # a Secret's data, read for JWT key material
                     "sub",   # the default consumerClaim
                     "connection", "te", "trailer", "upgrade"}  # managed header names

# How the translator reads a key → the schema type that must be there.
READ_TYPES = {"string": {"string"}, "integer": {"integer"}, "boolean": {"boolean"},
              "object": {"object"}, "array": {"array"}, "readDurationMs": {"string"},
              "readCidrs": {"array"}, "readStringMatches": {"array"},
              "readHeaderModifier": {"object"}, "readByteSize": {"int-or-string"},
              "readBounded": {"integer"}}


def translator_source() -> str:
    return "\n".join(path.read_text() for path in TRANSLATOR_FILES)


def field_map_problems(root: dict, fields: dict, literals: set) -> list[str]:
    """Each key of a translator field map is still read, and sits in the schema at every place
    the map gives, with the type the map gives."""
    problems = []
    for key, places in fields.items():
        if key not in literals:
            problems.append(f"{key}: listed here but no longer read by the translator")
        for path, typ in places:
            node = resolve(root, path)
            if node is None:
                problems.append(f"{key}: {path} is missing from the schema")
            elif schema_type(node) != typ:
                problems.append(f"{key}: {path} is {schema_type(node)!r}, expected {typ!r}")
    return problems


def test_every_translator_field_is_in_the_schema(crds):
    source = translator_source()
    literals = set(re.findall(r'"([a-z][A-Za-z]*)"', source))
    unmapped = literals - set(TRANSLATOR_FIELDS) - TRANSLATOR_VALUES
    assert not unmapped, (f"the translator reads {sorted(unmapped)}: add them to the CRD schema "
                          "and to TRANSLATOR_FIELDS")
    root = root_schema(crds["APIRoute"])
    problems = field_map_problems(root, TRANSLATOR_FIELDS, literals)
    # The way the translator reads each key must fit the type of at least one of its places.
    reads = re.findall(r"\br\.(string|integer|boolean|object|array)\([^;]*?\"([a-zA-Z]+)\"\)",
                       source)
    reads += re.findall(r"\b(readDurationMs|readCidrs|readStringMatches|readHeaderModifier|"
                        r"readByteSize|readBounded)\([^;]*?\"([a-zA-Z]+)\"", source)
    assert len(reads) >= 30
    for how, key in reads:
        types = {typ for _, typ in TRANSLATOR_FIELDS.get(key, [])}
        if not types & READ_TYPES[how]:
            problems.append(f"{key}: read as {how} but the schema has {sorted(types)}")
    assert not problems, "\n".join(problems)


# The same for the APIConsumer translator (consumer_translator.cc, and plan_reader.cc for
# spec.plan; plan.rateLimit's bucket fields are read by rate_limit_reader.cc, checked above).
CONSUMER_TRANSLATOR_FILES = [REPO / "controller" / "translator" / name
                             for name in ("consumer_translator.cc", "plan_reader.cc")]
CREDS = "spec.credentials"
CONSUMER_TRANSLATOR_FIELDS: dict[str, list[tuple[str, str]]] = {
    "spec": [("spec", "object")],
    "displayName": [("spec.displayName", "string")],
    "groups": [("spec.groups", "array")],
    "credentials": [(CREDS, "object")],
    "apiKeys": [(f"{CREDS}.apiKeys", "array")],
    "secretRef": [(f"{CREDS}.apiKeys[].secretRef", "object"),
                  (f"{CREDS}.basicAuth.secretRef", "object")],
    "name": [(f"{CREDS}.apiKeys[].secretRef.name", "string"),
             (f"{CREDS}.basicAuth.secretRef.name", "string")],
    "key": [(f"{CREDS}.apiKeys[].secretRef.key", "string")],
    "basicAuth": [(f"{CREDS}.basicAuth", "object")],
    "jwt": [(f"{CREDS}.jwt", "object")],
    "subject": [(f"{CREDS}.jwt.subject", "string")],
    "plan": [("spec.plan", "object")],
    "rateLimit": [("spec.plan.rateLimit", "object")],
    "quota": [("spec.plan.quota", "object")],
    "requests": [("spec.plan.quota.requests", "integer")],
    "period": [("spec.plan.quota.period", "string")],
    "pricing": [("spec.plan.pricing", "object")],
    "currency": [("spec.plan.pricing.currency", "string")],
    "perThousandRequests": [("spec.plan.pricing.perThousandRequests", "string")],
}
CONSUMER_TRANSLATOR_VALUES = {"data", "username", "password",  # a Secret's data and Basic keys
                              "day", "month"}  # quota periods


def test_every_consumer_translator_field_is_in_the_schema(crds):
    source = "\n".join(path.read_text() for path in CONSUMER_TRANSLATOR_FILES)
    literals = set(re.findall(r'"([a-z][A-Za-z]*)"', source))
    unmapped = literals - set(CONSUMER_TRANSLATOR_FIELDS) - CONSUMER_TRANSLATOR_VALUES
    assert not unmapped, (f"the consumer translator reads {sorted(unmapped)}: add them to the "
                          "CRD schema and to CONSUMER_TRANSLATOR_FIELDS")
    root = root_schema(crds["APIConsumer"])
    problems = field_map_problems(root, CONSUMER_TRANSLATOR_FIELDS, literals)
    # plan.rateLimit is read by readRateLimit without a key: its bucket fields must be there.
    for field, typ in (("requests", "integer"), ("period", "string"), ("burst", "integer")):
        node = resolve(root, f"spec.plan.rateLimit.{field}")
        assert node is not None and schema_type(node) == typ, field
    assert resolve(root, "spec.plan.rateLimit.key") is None
    assert resolve(root, "spec.plan.quota.period")["enum"] == ["day", "month"]
    assert resolve(root, "spec.plan.pricing.currency")["pattern"] == "^[A-Z]{3}$"
    assert not problems, "\n".join(problems)


def test_policy_fields_match_the_translators_known_set(crds):
    """The translator's kKnown policy fields and the schema's policy fields are the same set
    (hashOn, ConsistentHash's key, included)."""
    source = translator_source()
    known = re.search(r"kKnown = \{(.*?)\};", source, re.S).group(1)
    known = set(re.findall(r'"([A-Za-z]+)"', known))
    for path in POL:
        props = set(resolve(root_schema(crds["APIRoute"]), path)["properties"])
        assert known == props


def test_enums_list_what_the_translator_accepts(crds):
    source = translator_source()
    root = root_schema(crds["APIRoute"])
    methods = re.search(r"kMethods = \{(.*?)\};", source, re.S).group(1)
    assert resolve(root, f"{M}.method")["enum"] == re.findall(r'"([A-Z]+)"', methods)
    assert resolve(root, f"{M}.path.type")["enum"] == ["Exact", "PathPrefix", "RegularExpression"]
    for t in ("Exact", "PathPrefix", "RegularExpression"):
        assert f'"{t}"' in source
    for place in ("headers", "queryParams"):
        assert resolve(root, f"{M}.{place}[].type")["enum"] == ["Exact", "RegularExpression"]
    assert resolve(root, f"{F}.redirect.scheme")["enum"] == ["http", "https"]
    assert '*s != "http" && *s != "https"' in source
    codes = resolve(root, f"{F}.redirect.statusCode")["enum"]
    assert codes == [301, 302, 303, 307, 308]
    for code in codes:
        assert f"*code != {code}" in source
    # Ranges the translator enforces.
    assert (resolve(root, f"{B}.weight")["minimum"], resolve(root, f"{B}.weight")["maximum"]) == (
        0, 1000000)
    assert "weight < 0 || weight > 1'000'000" in source
    status = resolve(root, "spec.rules[].directResponse.status")
    assert (status["minimum"], status["maximum"]) == (200, 599)
    for port in (f"{F}.redirect.port", f"{B}.service.port"):
        assert (resolve(root, port)["minimum"], resolve(root, port)["maximum"]) == (1, 65535)
    # policy.rateLimit: scope values, key forms and the bounds of counts and of the limit list.
    for place in POL:
        assert resolve(root, f"{place}.rateLimit.scope")["enum"] == ["Local", "Global"]
        limits = resolve(root, f"{place}.rateLimit.limits")
        assert (limits["minItems"], limits["maxItems"]) == (1, 8)
        for field, minimum in (("requests", 1), ("burst", 0)):
            node = resolve(root, f"{place}.rateLimit.limits[].{field}")
            assert (node["minimum"], node["maximum"]) == (minimum, 1000000000)
        assert resolve(root, f"{place}.rateLimit.limits[].key")["pattern"].startswith(
            "^(Consumer|ClientIP|Route|Header:")
    for value in ("Local", "Global", "Consumer", "ClientIP", "Route", "Header:"):
        assert f'"{value}' in source, value
    assert "kMaxRateLimitCount = 1'000'000'000" in source
    assert "kMaxRateLimits = 8" in source
    assert "*requests < 1 || *requests > kMaxRateLimitCount" in source
    assert "*burst < 0 || *burst > kMaxRateLimitCount" in source
    # cache, retries, circuitBreaker, healthCheck, loadBalancer, hashOn, fallback: the enums and
    # bounds of the schema are the translator's (resilience_reader.h, cache_reader.h).
    for place in POL:
        assert resolve(root, f"{place}.cache.methods[]")["enum"] == resolve(
            root, f"{M}.method")["enum"]
        for field, items in (("methods", 9), ("vary", 16), ("keyQueryParams", 32)):
            assert resolve(root, f"{place}.cache.{field}")["maxItems"] == items, field
        assert resolve(root, f"{place}.cache.methods")["minItems"] == 1
        assert resolve(root, f"{place}.cache.keyQueryParams[]")["maxLength"] == 256
        assert resolve(root, f"{place}.retries.retryOn[]")["enum"] == [
            "connect-failure", "reset", "502", "503", "504"]
        for field, bounds in (("retries.attempts", (0, 10)),
                              ("circuitBreaker.consecutiveFailures", (1, 1000)),
                              ("circuitBreaker.maxConnections", (1, 1000000)),
                              ("circuitBreaker.maxPendingRequests", (0, 1000000)),
                              ("healthCheck.unhealthyThreshold", (1, 100)),
                              ("healthCheck.healthyThreshold", (1, 100)),
                              ("fallback.status", (200, 599))):
            node = resolve(root, f"{place}.{field}")
            assert (node["minimum"], node["maximum"]) == bounds, field
        assert resolve(root, f"{place}.fallback")["required"] == ["status"]
        assert resolve(root, f"{place}.loadBalancer")["enum"] == [
            "RoundRobin", "LeastRequest", "ConsistentHash"]
        assert resolve(root, f"{place}.hashOn")["pattern"].startswith(
            "^(ClientIP|Header:")
    for value in ("connect-failure", "reset", "502", "503", "504", "RoundRobin", "LeastRequest",
                  "ConsistentHash", "Cookie:"):
        assert f'"{value}' in source, value
    for constant in ("kMaxRetryAttempts = 10", "kMaxConsecutiveFailures = 1000",
                     "kMaxCircuitLimit = 1'000'000", "kMaxHealthThreshold = 100",
                     "kMaxCacheMethods = 9", "kMaxCacheVary = 16",
                     "kMaxCacheKeyQueryParams = 32", "kMaxCacheKeyQueryParamLength = 256"):
        assert constant in source, constant
    for call in ('"attempts", 0, kMaxRetryAttempts', '"consecutiveFailures", 1, '
                 'kMaxConsecutiveFailures', '"maxConnections", 1, kMaxCircuitLimit',
                 '"maxPendingRequests", 0, kMaxCircuitLimit',
                 '"unhealthyThreshold", 1, kMaxHealthThreshold',
                 '"healthyThreshold", 1, kMaxHealthThreshold', "status < 200 || status > 599"):
        assert call in re.sub(r"\s+", " ", source), call
    # Managed headers: the CEL rules name exactly the translator's kManaged set.
    managed = re.search(r"kManaged = \{(.*?)\};", source, re.S).group(1)
    managed = sorted(re.findall(r'"([a-z-]+)"', managed))
    for path in (f"{F}.requestHeaders.set", f"{F}.responseHeaders.add",
                 f"{F}.requestHeaders.remove[]"):
        rules = " ".join(r["rule"] for r in resolve(root, path)["x-kubernetes-validations"])
        listed = sorted(re.findall(r"'([a-z-]+)'", rules))
        assert listed == managed, path


def all_defaults(root: dict) -> dict[str, Any]:
    return {path: node["default"] for path, node in walk(root) if "default" in node}


def test_defaults_are_exactly_the_translators(crds):
    """Only what the translator itself defaults is defaulted by the API server, so an object
    means the same in manifests mode and in a cluster."""
    assert all_defaults(root_schema(crds["APIRoute"])) == {
        f"{M}.path.type": "PathPrefix",                       # .value_or("PathPrefix")
        f"{M}.path.value": "/",                               # .value_or("/")
        f"{M}.headers[].type": "Exact",                       # .value_or("Exact")
        f"{M}.queryParams[].type": "Exact",
        f"{B}.weight": 1,                                     # .value_or(1)
        f"{F}.redirect.statusCode": 302,                      # config::Redirect default
        "spec.rules[].directResponse.status": 200,            # .value_or(200)
        "spec.rules[].directResponse.contentType": "text/plain",  # .value_or("text/plain")
    }
    assert all_defaults(root_schema(crds["APIConsumer"])) == {}
    compact = re.sub(r"\s+", "", translator_source())
    for key, default in (("type", '"PathPrefix"'), ("value", '"/"'), ("type", '"Exact"'),
                         ("weight", "1"), ("status", "200"), ("contentType", '"text/plain"')):
        assert f'"{key}").value_or({default})' in compact, (key, default)
    snapshot = (REPO / "src" / "config" / "snapshot.h").read_text()
    assert re.search(r"struct Redirect \{[^}]*int status_code = 302;", snapshot)


# =============================================================================================
# Tests: validation of good and bad objects
# =============================================================================================

def test_orders_example_and_translator_fixtures_validate(crds):
    routes = example_routes()
    assert {r["metadata"]["name"] for r in routes} >= {"orders", "everywhere"}
    for route in routes:
        assert validate(route, crds["APIRoute"]) == [], route["metadata"]["name"]


def test_edge_values_the_translator_accepts_validate(crds):
    for route in edge_routes():
        assert validate(route, crds["APIRoute"]) == []


def test_defaults_are_applied(crds):
    route = base_route()
    route["spec"]["rules"] = [
        {"matches": [{"path": {}}, {"headers": [{"name": "X-A", "value": "1"}]}],
         "backends": [{"service": {"name": "svc", "port": "http"}}]},
        {"filters": {"redirect": {"hostname": "example.com"}}},
        {"directResponse": {}},
    ]
    assert validate(route, crds["APIRoute"]) == []
    rules = defaulted(route, crds["APIRoute"])["spec"]["rules"]
    assert rules[0]["matches"][0]["path"] == {"type": "PathPrefix", "value": "/"}
    assert "path" not in rules[0]["matches"][1]  # a match without path stays without one
    assert rules[0]["matches"][1]["headers"][0]["type"] == "Exact"
    assert rules[0]["backends"][0]["weight"] == 1
    assert rules[1]["filters"]["redirect"]["statusCode"] == 302
    assert rules[2]["directResponse"] == {"status": 200, "contentType": "text/plain"}


def _property_paths(root: dict) -> set[str]:
    return {path for path, _ in walk(root) if path and path != "metadata" and
            not path.endswith("{}")}


def _object_paths(value: Any, path: str = "") -> set[str]:
    out = {path} if path else set()
    if isinstance(value, dict):
        for key, v in value.items():
            out |= _object_paths(v, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            out |= _object_paths(item, path + "[]")
    return out


@pytest.mark.parametrize("kind,objects",
                         [("APIRoute", full_routes), ("APIConsumer", full_consumers)])
def test_full_objects_use_every_field_and_validate(crds, kind, objects):
    docs = objects()
    for doc in docs:
        assert validate(doc, crds[kind]) == [], doc["metadata"]["name"]
    used = set()
    for doc in docs:
        # header maps: "set.X-A" is one map entry, not a field
        used |= {re.sub(r"\.(set|add)\..*$", r".\1", p) for p in _object_paths(doc)}
    missing = _property_paths(root_schema(crds[kind])) - used
    assert not missing, f"fields no full {kind} uses (add them): {sorted(missing)}"


@pytest.mark.parametrize("case", schema_cases(), ids=lambda c: c.id)
def test_bad_object_is_refused_by_the_schema(crds, case):
    obj = case.make()
    base = base_route if case.kind == "APIRoute" else base_consumer
    assert obj != base(obj["metadata"]["name"])
    errors = validate(obj, crds[case.kind])
    assert errors, f"{case.id}: accepted"
    assert case.field in [path for path, _ in errors], f"{case.id}: {errors}"


@pytest.mark.parametrize("case", cel_cases(), ids=lambda c: c.id)
def test_cel_case_passes_the_openapi_part(crds, case):
    """Only the CEL rule can refuse these, so the API server test proves that rule."""
    obj = case.make()
    assert validate(obj, crds[case.kind]) == []
    messages = {r["message"] for _, r in cel_rules(root_schema(crds[case.kind]))}
    assert case.message in messages
    # The rule sits where the case says the error is reported.
    node_path = re.sub(r"\[\d+\]", "[]", case.field)
    rules = resolve(root_schema(crds[case.kind]), node_path).get("x-kubernetes-validations", [])
    assert case.message in [r["message"] for r in rules], f"{case.id}: no such rule at {node_path}"


def test_bases_are_valid(crds):
    assert validate(base_route(), crds["APIRoute"]) == []
    assert validate(base_consumer(), crds["APIConsumer"]) == []


def test_validator_reports_unknown_fields_and_types(crds):
    route = base_route()
    route["spec"]["rules"][0]["backends"][0]["weight"] = True  # a bool is not an integer
    route["spec"]["extra"] = 1
    errors = validate(route, crds["APIRoute"])
    assert ("spec.extra", "unknown field") in errors
    assert ("spec.rules[0].backends[0].weight", "must be of type integer") in errors
    # Go's `$` does not match before a final newline; neither does ours.
    route = base_route()
    route["spec"]["rules"][0]["name"] = "r0\n"
    assert [p for p, _ in validate(route, crds["APIRoute"])] == ["spec.rules[0].name"]
