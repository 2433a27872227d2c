"""The Helm chart helm/atrium: `helm lint`, `helm template` for the default values and for
combinations of options, the rendered objects checked field by field, the values schema refusing
bad values, the chart's CRDs equal to crds/, and the rendered objects accepted by a real
kube-apiserver (`kubectl apply --dry-run=server`, then a real `helm install` and `helm upgrade`).

The RBAC rules are proved by use in test_helm_rbac.py; here they are read.

Run by hand:
    eval "$(bash scripts/k8s-test-env.sh)"
    /usr/bin/python3 -m pytest -q tests/k8s/test_helm_chart.py
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kube_env import KubeEnvUnavailable, find_binaries  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "atrium"
NAMESPACE = "atrium-system"
CONTROLLER = "atrium.dev/ingress-controller"

# Value combinations rendered and checked below (`--set`-free: each is a values file).
COMBOS: dict[str, dict] = {
    "default": {},
    "hpa": {"autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 7,
                            "targetMemoryUtilizationPercentage": 80}},
    "servicemonitor": {"serviceMonitor": {"enabled": True, "interval": "15s",
                                          "labels": {"release": "prometheus"}}},
    "watch-namespace": {"watchNamespace": "team-a"},
    "existing-secrets": {"redis": {"existingSecret": "shared-redis", "existingSecretKey": "url"},
                         "adminToken": {"existingSecret": "ops-token",
                                        "existingSecretKey": "token"}},
    "secrets-from-values": {"redis": {"url": "redis://:hunter2@redis.cache:6379/0"},
                            "adminToken": {"value": "s3cr3t-admin"}},
    # Every option on at once (ServiceMonitor aside: the test API server lacks its CRD).
    "everything": {
        "replicaCount": 3,
        "image": {"repository": "registry.example.com/atrium", "tag": "0.1.0-rc1",
                  "pullPolicy": "Always"},
        "imagePullSecrets": [{"name": "registry-creds"}],
        "ingressClass": {"name": "edge", "create": True, "default": True},
        "watchNamespace": "team-a",
        "watchIngressWithoutClass": True,
        "publishAddress": "203.0.113.7",
        "drainTimeout": "1m",
        "preStopSleepSeconds": 10,
        "terminationGracePeriodSeconds": 90,
        "threads": 4,
        "logLevel": "debug",
        "logFormat": "text",
        "accessLog": "off",
        "trustedProxies": ["10.0.0.0/8", "fd00::/8"],
        "defaultTLSSecret": "atrium-system/wildcard",
        "redis": {"url": "redis://redis.cache:6379/1", "expectedReplicas": 5},
        "adminToken": {"existingSecret": "ops-token", "existingSecretKey": "token"},
        "extraArgs": ["--cache-size=256Mi"],
        "extraEnv": [{"name": "TZ", "value": "UTC"}],
        "stateDir": {"sizeLimit": "128Mi"},
        "resources": {"requests": {"cpu": "500m", "memory": "256Mi"},
                      "limits": {"cpu": "2", "memory": "1Gi"}},
        "service": {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                    "ports": {"http": 8000, "https": 8443},
                    "annotations": {"example.com/lb": "internal"},
                    "labels": {"tier": "edge"},
                    "loadBalancerSourceRanges": ["198.51.100.0/24"]},
        "adminService": {"port": 19901, "annotations": {"example.com/scrape": "true"}},
        "serviceAccount": {"create": True, "name": "edge-gateway",
                           "annotations": {"example.com/role": "gateway"}},
        "podAnnotations": {"example.com/team": "platform"},
        "podLabels": {"team": "platform"},
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "edge",
                         "effect": "NoSchedule"}],
        "podDisruptionBudget": {"enabled": True, "minAvailable": "50%"},
        "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 12,
                        "targetCPUUtilizationPercentage": 60,
                        "targetMemoryUtilizationPercentage": 75},
    },
}


# ----- running helm ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def helm_bin() -> str:
    try:
        return find_binaries()["helm"]
    except KubeEnvUnavailable as e:
        if os.environ.get("ATRIUM_K8S_REQUIRED") == "1":
            pytest.fail(str(e), pytrace=False)
        pytest.skip(str(e))


_helm_home = tempfile.mkdtemp(prefix="atrium-helm-")  # helm's caches and the values files
atexit.register(shutil.rmtree, _helm_home, True)


def run_helm(helm_bin: str, *args: str, check: bool = True,
             kubeconfig: str | None = None) -> subprocess.CompletedProcess:
    """The real helm, with its caches in a temporary folder and no cluster unless given one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELM_", "KUBECONFIG"))}
    env.update(HOME=_helm_home, HELM_CACHE_HOME=f"{_helm_home}/cache",
               HELM_CONFIG_HOME=f"{_helm_home}/config", HELM_DATA_HOME=f"{_helm_home}/data")
    cmd = [helm_bin, *args] + (["--kubeconfig", kubeconfig] if kubeconfig else [])
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    if check and res.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} exited {res.returncode}:\n"
                             f"{res.stderr}{res.stdout}")
    return res


