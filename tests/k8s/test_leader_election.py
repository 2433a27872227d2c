"""Leader election on a coordination.k8s.io/v1 Lease (SPEC §7): every replica serves, exactly
one writes status; a killed leader is succeeded once its Lease expires, a stopped one hands the
Lease over at once.

Run by hand:
    eval "$(bash scripts/k8s-test-env.sh)"
    ATRIUM_BIN=build/atrium ECHO_BACKEND_BIN=build/echo-backend \\
        /usr/bin/python3 -m pytest -q tests/k8s/test_leader_election.py
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster_helpers import apply, external_service, served_by  # noqa: E402
from integration_helpers import h  # noqa: E402

LEASE_SECONDS = 3


def leading(gw) -> bool:
    m = re.search(r"^atrium_leader (\d)", gw.admin_get("/metrics").body.decode(), re.M)
    assert m, "atrium_leader missing from /metrics"
    return m.group(1) == "1"


def status_writes(gw) -> int:
    text = gw.admin_get("/metrics").body.decode()
    return sum(int(n) for n in re.findall(r'atrium_kube_status_writes_total\{[^}]*\} (\d+)', text))


def identity(gw) -> str:
    m = re.search(r"leader election: Lease \S+ as (\S+)", gw.stderr())
    assert m, gw.stderr()
    return m.group(1)


def lease(kube, namespace) -> dict:
    return kube.kubectl_json("get", "lease", "atrium-leader", "-n", namespace)["spec"]


def route(name, host, port, namespace):
    return h.apiroute(name, {"ingressClassName": "atrium", "hostnames": [host],
                             "rules": [{"backends": [{"service": {"name": "svc", "port": port}}]}]},
                      namespace=namespace)


def accepted(kube, namespace, name) -> bool:
    r = kube.kubectl_json("get", "apiroute", name, "-n", namespace)
    return any(c["type"] == "Accepted" for c in (r.get("status") or {}).get("conditions") or [])


def test_one_leader_writes_status_and_a_successor_takes_over(cluster, namespace, echo, gateways):
    a = echo("echo-leader")
    apply(cluster, [external_service("svc", a.port, namespace),
                    route("first", "first.example.com", a.port, namespace)])
    args = ("--watch-namespace", namespace, "--lease-namespace", namespace,
            "--lease-duration", f"{LEASE_SECONDS}s", "--leader-elect")
    one, two = gateways(cluster.kubeconfig, *args), gateways(cluster.kubeconfig, *args)

    # Exactly one leads, and it is the one the Lease names; both serve traffic.
    h.wait_until(lambda: leading(one) != leading(two), 10, interval=0.1, message="one leader")
    leader, follower = (one, two) if leading(one) else (two, one)
    for _ in range(5):
        assert leading(leader) and not leading(follower)
        time.sleep(0.2)
    assert lease(cluster, namespace)["holderIdentity"] == identity(leader)
    for gw in (one, two):
        served_by(gw, "first.example.com", "/", "echo-leader")
    h.wait_until(lambda: accepted(cluster, namespace, "first"), 10, interval=0.1,
                 message="status written by the leader")
    assert status_writes(leader) >= 1
    assert status_writes(follower) == 0

    # The leader dies without a word: the follower waits out the Lease, then takes over.
    transitions = lease(cluster, namespace).get("leaseTransitions", 0)
    leader.kill()
    killed_at = time.monotonic()
    time.sleep(1.0)
    assert not leading(follower), "took over a Lease that had not expired"
    h.wait_until(lambda: leading(follower), LEASE_SECONDS + 5, interval=0.1,
                 message="follower took over")
    took = time.monotonic() - killed_at
    print(f"takeover after a killed leader: {took:.2f}s (lease {LEASE_SECONDS}s)")
    # Expiry counts from the last renewal the follower saw, at most one renew period (2/15 of
    # the lease) before the kill.
    assert took >= LEASE_SECONDS * 13 / 15 - 0.1
    spec = lease(cluster, namespace)
    assert spec["holderIdentity"] == identity(follower)
    assert spec["leaseTransitions"] == transitions + 1

    # The new leader writes status for what changes from now on.
    apply(cluster, [route("second", "second.example.com", a.port, namespace)])
    h.wait_until(lambda: accepted(cluster, namespace, "second"), 10, interval=0.1,
                 message="status written by the new leader")

    # A leader stopped gracefully releases the Lease: a third replica takes over at once,
    # not a lease duration later.
    three = gateways(cluster.kubeconfig, *args)
    time.sleep(0.5)
    assert not leading(three)
    stopped_at = time.monotonic()
    assert follower.stop() == 0
    h.wait_until(lambda: leading(three), LEASE_SECONDS, interval=0.05,
                 message="third replica leads after the release")
    print(f"takeover after a released Lease: {time.monotonic() - stopped_at:.2f}s")
    assert lease(cluster, namespace)["holderIdentity"] == identity(three)
    assert "released the Lease" in follower.stderr()


def test_without_election_every_replica_writes(cluster, namespace, echo, gateways):
    a = echo("echo-noelect")
    apply(cluster, [external_service("svc", a.port, namespace),
                    route("solo", "solo.example.com", a.port, namespace)])
    gw = gateways(cluster.kubeconfig, "--watch-namespace", namespace, "--leader-elect=false")
    assert leading(gw)
    h.wait_until(lambda: accepted(cluster, namespace, "solo"), 10, interval=0.1,
                 message="status written without election")
    assert cluster.kubectl("get", "lease", "atrium-leader", "-n", namespace,
                           check=False).returncode != 0
