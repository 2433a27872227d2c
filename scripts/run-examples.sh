#!/usr/bin/env bash
# Installs what is missing, builds, starts the demo backends that examples/ points at, and runs
# Atrium in the foreground on examples/ (Ctrl-C to stop). This is the README's first command.
#   HTTP:  http://127.0.0.1:8080   admin: http://127.0.0.1:9901
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target atrium echo-backend

# The demo backends: the EndpointSlices in examples/ list these loopback ports.
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM
start_backend() {  # name instance port
  build/echo-backend --bind 127.0.0.1 --port "$3" --name "$1" --instance "$2" >/dev/null &
  pids+=($!)
}
start_backend web web-1 9101
start_backend web web-2 9102
start_backend orders-v1 orders-v1-1 9201
start_backend orders-v2 orders-v2-1 9202

echo "Atrium is starting on http://127.0.0.1:8080 and https://127.0.0.1:8443 (admin on"
echo "127.0.0.1:9901). Try:"
echo "  curl -H 'Host: demo.local' http://127.0.0.1:8080/"
echo "  curl -H 'Host: api.demo.local' http://127.0.0.1:8080/v1/orders"
echo "  curl -k --resolve demo.local:8443:127.0.0.1 https://demo.local:8443/   # self-signed"
build/atrium --manifests examples --bind 127.0.0.1 --http-port 8080 --https-port 8443 \
  --admin-bind 127.0.0.1 --admin-port 9901 "$@"
