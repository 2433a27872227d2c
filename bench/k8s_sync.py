#!/usr/bin/env python3
"""Controller-mode benchmark against a real kube-apiserver (SPEC §9):

  * initial sync: time from `atrium --kubeconfig` starting to /readyz 200 with N Ingress rules
    (default 10,000: 1,000 Ingresses × 10 hosts), and Atrium's RSS once synced;
  * apply → served: time from an Ingress being created through the API to the proxy answering
    for it (a new host, polled every 2 ms), and the same for an EndpointSlice change reaching
    the programmed configuration;
  * atrium_kube_event_to_programmed_seconds as Atrium itself measures it.

Needs the test environment's binaries (`eval "$(bash scripts/k8s-test-env.sh)"`) and a built
`atrium` and `echo-backend` (ATRIUM_BIN / ECHO_BACKEND_BIN, default build/). Everything runs on
127.0.0.1. Prints a markdown section; `--out FILE` appends it to FILE.

    eval "$(bash scripts/k8s-test-env.sh)"
    python3 bench/k8s_sync.py --ingresses 1000 --hosts-per-ingress 10
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "k8s"))
from kube_env import KubeEnv, find_binaries  # noqa: E402

NS = "bench"


def post(env, path, body):
    status, reply = env.request("POST", path, body)
    if status not in (200, 201):
        raise RuntimeError(f"POST {path}: {status} {reply.get('message')}")


def ingress(name, hosts, service):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"ingressClassName": "atrium", "rules": [
                {"host": host, "http": {"paths": [
                    {"path": "/", "pathType": "Prefix",
                     "backend": {"service": {"name": service, "port": {"number": 80}}}}]}}
                for host in hosts]}}


def external_service(name, port):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
            "spec": {"type": "ExternalName", "externalName": "localhost",
                     "ports": [{"name": "http", "port": 80, "targetPort": port}]}}


def service_with_slice(i):
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"svc-{i}", "namespace": NS},
           "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
    sl = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
          "metadata": {"name": f"svc-{i}-1", "namespace": NS,
                       "labels": {"kubernetes.io/service-name": f"svc-{i}"}},
          "addressType": "IPv4", "ports": [{"name": "http", "port": 8080}],
          "endpoints": [{"addresses": [f"10.{i // 250}.{i % 250}.{e}"]} for e in range(1, 11)]}
    return svc, sl


def http_get(port, host, path="/", timeout=2.0):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait(predicate, timeout, interval=0.002):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ingresses", type=int, default=1000)
    ap.add_argument("--hosts-per-ingress", type=int, default=10)
    ap.add_argument("--services", type=int, default=100)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--out")
    args = ap.parse_args()
    atrium_bin = os.environ.get("ATRIUM_BIN", str(REPO / "build" / "atrium"))
    echo_bin = os.environ.get("ECHO_BACKEND_BIN", str(REPO / "build" / "echo-backend"))
    rules = args.ingresses * args.hosts_per_ingress

    env = KubeEnv(find_binaries()).start()
    work = Path(tempfile.mkdtemp(prefix="atrium-k8s-bench-"))
    echo = atrium = None
    try:
        echo = subprocess.Popen([echo_bin, "--bind", "127.0.0.1", "--port", "0", "--name", "bench"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        echo_port = int(re.search(r"listening on \S+:(\d+)", echo.stdout.readline()).group(1))
        env.kubectl("create", "namespace", NS)
        post(env, "/apis/networking.k8s.io/v1/ingressclasses",
             {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
              "metadata": {"name": "atrium"}, "spec": {"controller": "atrium.dev/ingress-controller"}})
        t0 = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            jobs = []
            for i in range(args.services):
                svc, sl = service_with_slice(i)
                jobs.append(pool.submit(post, env, f"/api/v1/namespaces/{NS}/services", svc))
                jobs.append(pool.submit(
                    post, env, f"/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices", sl))
            jobs.append(pool.submit(post, env, f"/api/v1/namespaces/{NS}/services",
                                    external_service("echo", echo_port)))
            for i in range(args.ingresses):
                hosts = [f"h{i}-{j}.bench.example.com" for j in range(args.hosts_per_ingress)]
                jobs.append(pool.submit(
                    post, env, f"/apis/networking.k8s.io/v1/namespaces/{NS}/ingresses",
                    ingress(f"ing-{i}", hosts, f"svc-{i % args.services}")))
            for j in jobs:
                j.result()
        created = time.monotonic() - t0
        print(f"created {args.ingresses} Ingresses ({rules} rules), {args.services} Services + "
              f"EndpointSlices in {created:.1f}s", file=sys.stderr)

        stderr_path = work / "atrium.stderr"
        stderr = open(stderr_path, "wb")
        started = time.monotonic()
        atrium = subprocess.Popen(
            [atrium_bin, "--kubeconfig", env.kubeconfig, "--watch-namespace", NS,
             "--bind", "127.0.0.1", "--http-port", "0", "--https-port", "0", "--admin-bind", "127.0.0.1",
             "--admin-port", "0", "--access-log", "off", "--threads", "2",
             "--leader-elect=false", *os.environ.get("ATRIUM_ARGS", "").split()], stdout=subprocess.DEVNULL, stderr=stderr)

        ports = {}

        def listening():
            text = stderr_path.read_text(errors="replace")
            p = re.search(r"proxy listening on \S+:(\d+)", text)
            a = re.search(r"admin listening on \S+:(\d+)", text)
            if p and a:
                ports.update(proxy=int(p.group(1)), admin=int(a.group(1)))
                return True
            return False
        if not wait(listening, 10):
            raise RuntimeError(stderr_path.read_text())
        if not wait(lambda: http_get(ports["admin"], "x", "/readyz")[0] == 200, 120, 0.005):
            raise RuntimeError("not ready:\n" + stderr_path.read_text()[-3000:])
        ready = time.monotonic() - started
        time.sleep(1.0)  # let the first snapshot's allocations settle before reading RSS
        rss = rss_kib(atrium.pid) / 1024
        log = stderr_path.read_text(errors="replace")
        m = re.search(r"all kinds synced in (\d+) ms", log)
        synced_ms = int(m.group(1)) if m else -1
        snapshot = json.loads(http_get(ports["admin"], "x", "/config", timeout=30)[1])["snapshot"]
        hosts = len(snapshot["virtual_hosts"])
        if hosts != rules:
            raise RuntimeError(f"{hosts} hosts programmed, expected {rules}")

        # apply → served: a new Ingress for a new host, answered by the echo.
        served = []
        for k in range(args.samples):
            host = f"new-{k}.bench.example.com"
            t = time.monotonic()
            post(env, f"/apis/networking.k8s.io/v1/namespaces/{NS}/ingresses",
                 ingress(f"new-{k}", [host], "echo"))
            if not wait(lambda: http_get(ports["proxy"], host)[0] == 200, 10):
                raise RuntimeError(f"{host} never served")
            served.append((time.monotonic() - t) * 1000)
            time.sleep(0.15)  # isolated events, not one burst
        metrics = http_get(ports["admin"], "x", "/metrics")[1].decode()
        total = float(re.search(r"atrium_kube_event_to_programmed_seconds_sum (\S+)", metrics).group(1))
        count = int(re.search(r"atrium_kube_event_to_programmed_seconds_count (\d+)", metrics).group(1))

        served.sort()
        p95 = served[max(0, int(len(served) * 0.95) - 1)]
        section = [
            f"### bench/k8s_sync.py — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
            "",
            "Real kube-apiserver and kine of scripts/k8s-test-env.sh, all on one 2-core machine;"
            f" {args.ingresses} Ingresses × {args.hosts_per_ingress} hosts = {rules} rules,"
            f" {args.services} Services with 10-endpoint EndpointSlices; Atrium with 2 workers.",
            "",
            "| measure | value | SPEC §9 target |",
            "|---|---:|---|",
            f"| start → /readyz 200 (list {rules} rules, translate, program) | {ready * 1000:.0f} ms | |",
            f"| of which: all kinds listed and synced (Atrium's log) | {synced_ms} ms | |",
            f"| RSS after the initial sync | {rss:.1f} MiB | < 100 MiB |",
            f"| Ingress POST → new host served, median of {len(served)} | "
            f"{statistics.median(served):.1f} ms | < 100 ms |",
            f"| Ingress POST → new host served, p95 | {p95:.1f} ms | |",
            f"| atrium_kube_event_to_programmed_seconds mean (incl. initial sync) | "
            f"{total / max(count, 1) * 1000:.1f} ms | |",
            "",
        ]
        text = "\n".join(section)
        print(text)
        if args.out:
            with open(args.out, "a") as f:
                f.write(text + "\n")
    finally:
        for p in (atrium, echo):
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        env.stop()


if __name__ == "__main__":
    main()