def values_file(values: dict) -> str:
    f = tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="atrium-values-", delete=False,
                                    dir=_helm_home)
    with f:
        yaml.safe_dump(values, f)
    return f.name


def render_text(helm_bin: str, values: dict | None = None, release: str = "atrium",
                namespace: str = NAMESPACE, *extra: str) -> str:
    return run_helm(helm_bin, "template", release, str(CHART), "--namespace", namespace,
                    "--values", values_file(values or {}), *extra).stdout


def render(helm_bin: str, values: dict | None = None, release: str = "atrium",
           namespace: str = NAMESPACE, *extra: str) -> list[dict]:
    """`helm template` parsed: the list of objects (empty documents dropped)."""
    docs = yaml.safe_load_all(render_text(helm_bin, values, release, namespace, *extra))
    return [d for d in docs if d]


def one(objs: list[dict], kind: str, name: str | None = None) -> dict:
    found = [o for o in objs if o["kind"] == kind
             and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''} in {kinds(objs)}"
    return found[0]


def kinds(objs: list[dict]) -> list[str]:
    return sorted(f"{o['kind']}/{o['metadata']['name']}" for o in objs)


def rule_set(rules: list[dict]) -> set[tuple]:
    """RBAC rules flattened to (apiGroup, resource, verb, resourceName or "") tuples."""
    out = set()
    for r in rules:
        for g in r.get("apiGroups", []):
            for res in r.get("resources", []):
                for v in r.get("verbs", []):
                    for n in r.get("resourceNames") or [""]:
                        out.add((g, res, v, n))
    return out


def expand(rules: dict[tuple[str, str], list[str]], name: str = "") -> set[tuple]:
    return {(g, res, v, name) for (g, res), verbs in rules.items() for v in verbs}


READ = ["get", "list", "watch"]
WRITE_STATUS = ["update", "patch"]
# What Atrium reads and writes (SPEC §7), and all of it.
NAMESPACED_RULES = expand({
    ("networking.k8s.io", "ingresses"): READ,
    ("", "services"): READ,
    ("", "secrets"): READ,
    ("discovery.k8s.io", "endpointslices"): READ,
    ("atrium.dev", "apiroutes"): READ,
    ("atrium.dev", "apiconsumers"): READ,
    ("networking.k8s.io", "ingresses/status"): WRITE_STATUS,
    ("atrium.dev", "apiroutes/status"): WRITE_STATUS,
})
CLUSTER_RULES = expand({("networking.k8s.io", "ingressclasses"): READ})


