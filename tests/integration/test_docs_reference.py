"""docs/reference/ cannot drift from crds/ or from what Atrium implements.

- scripts/gen-crd-reference.py regenerates docs/reference/apiroute.md and apiconsumer.md in
  memory; a difference with the checked-in files fails and names the command to run. (The
  script itself refuses to render when one of its hand-written tables names a field that the
  CRD no longer has, or when a field has no example, or an example does not fit its schema.)
- The "not implemented yet" marks are checked against the real binary: for each policy field
  of an APIRoute and each field of an APIConsumer, `atrium check` on an object that uses it
  must refuse it ("not supported" error), ignore it ("not supported" warning) or take it,
  exactly as the script's NOT_IMPLEMENTED table says. The fields the table does not mark must
  be taken. So when a feature lands, this test says which mark to drop.
- The APIRoute example at the top of the reference uses only implemented fields: `atrium check`
  reports no error and no "not supported" warning for it.
"""

from __future__ import annotations

import difflib
import importlib.util
import subprocess

import pytest
import yaml

from conftest import ATRIUM_BIN, REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "gen-crd-reference.py"


def load_script():
    spec = importlib.util.spec_from_file_location("gen_crd_reference", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = load_script()


@pytest.mark.parametrize("kind", sorted(gen.KINDS))
def test_checked_in_reference_matches_the_crd(kind):
    path = REPO_ROOT / gen.KINDS[kind]["doc"]
    expected = gen.render(kind)
    current = path.read_text() if path.exists() else ""
    if current != expected:
        diff = "".join(list(difflib.unified_diff(
            current.splitlines(True), expected.splitlines(True), str(path), "regenerated"))[:60])
        pytest.fail(f"{gen.KINDS[kind]['doc']} is out of date with {gen.KINDS[kind]['crd']}; "
                    f"regenerate it with `{gen.COMMAND}`\n{diff}", pytrace=False)


def test_check_mode_agrees():
    r = subprocess.run(["python3", str(SCRIPT), "--check"], capture_output=True, text=True,
                       timeout=60, cwd=REPO_ROOT)
    assert r.returncode == 0, r.stderr


def test_every_field_has_a_row_and_an_example():
    for kind in gen.KINDS:
        text = (REPO_ROOT / gen.KINDS[kind]["doc"]).read_text()
        schema = gen.schema_of(gen.load_crd(kind))
        for path in gen.leaf_paths(schema):
            if path.startswith("spec.rules[].policy."):
                continue  # documented once, under spec.policy
            key = path.rsplit(".", 1)[-1]
            assert f"| `{key}` |" in text, f"{kind}: no row for {path}"


# --------------------------------------------------------------------------------------------
# "not implemented yet", checked against the binary

def check(tmp_path, docs) -> tuple[int, list[str]]:
    (tmp_path / "route.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    r = subprocess.run([ATRIUM_BIN, "check", str(tmp_path)], capture_output=True, text=True,
                       timeout=30, stdin=subprocess.DEVNULL)
    return r.returncode, [line for line in r.stdout.splitlines() if line.strip()]


def route(policy=None, rule_policy=None, rule_extra=None) -> list[dict]:
    rule = {"name": "r", "backends": [{"service": {"name": "svc", "port": 80}}]}
    if rule_policy is not None:
        rule["policy"] = rule_policy
    if rule_extra is not None:
        rule.pop("backends")
        rule.update(rule_extra)
    spec = {"hostnames": ["docs.example.com"], "rules": [rule]}
    if policy is not None:
        spec["policy"] = policy
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "svc", "namespace": "default"},
               "spec": {"ports": [{"name": "http", "port": 80}]}}
    return [{"apiVersion": "atrium.dev/v1alpha1", "kind": "APIRoute",
             "metadata": {"name": "docs", "namespace": "default"}, "spec": spec}, service]


