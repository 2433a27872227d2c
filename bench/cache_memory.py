#!/usr/bin/env python3
"""Memory per cached MiB (issue 7's benchmark): fills Atrium's response cache with N responses
of a given size through a real echo-backend and reports the process's RSS growth per MiB of
bodies stored, next to what the cache itself accounts (atrium_cache_bytes).

usage: bench/cache_memory.py [--entries 400] [--size 65536]
env:   ATRIUM_BIN, ECHO_BACKEND_BIN (default build/atrium, build/echo-backend)
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ATRIUM = os.environ.get("ATRIUM_BIN", str(ROOT / "build" / "atrium"))
ECHO = os.environ.get("ECHO_BACKEND_BIN", str(ROOT / "build" / "echo-backend"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def metric(port: int, name: str) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=400)
    ap.add_argument("--size", type=int, default=64 * 1024)
    args = ap.parse_args()
    echo_port, http_port, admin_port = free_port(), free_port(), free_port()
    tmp = Path(tempfile.mkdtemp(prefix="atrium-cache-mem-"))
    (tmp / "m.yaml").write_text(f"""
apiVersion: atrium.dev/v1alpha1
kind: APIRoute
metadata: {{name: cached, namespace: default}}
spec:
  hostnames: ["cache.bench"]
  policy: {{cache: {{ttl: 1h, maxObjectSize: 8Mi}}}}
  rules:
  - backends: [{{url: "http://127.0.0.1:{echo_port}"}}]
""")
    echo = subprocess.Popen([ECHO, "--bind", "127.0.0.1", "--port", str(echo_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    gw = subprocess.Popen([ATRIUM, "--manifests", str(tmp), "--bind", "127.0.0.1", "--http-port",
                           str(http_port), "--https-port", "0", "--admin-bind", "127.0.0.1",
                           "--admin-port", str(admin_port), "--threads", "2", "--access-log",
                           "off", "--log-level", "warn"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)

        def fetch(i: int) -> str:
            conn.request("GET", f"/item/{i}", headers={"Host": "cache.bench",
                                                       "X-Echo-Body-Size": str(args.size)})
            r = conn.getresponse()
            r.read()
            return r.getheader("X-Cache") or ""

        for i in range(20):  # warm up allocator and pools with a few entries
            fetch(1_000_000 + i)
        before = rss_kib(gw.pid)
        bytes_before = metric(admin_port, "atrium_cache_bytes")
        for i in range(args.entries):
            fetch(i)
        hits = sum(fetch(i) == "HIT" for i in range(0, args.entries, max(1, args.entries // 20)))
        time.sleep(0.2)
        after = rss_kib(gw.pid)
        stored = metric(admin_port, "atrium_cache_bytes") - bytes_before
        body_mib = args.entries * args.size / (1024 * 1024)
        rss_mib = (after - before) / 1024
        print(f"entries: {args.entries} × {args.size} B = {body_mib:.1f} MiB of bodies "
              f"(sampled hits: {hits})")
        print(f"RSS growth: {rss_mib:.1f} MiB → {rss_mib / body_mib:.2f} MiB per cached MiB")
        print(f"cache accounting (atrium_cache_bytes): {stored / 1048576:.1f} MiB → "
              f"{stored / 1048576 / body_mib:.2f} per cached MiB")
    finally:
        gw.terminate()
        echo.terminate()
        gw.wait(10)
        echo.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
