"""examples/ on a real kube-apiserver: `kubectl apply -f examples/<folder>` works.

- Every folder, alone and all together, is accepted by the API server's own validation
  (`kubectl apply --dry-run=server`, strict field validation, CRDs and their CEL rules
  installed). The only warning allowed is the API server's note about the legacy class
  annotation that examples/ingress-class shows on purpose.
- local/ holds what only works without a cluster: the API server refuses its loopback
  EndpointSlices, which is why `kubectl apply -f` (without -R) must not read them.
- Applied for real (into a fresh namespace, the TLS Secret made as examples/tls/README.md
  says), the objects are served by `atrium --kubeconfig`, and status is written:
  `kubectl get apiroutes` shows Accepted and Programmed, and the Ingresses of our class
  get the published address.
- The whole-object examples of docs/reference/ (scripts/gen-crd-reference.py FULL_EXAMPLES)
  are accepted too, CEL rules included.

Run by hand:
    eval "$(bash scripts/k8s-test-env.sh)"
    ATRIUM_BIN=build/atrium ECHO_BACKEND_BIN=build/echo-backend \\
        /usr/bin/python3 -m pytest -q tests/k8s/test_examples.py
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster_helpers import REPO, install_crds  # noqa: E402
from integration_helpers import h  # noqa: E402

EXAMPLES = REPO / "examples"
FOLDERS = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir() and not p.name.startswith("."))
# What the API server says, on purpose, about examples/ingress-class/classes.yaml.
EXPECTED_WARNING = re.compile(r'annotation "kubernetes\.io/ingress\.class" is deprecated')


@pytest.fixture(scope="module")
def crds(kube):
    install_crds(kube)
    return kube


def dry_run(kube, *folders: str) -> subprocess.CompletedProcess:
    args = ["apply", "--dry-run=server"]
    for folder in folders:
        args += ["-f", str(EXAMPLES / folder)]
    return kube.kubectl(*args, check=False)


def unexpected_warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines()
            if line.strip() and not EXPECTED_WARNING.search(line)]


def test_every_feature_has_a_folder():
    assert len(FOLDERS) >= 6, FOLDERS


@pytest.mark.parametrize("folder", FOLDERS)
def test_folder_is_accepted_by_the_api_server(crds, folder):
    res = dry_run(crds, folder)
    assert res.returncode == 0, res.stderr + res.stdout
    assert not unexpected_warnings(res.stderr), res.stderr
    # Every object of the folder (not local/) went through the server's validation.
    top = [d for p in sorted((EXAMPLES / folder).glob("*.yaml"))
           for d in yaml.safe_load_all(p.read_text()) if d]
    assert res.stdout.count("(server dry run)") == len(top), res.stdout


def test_all_folders_together_are_accepted(crds):
    res = dry_run(crds, *FOLDERS)
    assert res.returncode == 0, res.stderr + res.stdout
    assert not unexpected_warnings(res.stderr), res.stderr


@pytest.mark.parametrize("folder", FOLDERS)
def test_local_endpoints_are_not_for_a_cluster(crds, folder):
    # The reason for local/: the API server refuses EndpointSlices on loopback.
    local = EXAMPLES / folder / "local" / "endpoints.yaml"
    res = crds.kubectl("apply", "--dry-run=server", "-f", str(local), check=False)
    assert res.returncode != 0 and "loopback" in res.stderr, res.stderr + res.stdout


def objects_in(namespace: str) -> list[dict]:
    """Every top-level object of every folder (what `kubectl apply -f` would send), moved to
    `namespace`. The IngressClass is left out: the cluster fixture has made `atrium`, and
    marking it the default class would change the rest of the session."""
    out = []
    for folder in FOLDERS:
        for path in sorted((EXAMPLES / folder).glob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text()):
                if doc and doc["kind"] != "IngressClass":
                    doc["metadata"]["namespace"] = namespace
                    out.append(doc)
    return out


def make_demo_tls_secret(kube, namespace, tmp_path):
    """examples/tls/README.md's commands, with its paths in tmp_path and the test namespace."""
    readme = (EXAMPLES / "tls" / "README.md").read_text()
    blocks = re.findall(r"^```sh\n(.*?)^```", readme, re.M | re.S)
    make_cert = next(b for b in blocks if "openssl req" in b).replace("/tmp/", f"{tmp_path}/")
    subprocess.run(["bash", "-euo", "pipefail", "-c", make_cert], check=True,
                   capture_output=True, timeout=60)
    create = next(line for b in blocks for line in b.splitlines()
                  if line.startswith("kubectl create secret tls"))
    args = create.split()[1:]
    args[args.index("-n") + 1] = namespace
    kube.kubectl(*(a.replace("/tmp/", f"{tmp_path}/") for a in args))