# A small valid value for every field of `policy` (the API server would accept each).
POLICY_SAMPLES = {
    "auth": {"type": "APIKey", "apiKey": {"header": "X-API-Key"}},
    "rateLimit": {"limits": [{"requests": 100, "period": "1m"}]},
    "cache": {"ttl": "30s"},
    "timeouts": {"connect": "2s"},
    "retries": {"attempts": 2},
    "circuitBreaker": {"consecutiveFailures": 5},
    "healthCheck": {"path": "/healthz"},
    "loadBalancer": "RoundRobin",
    "hashOn": "ClientIP",
    "fallback": {"status": 503},
    "cors": {"allowOrigins": ["https://app.example.com"]},
    "ipAllow": ["10.0.0.0/8"],
    "ipDeny": ["192.0.2.0/24"],
    "maxRequestBodySize": "1Mi",
}


def behaviour(code: int, lines: list[str], field_path: str) -> str:
    """refused / ignored / implemented: what `atrium check` says about `field_path` (or a field
    inside it) being "not supported"."""
    about = [line for line in lines if "not supported" in line
             and (f": {field_path}:" in line or f": {field_path}." in line)]
    if any(not line.startswith("warning:") for line in about):
        assert code != 0, lines
        return "refused"
    return "ignored" if about else "implemented"


def documented(path: str, kind: str = "APIRoute") -> str:
    """What the reference says: IGNORED-style marks are warnings, the others refusals."""
    text = gen.NOT_IMPLEMENTED[kind].get(path)
    if text is None:
        return "implemented"
    ignored = text == gen.IGNORED or text.startswith(gen.CONSUMER_IGNORED)
    return "ignored" if ignored else "refused"


def test_policy_samples_cover_the_schema():
    schema = gen.schema_of(gen.load_crd("APIRoute"))
    assert set(POLICY_SAMPLES) == set(gen.node_at(schema, "spec.policy")["properties"])
    for key, value in POLICY_SAMPLES.items():
        node = gen.node_at(schema, f"spec.policy.{key}")
        assert gen.validate(value, node, key) == []


@pytest.mark.parametrize("field", sorted(POLICY_SAMPLES))
def test_not_implemented_marks_match_the_binary(tmp_path, field):
    value = {field: POLICY_SAMPLES[field]}
    if field == "hashOn":
        value["loadBalancer"] = "ConsistentHash"  # the API server wants both together
    for where, docs in (("spec.policy", route(policy=value)),
                        ("spec.rules[].policy", route(rule_policy=value))):
        code, lines = check(tmp_path, docs)
        seen = behaviour(code, lines, f"{where.replace('[]', '[0]')}.{field}")
        said = documented(f"{where}.{field}")
        assert seen == said, (
            f"docs/reference/apiroute.md says {where}.{field} is {said}, but `atrium check` "
            f"finds it {seen}:\n" + "\n".join(lines) + "\nupdate NOT_IMPLEMENTED in "
            f"scripts/gen-crd-reference.py, then run `{gen.COMMAND}`")


def test_jwt_mark_matches_the_binary(tmp_path):
    # JWT is implemented: nothing in the reference marks it, and the binary accepts it.
    for auth in ({"type": "JWT", "jwt": {"jwksURI": "https://auth.example.com/jwks.json"}},
                 {"anyOf": ["APIKey", "JWT"], "jwt": {"jwksURI": "https://a.example.com/k"}}):
        code, lines = check(tmp_path, route(policy={"auth": auth}))
        seen = behaviour(code, lines, "spec.policy.auth")
        assert seen == documented("spec.policy.auth.jwt") == "implemented", lines


def test_aggregate_mark_matches_the_binary(tmp_path):
    aggregate = {"aggregate": {"calls": [{"name": "user", "service": {"name": "svc", "port": 80},
                                          "path": "/users/{query.id}"}]}}
    code, lines = check(tmp_path, route(rule_extra=aggregate))
    assert behaviour(code, lines, "spec.rules[0].aggregate") == documented(
        "spec.rules[].aggregate"), lines


