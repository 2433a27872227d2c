"""pytest fixtures for tests against a real kube-apiserver (ctest label `k8s`).

The binaries come from `eval "$(bash scripts/k8s-test-env.sh)"`. When they are missing the
tests are skipped with that hint, unless ATRIUM_K8S_REQUIRED=1 (set it in CI), which turns the
skip into a failure so that a broken setup cannot pass as "nothing to test".
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kube_env import KubeEnv, KubeEnvUnavailable, find_binaries  # noqa: E402


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