def make_auth_secrets(kube, namespace):
    """The JWT HMAC Secret examples/apiroute-auth/README.md asks for (its JWT route is refused
    while the Secret is missing, as it must be); the API-key and Basic Secrets are optional
    (a consumer without them just cannot log in)."""
    kube.kubectl("create", "secret", "generic", "demo-jwt-hmac", "-n", namespace,
                 f"--from-literal=secret={os.urandom(16).hex()}")


def test_applied_examples_are_served_with_status(cluster, namespace, gateways, tmp_path):
    make_demo_tls_secret(cluster, namespace, tmp_path)
    make_auth_secrets(cluster, namespace)
    docs = objects_in(namespace)
    cluster.kubectl("apply", "-f", "-", input=h.to_yaml(docs))
    gw = gateways(cluster.kubeconfig, "--watch-namespace", namespace, "--lease-namespace",
                  namespace, "--lease-duration", "3s", "--publish-address", "203.0.113.7")

    routes = [d["metadata"]["name"] for d in docs if d["kind"] == "APIRoute"]
    assert routes

    def conditions(name):
        route = cluster.kubectl_json("get", "apiroute", name, "-n", namespace)
        return {c["type"]: c["status"] for c in (route.get("status") or {}).get("conditions")
                or []}

    def all_true():
        return all(conditions(n) == {"Accepted": "True", "ResolvedRefs": "True",
                                     "Programmed": "True"} for n in routes)
    h.wait_until(all_true, 20, interval=0.2, message="every example APIRoute Accepted, "
                 "ResolvedRefs and Programmed")
    table = cluster.kubectl("get", "apiroutes", "-n", namespace).stdout
    assert table.split("\n")[0].split() == ["NAME", "HOSTS", "ACCEPTED", "PROGRAMMED", "AGE"]
    for name in routes:
        assert re.search(rf"^{name}\s+.*\sTrue\s+True\s+\S+$", table, re.M), table

    ours = [d["metadata"]["name"] for d in docs if d["kind"] == "Ingress"
            and (d["spec"].get("ingressClassName") == "atrium"
                 or (d["metadata"].get("annotations") or {}).get("kubernetes.io/ingress.class")
                 == "atrium")]
    assert len(ours) >= 5, ours

    def published(name):
        ing = cluster.kubectl_json("get", "ingress", name, "-n", namespace)
        return ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress")
    h.wait_until(lambda: all(published(n) == [{"ip": "203.0.113.7"}] for n in ours), 20,
                 interval=0.2, message="Ingress status of the examples")
    assert not published("other-class")  # another controller's object is left alone

    hosts = {vh["hostname"] for vh in gw.snapshot()["virtual_hosts"]}
    assert {"demo.local", "shop.demo.local", "*.shop.demo.local", "legacy.demo.local",
            "api.demo.local", "policy.demo.local", "web.tls.demo.local",
            "api.tls.demo.local"} <= hosts, hosts
    assert "other-class.demo.local" not in hosts


def test_reference_examples_are_accepted(crds):
    spec = importlib.util.spec_from_file_location("gen_crd_reference",
                                                  REPO / "scripts" / "gen-crd-reference.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    docs = []
    for kind, text in gen.FULL_EXAMPLES.items():
        doc = yaml.safe_load(text)
        assert doc["kind"] == kind
        doc["metadata"]["namespace"] = "default"  # the examples' own namespace may not exist
        docs.append(doc)
    res = crds.kubectl("apply", "--dry-run=server", "-f", "-", input=h.to_yaml(docs),
                       check=False)
    assert res.returncode == 0, res.stderr + res.stdout
    assert not res.stderr.strip(), res.stderr