def consumer(spec: dict) -> dict:
    return {"apiVersion": "atrium.dev/v1alpha1", "kind": "APIConsumer",
            "metadata": {"name": "acme", "namespace": "default"}, "spec": spec}


def test_rate_limit_and_plan_are_implemented(tmp_path):
    # Nothing in the reference marks them, the binary takes them as written ...
    assert documented("spec.policy.rateLimit") == "implemented"
    assert documented("spec.rules[].policy.rateLimit") == "implemented"
    assert documented("spec.plan", "APIConsumer") == "implemented"
    limits = {"limits": [{"requests": 100, "period": "1m30s", "burst": 20, "key": "ClientIP"},
                         {"requests": 5000, "period": "1d", "key": "Header:X-Tenant"}],
              "scope": "Global"}
    for docs in (route(policy={"rateLimit": limits}), route(rule_policy={"rateLimit": limits})):
        code, lines = check(tmp_path, docs)
        assert code == 0, lines
        assert not [line for line in lines if "rateLimit" in line], lines
    code, lines = check(tmp_path, [consumer(CONSUMER_SAMPLES["plan"])])
    assert code == 0, lines
    assert not [line for line in lines if "spec.plan" in line], lines

    # ... and refuses them with their field path when they cannot be enforced as written: the
    # route (or the rule, or the consumer) is then not served.
    bad = {"limits": [{"requests": 10, "period": "60"}]}
    for where, docs in (("spec.policy", route(policy={"rateLimit": bad})),
                        ("spec.rules[0].policy", route(rule_policy={"rateLimit": bad}))):
        code, lines = check(tmp_path, docs)
        assert code != 0, lines
        assert any(not line.startswith("warning:") and
                   f": {where}.rateLimit.limits[0].period: invalid duration" in line
                   for line in lines), lines
    code, lines = check(tmp_path, [consumer({"plan": {"pricing": {"currency": "usd",
                                                                   "perThousandRequests": "1"}}})])
    assert code != 0, lines
    assert any(": spec.plan.pricing.currency: " in line and not line.startswith("warning:")
               for line in lines), lines


def test_per_consumer_limit_without_auth_is_a_warning(tmp_path):
    # The key defaults to Consumer; on a route that authenticates nobody the client IP is counted.
    code, lines = check(tmp_path, route(policy={"rateLimit": POLICY_SAMPLES["rateLimit"]}))
    assert code == 0, lines
    warning = ("spec.policy.rateLimit.limits[0].key: no consumer is authenticated on this route; "
               "the client IP is used")
    assert any(line.startswith("warning:") and f": {warning}" in line for line in lines), lines
    with_auth = {"auth": POLICY_SAMPLES["auth"], "rateLimit": POLICY_SAMPLES["rateLimit"]}
    code, lines = check(tmp_path, route(policy=with_auth))
    assert code == 0, lines
    assert not [line for line in lines if "rateLimit" in line], lines


# Every field of the policies the translator now builds into the configuration, with a value
# the API server accepts.
RESILIENCE_POLICY = {
    "cache": {"ttl": "30s", "methods": ["GET", "HEAD"], "vary": ["Accept-Language"],
              "respectCacheControl": False, "staleIfError": "5m", "maxObjectSize": "1Mi",
              "keyQueryParams": ["page"], "shareAcrossConsumers": True, "cacheSetCookie": False},
    "retries": {"attempts": 2, "retryOn": ["connect-failure", "503"], "perTryTimeout": "2s",
                "backoff": "100ms", "retryNonIdempotent": True},
    "circuitBreaker": {"consecutiveFailures": 5, "openFor": "30s", "maxConnections": 100,
                       "maxPendingRequests": 10},
    "healthCheck": {"path": "/ready", "interval": "10s", "timeout": "1s",
                    "unhealthyThreshold": 3, "healthyThreshold": 2},
    "loadBalancer": "ConsistentHash",
    "hashOn": "Cookie:session",
    "fallback": {"status": 503, "contentType": "application/json", "body": "{}"},
}