def container(objs: list[dict]) -> dict:
    pod = one(objs, "Deployment")["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["atrium"]
    return pod["containers"][0]


def args_of(objs: list[dict]) -> dict[str, str]:
    """The container's `--flag=value` arguments as a dict (every one is written that way)."""
    out = {}
    for a in container(objs)["args"]:
        assert a.startswith("--") and "=" in a, a
        k, v = a[2:].split("=", 1)
        assert k not in out, f"--{k} given twice"
        out[k] = v
    return out


@pytest.fixture(scope="module")
def rendered(helm_bin) -> dict[str, list[dict]]:
    return {name: render(helm_bin, values) for name, values in COMBOS.items()}


# ----- lint and schema ------------------------------------------------------------------------


@pytest.mark.parametrize("combo", ["default", "everything", "servicemonitor"])
def test_helm_lint_passes(helm_bin, combo):
    res = run_helm(helm_bin, "lint", "--strict", str(CHART), "--namespace", NAMESPACE,
                   "--values", values_file(COMBOS[combo]))
    assert "1 chart(s) linted, 0 chart(s) failed" in res.stdout, res.stdout
    assert "[WARNING]" not in res.stdout and "[ERROR]" not in res.stdout, res.stdout


@pytest.mark.parametrize("values, complaint", [
    ({"replicaCount": "two"}, "replicaCount"),
    ({"replicaCount": 0}, "replicaCount"),
    ({"logFormat": "xml"}, "logFormat"),
    ({"logLevel": "verbose"}, "logLevel"),
    ({"drainTimeout": 30}, "drainTimeout"),
    ({"drainTimeout": "30 seconds"}, "drainTimeout"),
    ({"service": {"type": "Ingress"}}, "service.type"),
    ({"service": {"externalTrafficPolicy": "Nearest"}}, "service.externalTrafficPolicy"),
    ({"containerPorts": {"http": 80}}, "containerPorts.http"),
    ({"image": {"pullPolicy": "Sometimes"}}, "image.pullPolicy"),
    ({"image": {"repository": ""}}, "image.repository"),
    ({"ingressClass": {"name": "Not_A_Name"}}, "ingressClass.name"),
    ({"redis": {"url": "http://redis:6379"}}, "redis.url"),
    ({"redis": {"url": "redis://r:6379", "existingSecret": "also-this"}}, "redis"),
    ({"adminToken": {"value": "t", "existingSecret": "also-this"}}, "adminToken"),
    ({"autoscaling": {"enabled": "yes"}}, "autoscaling.enabled"),
    ({"autoscaling": {"targetCPUUtilizationPercentage": 150}},
     "autoscaling.targetCPUUtilizationPercentage"),
    ({"extraArgs": ["no-dashes"]}, "extraArgs"),
    ({"redis": {"expectedReplicas": 0}}, "redis.expectedReplicas"),
    ({"redis": {"expectedReplicas": "two"}}, "redis.expectedReplicas"),
    ({"trustedProxies": ["10.0.0.1,10.0.0.2"]}, "trustedProxies"),
    ({"stateDir": {"sizeLimit": "lots"}}, "stateDir.sizeLimit"),
    ({"replicas": 3}, "replicas"),  # a misspelt key is refused, not ignored
])
def test_schema_rejects_bad_values(helm_bin, values, complaint):
    res = run_helm(helm_bin, "template", "atrium", str(CHART), "--values", values_file(values),
                   check=False)
    assert res.returncode != 0, f"accepted {values}:\n{res.stdout[:2000]}"
    assert "don't meet the specifications of the schema" in res.stderr, res.stderr
    assert complaint in res.stderr, res.stderr


@pytest.mark.parametrize("values, complaint", [
    ({"terminationGracePeriodSeconds": 30}, "must exceed preStopSleepSeconds + drainTimeout"),
    ({"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 2}},
     "maxReplicas must be at least"),
    ({"serviceAccount": {"create": False}}, "serviceAccount.name must name"),
])
def test_templates_refuse_inconsistent_values(helm_bin, values, complaint):
    res = run_helm(helm_bin, "template", "atrium", str(CHART), "--values", values_file(values),
                   check=False)
    assert res.returncode != 0 and complaint in res.stderr, res.stderr


def test_chart_metadata():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == "0.1.0"
    assert chart["type"] == "application"
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["replicaCount"] == 2
    assert values["drainTimeout"] == "30s"


def test_chart_crds_are_the_top_level_crds_byte_for_byte(helm_bin):
    top = sorted(p.name for p in (REPO / "crds").glob("*.yaml"))
    chart = sorted(p.name for p in (CHART / "crds").iterdir())
    assert top == ["apiconsumers.atrium.dev.yaml", "apiroutes.atrium.dev.yaml"]
    assert chart == top
    for name in top:
        assert (CHART / "crds" / name).read_bytes() == (REPO / "crds" / name).read_bytes(), name
    # and Helm ships them: --include-crds renders both CRDs.
    objs = render(helm_bin, {}, "atrium", NAMESPACE, "--include-crds")
    assert sorted(o["metadata"]["name"] for o in objs
                  if o["kind"] == "CustomResourceDefinition") == [
        "apiconsumers.atrium.dev", "apiroutes.atrium.dev"]


# ----- the rendered objects --------------------------------------------------------------------


def test_default_objects(rendered):
    assert kinds(rendered["default"]) == [
        "ClusterRole/atrium", "ClusterRoleBinding/atrium", "Deployment/atrium",
        "IngressClass/atrium", "PodDisruptionBudget/atrium", "Role/atrium-leader-election",
        "RoleBinding/atrium-leader-election", "Service/atrium", "Service/atrium-admin",
        "ServiceAccount/atrium"]
    for o in rendered["default"]:
        if o["kind"] not in ("ClusterRole", "ClusterRoleBinding", "IngressClass"):
            assert o["metadata"]["namespace"] == NAMESPACE, o["metadata"]
        labels = o["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "atrium"
        assert labels["app.kubernetes.io/instance"] == "atrium"
        assert labels["app.kubernetes.io/version"] == "0.1.0"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"


def test_deployment_security_context(rendered):
    for combo, objs in rendered.items():
        pod = one(objs, "Deployment")["spec"]["template"]["spec"]
        assert pod["securityContext"] == {
            "runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"}}, combo
        sc = container(objs)["securityContext"]
        assert sc == {
            "runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532, "privileged": False,
            "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}, combo
        assert "hostNetwork" not in pod and "hostPID" not in pod, combo
        assert pod["automountServiceAccountToken"] is True


def test_deployment_probes_ports_and_lifecycle(rendered):
    objs = rendered["default"]
    deploy = one(objs, "Deployment")
    assert deploy["spec"]["replicas"] == 2
    assert deploy["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    c = container(objs)
    assert c["image"] == "atrium:0.1.0"
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {
        "http": 8080, "https": 8443, "admin": 9901}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
    assert c["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
    assert c["startupProbe"]["failureThreshold"] * c["startupProbe"]["periodSeconds"] >= 30
    assert c["lifecycle"] == {"preStop": {"sleep": {"seconds": 5}}}
    assert c["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"},
                              "limits": {"memory": "512Mi"}}
    pod = deploy["spec"]["template"]["spec"]
    # The preStop pause and the whole drain fit in the grace period, with time to exit.
    assert pod["terminationGracePeriodSeconds"] > 5 + 30
    assert pod["serviceAccountName"] == "atrium"
    assert {m["mountPath"]: m["name"] for m in c["volumeMounts"]} == {"/var/lib/atrium": "state"}
    assert pod["volumes"] == [{"name": "state", "emptyDir": {"sizeLimit": "64Mi"}}]
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in c["env"]}
    assert env == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}


def test_deployment_args_default(rendered):
    assert args_of(rendered["default"]) == {
        "ingress-class": "atrium",
        "watch-ingress-without-class": "false",
        "http-port": "8080", "https-port": "8443", "admin-port": "9901",
        "threads": "2",
        "publish-service": f"{NAMESPACE}/atrium",
        "leader-elect": "true",
        "lease-namespace": NAMESPACE,
        "replicas": "2",
        "state-dir": "/var/lib/atrium",
        "log-level": "info",
        "log-format": "json",
        "access-log": "stdout",
        "drain-timeout": "30s",
    }


def test_deployment_args_everything(rendered):
    objs = rendered["everything"]
    args = args_of(objs)
    assert args["ingress-class"] == "edge"
    assert args["watch-namespace"] == "team-a"
    assert args["watch-ingress-without-class"] == "true"
    assert args["publish-address"] == "203.0.113.7" and "publish-service" not in args
    assert args["threads"] == "4"
    assert args["trusted-proxies"] == "10.0.0.0/8,fd00::/8"
    assert args["default-tls-secret"] == "atrium-system/wildcard"
    assert args["redis"] == "$(ATRIUM_REDIS_URL)"
    assert args["replicas"] == "5"  # redis.expectedReplicas wins over the autoscaler's range
    assert args["state-dir"] == "/var/lib/atrium"
    assert args["admin-token-file"] == "/etc/atrium/admin-token/token"
    assert args["cache-size"] == "256Mi"
    assert args["drain-timeout"] == "1m"
    assert (args["log-level"], args["log-format"], args["access-log"]) == ("debug", "text", "off")
    deploy = one(objs, "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 90
    assert "replicas" not in deploy["spec"]  # the HPA owns the count
    c = container(objs)
    assert c["image"] == "registry.example.com/atrium:0.1.0-rc1"
    assert c["imagePullPolicy"] == "Always"
    assert c["lifecycle"]["preStop"]["sleep"]["seconds"] == 10
    assert {"name": "TZ", "value": "UTC"} in c["env"]
    assert pod["imagePullSecrets"] == [{"name": "registry-creds"}]
    assert pod["serviceAccountName"] == "edge-gateway"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"][0]["key"] == "dedicated"
    assert deploy["spec"]["template"]["metadata"]["labels"]["team"] == "platform"
    assert deploy["spec"]["template"]["metadata"]["annotations"]["example.com/team"] == "platform"


@pytest.mark.parametrize("values, replicas", [
    ({}, "2"),
    ({"replicaCount": 5}, "5"),
    # With the autoscaler, its ceiling: while Redis is away, the replicas together never admit
    # more than a Global limit.
    ({"autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 9}}, "9"),
    ({"replicaCount": 3, "redis": {"expectedReplicas": 4}}, "4"),
    ({"autoscaling": {"enabled": True}, "redis": {"url": "redis://r:6379",
                                                    "expectedReplicas": 6}}, "6"),
])
def test_replicas_flag_shares_global_limits(helm_bin, values, replicas):
    """--replicas: each replica's share of the Global limits while Redis is unreachable."""
    assert args_of(render(helm_bin, values))["replicas"] == replicas


def test_trusted_proxies_and_state_dir(rendered, helm_bin):
    # Not believed unless listed.
    assert "trusted-proxies" not in args_of(rendered["default"])
    objs = render(helm_bin, {"trustedProxies": ["130.211.0.0/22", "35.191.0.0/16", "fd00::/8"]})
    assert args_of(objs)["trusted-proxies"] == "130.211.0.0/22,35.191.0.0/16,fd00::/8"
    # --state-dir is the pod's only writable path: an emptyDir of stateDir.sizeLimit.
    objs = rendered["everything"]
    pod = one(objs, "Deployment")["spec"]["template"]["spec"]
    [state] = [v for v in pod["volumes"] if v["name"] == "state"]
    assert state == {"name": "state", "emptyDir": {"sizeLimit": "128Mi"}}
    assert {"name": "state", "mountPath": "/var/lib/atrium"} in container(objs)["volumeMounts"]


@pytest.mark.parametrize("drain, prestop, grace", [("30s", 5, 45), ("2m", 5, 135), ("5s", 0, 15)])
def test_grace_period_follows_the_drain_timeout(helm_bin, drain, prestop, grace):
    objs = render(helm_bin, {"drainTimeout": drain, "preStopSleepSeconds": prestop})
    assert args_of(objs)["drain-timeout"] == drain
    assert one(objs, "Deployment")["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"] == grace


def test_replicas_spread_across_nodes(rendered):
    pod = one(rendered["default"], "Deployment")["spec"]["template"]["spec"]
    selector = {"app.kubernetes.io/name": "atrium", "app.kubernetes.io/instance": "atrium"}
    [term] = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == selector
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in pod["affinity"][
        "podAntiAffinity"]
    [spread] = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway"
    assert spread["labelSelector"]["matchLabels"] == selector
    assert one(rendered["default"], "Deployment")["spec"]["selector"]["matchLabels"] == selector


def test_services(rendered):
    objs = rendered["default"]
    pod_labels = one(objs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    svc = one(objs, "Service", "atrium")
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["spec"]["externalTrafficPolicy"] == "Cluster"
    assert [(p["name"], p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [
        ("http", 80, "http"), ("https", 443, "https")]
    admin = one(objs, "Service", "atrium-admin")
    assert admin["spec"]["type"] == "ClusterIP"
    assert [(p["name"], p["port"], p["targetPort"]) for p in admin["spec"]["ports"]] == [
        ("admin", 9901, "admin")]
    for s in (svc, admin):
        assert all(pod_labels.get(k) == v for k, v in s["spec"]["selector"].items())
    # --publish-service names the traffic Service itself.
    assert args_of(objs)["publish-service"] == f"{NAMESPACE}/{svc['metadata']['name']}"

    svc = one(rendered["everything"], "Service", "atrium")
    assert svc["spec"]["externalTrafficPolicy"] == "Local"
    assert svc["spec"]["loadBalancerSourceRanges"] == ["198.51.100.0/24"]
    assert svc["metadata"]["annotations"] == {"example.com/lb": "internal"}
    assert [p["port"] for p in svc["spec"]["ports"]] == [8000, 8443]
    assert one(rendered["everything"], "Service", "atrium-admin")["spec"]["ports"][0][
        "port"] == 19901


def test_cluster_ip_service_has_no_external_traffic_policy(helm_bin):
    svc = one(render(helm_bin, {"service": {"type": "ClusterIP"}}), "Service", "atrium")
    assert svc["spec"]["type"] == "ClusterIP" and "externalTrafficPolicy" not in svc["spec"]


def test_ingress_class(rendered, helm_bin):
    ic = one(rendered["default"], "IngressClass")
    assert ic["spec"] == {"controller": CONTROLLER}
    assert "annotations" not in ic["metadata"]
    ic = one(rendered["everything"], "IngressClass")
    assert ic["metadata"]["name"] == "edge"
    assert ic["metadata"]["annotations"] == {"ingressclass.kubernetes.io/is-default-class": "true"}
    objs = render(helm_bin, {"ingressClass": {"create": False}})
    assert not [o for o in objs if o["kind"] == "IngressClass"]
    assert args_of(objs)["ingress-class"] == "atrium"


# ----- RBAC ------------------------------------------------------------------------------------


def rbac(objs: list[dict]) -> dict[str, list[dict]]:
    return {k: [o for o in objs if o["kind"] == k]
            for k in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")}


def assert_least_privilege(objs: list[dict]):
    for o in rbac(objs)["ClusterRole"] + rbac(objs)["Role"]:
        for r in o["rules"]:
            for field in ("apiGroups", "resources", "verbs", "resourceNames"):
                assert "*" not in r.get(field, []), (o["metadata"]["name"], r)
            assert not set(r["resources"]) & {"pods", "deployments", "replicasets", "nodes",
                                              "configmaps", "namespaces"}, r
            assert not set(r["verbs"]) & {"create", "delete", "deletecollection", "escalate",
                                          "bind", "impersonate"} or r["resources"] == ["leases"], r
            assert "nonResourceURLs" not in r, r


def test_rbac_cluster_wide(rendered):
    objs = rendered["default"]
    roles = rbac(objs)
    [cr] = roles["ClusterRole"]
    assert rule_set(cr["rules"]) == NAMESPACED_RULES | CLUSTER_RULES
    [crb] = roles["ClusterRoleBinding"]
    assert crb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                              "name": "atrium"}
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": "atrium",
                                "namespace": NAMESPACE}]
    [role] = roles["Role"]
    assert role["metadata"]["namespace"] == NAMESPACE
    assert rule_set(role["rules"]) == {
        ("coordination.k8s.io", "leases", "create", ""),
        ("coordination.k8s.io", "leases", "get", "atrium-leader"),
        ("coordination.k8s.io", "leases", "update", "atrium-leader")}
    [rb] = roles["RoleBinding"]
    assert rb["roleRef"]["name"] == role["metadata"]["name"]
    assert rb["subjects"] == crb["subjects"]
    assert_least_privilege(objs)


def test_rbac_watch_namespace(rendered):
    objs = rendered["watch-namespace"]
    roles = rbac(objs)
    [cr] = roles["ClusterRole"]
    assert rule_set(cr["rules"]) == CLUSTER_RULES  # Secrets of other namespaces stay closed
    by_name = {(r["metadata"]["namespace"], r["metadata"]["name"]): r for r in roles["Role"]}
    assert set(by_name) == {("team-a", "atrium"), (NAMESPACE, "atrium-leader-election"),
                            (NAMESPACE, "atrium-publish-service")}
    assert rule_set(by_name["team-a", "atrium"]["rules"]) == NAMESPACED_RULES
    # Its own Service, for --publish-service: that one Service, nothing else there.
    assert rule_set(by_name[NAMESPACE, "atrium-publish-service"]["rules"]) == expand(
        {("", "services"): READ}, name="atrium")
    bindings = {(b["metadata"]["namespace"], b["metadata"]["name"]): b
                for b in roles["RoleBinding"]}
    assert set(bindings) == set(by_name)
    for key, b in bindings.items():
        assert b["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                "name": key[1]}
        assert b["subjects"] == [{"kind": "ServiceAccount", "name": "atrium",
                                  "namespace": NAMESPACE}]
    assert_least_privilege(objs)


def test_rbac_everything(rendered):
    objs = rendered["everything"]
    assert_least_privilege(objs)
    roles = rbac(objs)
    lease_role = one(roles["Role"], "Role", "atrium-leader-election")
    assert ("coordination.k8s.io", "leases", "update", "edge-leader") in rule_set(
        lease_role["rules"])
    # publishAddress: Atrium reads no Service of its own namespace.
    assert not [r for r in roles["Role"] if r["metadata"]["name"].endswith("publish-service")]
    for b in roles["RoleBinding"] + roles["ClusterRoleBinding"]:
        assert b["subjects"][0]["name"] == "edge-gateway"


def test_rbac_and_service_account_can_be_left_out(helm_bin):
    objs = render(helm_bin, {"rbac": {"create": False},
                             "serviceAccount": {"create": False, "name": "existing"}})
    assert not any(rbac(objs).values())
    assert not [o for o in objs if o["kind"] == "ServiceAccount"]
    assert one(objs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "existing"
    objs = render(helm_bin, {"leaderElection": {"enabled": False}})
    assert [r["metadata"]["name"] for r in rbac(objs)["Role"]] == []
    assert args_of(objs)["leader-elect"] == "false" and "lease-namespace" not in args_of(objs)


# ----- scaling, monitoring, secrets ------------------------------------------------------------


def test_hpa_and_pdb(rendered, helm_bin):
    objs = rendered["hpa"]
    hpa = one(objs, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": "atrium"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 7)
    assert {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"]
            for m in hpa["spec"]["metrics"]} == {"cpu": 70, "memory": 80}
    assert "replicas" not in one(objs, "Deployment")["spec"]
    pdb = one(objs, "PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == one(objs, "Deployment")["spec"][
        "selector"]["matchLabels"]
    assert not [o for o in rendered["default"] if o["kind"] == "HorizontalPodAutoscaler"]
    # One replica, no autoscaler: a PDB would block every node drain, so there is none.
    objs = render(helm_bin, {"replicaCount": 1})
    assert not [o for o in objs if o["kind"] == "PodDisruptionBudget"]
    assert one(objs, "Deployment")["spec"]["replicas"] == 1
    objs = render(helm_bin, {"replicaCount": 1, "autoscaling": {"enabled": True}})
    one(objs, "PodDisruptionBudget")


def test_service_monitor(rendered):
    assert not [o for o in rendered["default"] if o["kind"] == "ServiceMonitor"]
    objs = rendered["servicemonitor"]
    sm = one(objs, "ServiceMonitor")
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert sm["metadata"]["labels"]["release"] == "prometheus"
    [endpoint] = sm["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"], endpoint["interval"]) == ("admin", "/metrics",
                                                                         "15s")
    assert sm["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    # It selects the admin Service and only that one.
    selected = [s["metadata"]["name"] for s in objs if s["kind"] == "Service"
                and all(s["metadata"]["labels"].get(k) == v
                        for k, v in sm["spec"]["selector"]["matchLabels"].items())]
    assert selected == ["atrium-admin"]


def test_secrets_from_values(rendered):
    objs = rendered["secrets-from-values"]
    secret = one(objs, "Secret", "atrium")
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == {
        "redis-url": "redis://:hunter2@redis.cache:6379/0", "admin-token": "s3cr3t-admin"}
    c = container(objs)
    [redis_env] = [e for e in c["env"] if e["name"] == "ATRIUM_REDIS_URL"]
    assert redis_env["valueFrom"]["secretKeyRef"] == {"name": "atrium", "key": "redis-url"}
    assert args_of(objs)["redis"] == "$(ATRIUM_REDIS_URL)"
    assert args_of(objs)["admin-token-file"] == "/etc/atrium/admin-token/token"
    pod = one(objs, "Deployment")["spec"]["template"]
    [vol] = [v for v in pod["spec"]["volumes"] if v["name"] == "admin-token"]
    assert vol["secret"]["secretName"] == "atrium"
    assert vol["secret"]["items"] == [{"key": "admin-token", "path": "token"}]
    assert vol["secret"]["defaultMode"] == 0o440
    assert {"name": "admin-token", "mountPath": "/etc/atrium/admin-token",
            "readOnly": True} in c["volumeMounts"]
    assert "checksum/secret" in pod["metadata"]["annotations"]
    # The secrets are nowhere but in the Secret.
    for o in objs:
        if o["kind"] != "Secret":
            text = yaml.safe_dump(o)
            assert "hunter2" not in text and "s3cr3t-admin" not in text, o["kind"]


def test_existing_secrets(rendered):
    objs = rendered["existing-secrets"]
    assert not [o for o in objs if o["kind"] == "Secret"]
    c = container(objs)
    [redis_env] = [e for e in c["env"] if e["name"] == "ATRIUM_REDIS_URL"]
    assert redis_env["valueFrom"]["secretKeyRef"] == {"name": "shared-redis", "key": "url"}
    pod = one(objs, "Deployment")["spec"]["template"]["spec"]
    [vol] = [v for v in pod["volumes"] if v["name"] == "admin-token"]
    assert vol["secret"]["secretName"] == "ops-token"
    assert vol["secret"]["items"] == [{"key": "token", "path": "token"}]
    assert args_of(objs)["admin-token-file"] == "/etc/atrium/admin-token/token"
    # Without any: no --redis, no token file, no Secret.
    args = args_of(rendered["default"])
    assert "redis" not in args and "admin-token-file" not in args


# ----- a real API server -----------------------------------------------------------------------


def ensure_namespaces(kube, *names: str):
    kube.kubectl("apply", "-f", "-", input="".join(
        f"---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {n}\n" for n in names))


def install_chart_crds(kube):
    """The chart's CRDs, applied for real and served (so that later applies know the kinds)."""
    kube.kubectl("apply", "--server-side", "-f", str(CHART / "crds"))
    deadline = time.monotonic() + 60
    while kube.kubectl("get", "apiroutes,apiconsumers", "-A", check=False).returncode != 0:
        assert time.monotonic() < deadline, "the chart's CRDs were not served within 60 s"
        time.sleep(0.3)


@pytest.mark.parametrize("combo", sorted(COMBOS))
def test_api_server_accepts_rendered_objects(kube, helm_bin, combo):
    ensure_namespaces(kube, NAMESPACE, "team-a")
    install_chart_crds(kube)
    objs = render(helm_bin, COMBOS[combo], "atrium", NAMESPACE, "--include-crds")
    # ServiceMonitor is the Prometheus Operator's kind, unknown to this API server.
    applied = [o for o in objs if o["kind"] != "ServiceMonitor"]
    res = kube.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-",
                       input=yaml.safe_dump_all(applied, sort_keys=False))
    lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
    assert len(lines) == len(applied), res.stdout
    assert all(ln.endswith("(server dry run)") for ln in lines), res.stdout
    # Another test module of the same session may have created the IngressClass with a
    # client-side `kubectl apply`; kubectl then warns about migrating that object's
    # last-applied annotation, which says nothing about the chart.
    warnings = [ln for ln in res.stderr.splitlines()
                if "Warning" in ln and "failed to migrate kubectl.kubernetes.io/last-applied" not in ln]
    assert not warnings, res.stderr


def test_helm_install_and_upgrade_on_the_api_server(kube, helm_bin):
    """A real `helm install` (the API server validates and stores every object, Helm prints
    NOTES.txt), then `helm upgrade` turning the autoscaler on."""
    ns = "helm-install-test"
    ensure_namespaces(kube, ns)
    install_chart_crds(kube)  # Helm skips CRDs that exist, as on any upgrade
    # Its own class and release name, clear of the other tests' cluster-scoped objects.
    values = {"ingressClass": {"name": "install-test"},
              "adminToken": {"value": "install-test-token"}}
    res = run_helm(helm_bin, "install", "gw", str(CHART), "--namespace", ns,
                   "--values", values_file(values), "--timeout", "60s",
                   kubeconfig=kube.kubeconfig)
    assert "STATUS: deployed" in res.stdout, res.stdout
    notes = res.stdout.split("NOTES:", 1)[1]
    assert f"kubectl -n {ns} rollout status deployment/gw-atrium" in notes
    assert f"kubectl -n {ns} get service gw-atrium" in notes
    assert "kind: APIRoute" in notes and "ingressClassName: install-test" in notes
    assert "port-forward service/gw-atrium-admin 9901:9901" in notes
    assert "curl http://127.0.0.1:9901/metrics" in notes

    deploy = kube.kubectl_json("get", "deployment", "gw-atrium", "-n", ns)
    assert deploy["spec"]["replicas"] == 2
    stored = deploy["spec"]["template"]["spec"]["containers"][0]
    assert stored["lifecycle"]["preStop"]["sleep"]["seconds"] == 5
    assert kube.kubectl_json("get", "ingressclass", "install-test")["spec"][
        "controller"] == CONTROLLER
    secret = kube.kubectl_json("get", "secret", "gw-atrium", "-n", ns)
    assert base64.b64decode(secret["data"]["admin-token"]).decode() == "install-test-token"

    values["autoscaling"] = {"enabled": True, "minReplicas": 2, "maxReplicas": 4}
    res = run_helm(helm_bin, "upgrade", "gw", str(CHART), "--namespace", ns,
                   "--values", values_file(values), "--timeout", "60s",
                   kubeconfig=kube.kubeconfig)
    assert "STATUS: deployed" in res.stdout and "REVISION: 2" in res.stdout, res.stdout
    hpa = kube.kubectl_json("get", "hpa", "gw-atrium", "-n", ns)
    assert hpa["spec"]["maxReplicas"] == 4
    assert "2 to 4 replicas (autoscaled)" in res.stdout

    run_helm(helm_bin, "uninstall", "gw", "--namespace", ns, "--timeout", "60s",
             kubeconfig=kube.kubeconfig)
    assert kube.kubectl("get", "ingressclass", "install-test", check=False).returncode != 0
