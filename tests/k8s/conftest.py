"""pytest fixtures for tests against a real kube-apiserver (ctest label `k8s`).

The binaries come from `eval "$(bash scripts/k8s-test-env.sh)"`. When they are missing the
tests are skipped with that hint, unless ATRIUM_K8S_REQUIRED=1 (set it in CI), which turns the
skip into a failure so that a broken setup cannot pass as "nothing to test".
"""

import itertools
import os
import time
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cluster_helpers import ClusterAtrium, install_crds  # noqa: E402
from integration_helpers import h  # noqa: E402
from kube_env import KubeEnv, KubeEnvUnavailable, find_binaries  # noqa: E402

_namespaces = itertools.count(1)


@pytest.fixture(scope="session")
def kube():
    """One kine + kube-apiserver for the whole session; yields a started KubeEnv."""
    try:
        binaries = find_binaries()
    except KubeEnvUnavailable as e:
        if os.environ.get("ATRIUM_K8S_REQUIRED") == "1":
            pytest.fail(str(e), pytrace=False)
        pytest.skip(str(e))
    env = KubeEnv(binaries).start()
    try:
        yield env
    finally:
        env.stop()


@pytest.fixture(scope="module")
def cluster(kube):
    """The API server with the CRDs established and the `atrium` IngressClass present."""
    install_crds(kube)
    kube.kubectl("apply", "-f", "-", input=h.to_yaml([h.ingress_class("atrium")]))
    return kube


@pytest.fixture
def namespace(cluster):
    name = f"ctl-{next(_namespaces)}-{int(time.time() * 1000) % 100000}"
    cluster.kubectl("create", "namespace", name)
    return name


@pytest.fixture
def gateways(request, tmp_path):
    started = []

    def start(kubeconfig, *args, **kw):
        g = ClusterAtrium(tmp_path, kubeconfig, args, **kw)
        started.append(g)
        return g
    yield start
    for g in started:
        if g.proc.poll() is None:
            code = g.stop()
            assert code == 0, f"atrium did not exit cleanly ({code}):\n{g.stderr()}"


echo = h.echo  # the integration suite's echo-backend fixture