def test_resilience_policies_are_implemented(tmp_path):
    # Nothing in the reference marks them, the binary takes every field as written ...
    schema = gen.schema_of(gen.load_crd("APIRoute"))
    for field, value in RESILIENCE_POLICY.items():
        for where in ("spec.policy", "spec.rules[].policy"):
            assert documented(f"{where}.{field}") == "implemented", field
        node = gen.node_at(schema, f"spec.policy.{field}")
        assert gen.validate(value, node, field) == [], field
        if isinstance(value, dict):  # the sample uses every field of the object
            assert set(value) == set(node["properties"]), field
    for docs in (route(policy=RESILIENCE_POLICY), route(rule_policy=RESILIENCE_POLICY)):
        code, lines = check(tmp_path, docs)
        assert code == 0, lines
        assert not [line for line in lines if line.startswith("warning:")], lines

    # ... and refuses an invalid value at its field path: the route (or rule) is not served.
    bad = {"retries": {"attempts": 11}, "healthCheck": {"interval": "1s", "timeout": "2s"},
           "fallback": {"status": 503, "contentType": "a\r\nb: c"}}
    for where, docs in (("spec.policy", route(policy=bad)),
                        ("spec.rules[0].policy", route(rule_policy=bad))):
        code, lines = check(tmp_path, docs)
        assert code != 0, lines
        errors = [line for line in lines if not line.startswith("warning:")]
        for field in ("retries.attempts: must be between 0 and 10",
                      "healthCheck.timeout: timeout (2000ms) must be shorter than interval",
                      "fallback.contentType: must not contain control characters"):
            assert any(f": {where}.{field}" in line for line in errors), (field, lines)


# Every field of policy.cors, as the reference's example writes it.
CORS_POLICY = {
    "cors": {"allowOrigins": ["https://app.example.com", "https://*.example.com"],
             "allowMethods": ["GET", "PUT"], "allowHeaders": ["Authorization", "Content-Type"],
             "exposeHeaders": ["X-Request-Id"], "allowCredentials": True, "maxAge": 600},
}


def test_cors_is_implemented(tmp_path):
    # Nothing in the reference marks it, the binary takes every field as written ...
    schema = gen.schema_of(gen.load_crd("APIRoute"))
    for where in ("spec.policy", "spec.rules[].policy"):
        assert documented(f"{where}.cors") == "implemented"
    node = gen.node_at(schema, "spec.policy.cors")
    assert gen.validate(CORS_POLICY["cors"], node, "cors") == []
    assert set(CORS_POLICY["cors"]) == set(node["properties"])
    for docs in (route(policy=CORS_POLICY), route(rule_policy=CORS_POLICY)):
        code, lines = check(tmp_path, docs)
        assert code == 0, lines
        assert not [line for line in lines if line.startswith("warning:")], lines

    # ... and refuses an invalid value at its field path: the route (or rule) is not served.
    bad = {"cors": {"allowOrigins": ["https://app.example.com/path", "ftp://a.example.com"],
                    "allowHeaders": ["Bad Header"], "maxAge": 86401}}
    for where, docs in (("spec.policy", route(policy=bad)),
                        ("spec.rules[0].policy", route(rule_policy=bad))):
        code, lines = check(tmp_path, docs)
        assert code != 0, lines
        errors = [line for line in lines if not line.startswith("warning:")]
        for field in ("cors.allowOrigins[0]: must be scheme://host[:port], without a path",
                      "cors.allowOrigins[1]: the scheme must be http or https",
                      "cors.allowHeaders[0]: must be an HTTP header name",
                      "cors.maxAge: must be between 0 and 86400"):
            assert any(f": {where}.{field}" in line for line in errors), (field, lines)
    # Credentials with the origin "*", which the API server's rule refuses too.
    wildcard = {"cors": {"allowOrigins": ["*"], "allowCredentials": True}}
    code, lines = check(tmp_path, route(rule_policy=wildcard))
    assert code != 0, lines
    assert any(": spec.rules[0].policy.cors.allowCredentials: cannot be combined with "
               "allowOrigins: ['*']" in line for line in lines), lines


def test_hash_on_without_consistent_hash_is_a_warning(tmp_path):
    # The API server refuses it in one policy object; manifests mode serves the route, says so.
    code, lines = check(tmp_path, route(policy={"hashOn": "Header:X-User"}))
    assert code == 0, lines
    warning = "spec.policy.hashOn: is only used with loadBalancer: ConsistentHash; ignored"
    assert any(line.startswith("warning:") and f": {warning}" in line for line in lines), lines
    # ConsistentHash without hashOn keys on the client IP, quietly.
    code, lines = check(tmp_path, route(rule_policy={"loadBalancer": "ConsistentHash"}))
    assert code == 0, lines
    assert not [line for line in lines if "hashOn" in line or "loadBalancer" in line], lines


def test_reference_example_uses_only_implemented_fields(tmp_path):
    example = yaml.safe_load(gen.FULL_EXAMPLES["APIRoute"])
    code, lines = check(tmp_path, [example])
    assert code == 0, lines
    for line in lines:
        assert line.startswith("warning:") and "not supported" not in line, line


# A small valid value for every field of an APIConsumer's spec, with the Secrets it names.
CONSUMER_SAMPLES = {
    "displayName": "ACME Corp",
    "groups": ["gold"],
    "credentials": {"apiKeys": [{"secretRef": {"name": "acme-key", "key": "key"}}],
                    "basicAuth": {"secretRef": {"name": "acme-basic"}}},
    "credentials.jwt": {"jwt": {"subject": "acme"}},
    "plan": {"rateLimit": {"requests": 50, "period": "1s", "burst": 100},
             "quota": {"requests": 1000000, "period": "month"},
             "pricing": {"currency": "USD", "perThousandRequests": "0.40"}},
}
CONSUMER_SECRETS = [
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "acme-key", "namespace": "default"},
     "stringData": {"key": "k-123"}},
    {"apiVersion": "v1", "kind": "Secret",
     "metadata": {"name": "acme-basic", "namespace": "default"},
     "stringData": {"username": "acme", "password": "secret"}},
]


def test_consumer_samples_cover_the_schema():
    schema = gen.schema_of(gen.load_crd("APIConsumer"))
    spec = gen.node_at(schema, "spec")
    assert {k.split(".")[0] for k in CONSUMER_SAMPLES} == set(spec["properties"])
    for key, value in CONSUMER_SAMPLES.items():
        field = key.split(".")[0]
        assert gen.validate(value, spec["properties"][field], field) == []


@pytest.mark.parametrize("key", sorted(CONSUMER_SAMPLES))
def test_consumer_marks_match_the_binary(tmp_path, key):
    field = key.split(".")[0]
    consumer = {"apiVersion": "atrium.dev/v1alpha1", "kind": "APIConsumer",
                "metadata": {"name": "acme", "namespace": "default"},
                "spec": {field: CONSUMER_SAMPLES[key]}}
    code, lines = check(tmp_path, [consumer, *CONSUMER_SECRETS])
    path = f"spec.{key}"
    assert code == 0, lines
    assert behaviour(code, lines, path) == documented(path, "APIConsumer"), (
        f"docs/reference/apiconsumer.md and `atrium check` disagree about {path}:\n"
        + "\n".join(lines) + f"\nupdate NOT_IMPLEMENTED, then run `{gen.COMMAND}`")
    assert not [line for line in lines if "not supported" in line
                and not any(f": {p}" in line for p in gen.NOT_IMPLEMENTED["APIConsumer"])], lines
