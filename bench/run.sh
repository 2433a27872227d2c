#!/usr/bin/env bash
# Whole-proxy benchmark (SPEC.md §9): Atrium side by side with nginx and HAProxy in front of the
# same echo-backend, driven by wrk on loopback, in alternating rounds; reports median req/s and
# p99 per proxy and Atrium's ratios. With --route-bench it also runs the Google Benchmark program
# (route lookup, route-table and snapshot build). See docs/performance.md.
#
# usage: bench/run.sh [--out FILE] [--route-bench | --route-bench-only] [--proxies LIST]
#   --out FILE          also append the markdown result block to FILE
#   --route-bench       also run build-bench/bench/atrium_route_bench
#   --route-bench-only  run only the Google Benchmark program
#   --proxies LIST      comma-separated subset of nginx,haproxy,atrium (default: all three)
#   --auth              also measure Atrium with API-key auth and with RS256 JWT auth (same
#                       process, other hosts; needs python3 with `cryptography`)
#   --cache             also measure Atrium answering from its response cache (every request a
#                       hit after the first), against the plain proxy in the same run
#   --ratelimit         also measure Atrium with a Local rate limit and with a Global one
#                       decided in Redis (a redis-server started on loopback), against the plain
#                       proxy in the same run; the limits are set too high to refuse anything
# env: ROUNDS (3) DURATION (seconds, 10) CONNECTIONS (50) WRK_THREADS (2) WARMUP (seconds, 2)
#      PROXY_THREADS (2) ECHO_THREADS (1) BUILD_DIR (build-bench) BUILD_JOBS (2)
#      ATRIUM_BIN / ECHO_BACKEND_BIN / ROUTE_BENCH_BIN (use these binaries instead of building)
#      SKIP_SETUP=1 (don't run scripts/setup.sh --bench)  KEEP_TMP=1 (keep configs and logs)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

rounds="${ROUNDS:-3}"
duration="${DURATION:-10}"
connections="${CONNECTIONS:-50}"
wrk_threads="${WRK_THREADS:-2}"
warmup="${WARMUP:-2}"
proxy_threads="${PROXY_THREADS:-2}"
echo_threads="${ECHO_THREADS:-1}"
build_dir="${BUILD_DIR:-$root/build-bench}"
build_jobs="${BUILD_JOBS:-2}"

out_file=""
auth=false
ratelimit=false
cache=false
route_bench=false
run_proxies=true
proxies="nginx,haproxy,atrium"

die() { echo "bench/run.sh: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || die "--out needs a file"; out_file="$2"; shift 2 ;;
    --out=*) out_file="${1#--out=}"; shift ;;
    --route-bench) route_bench=true; shift ;;
    --route-bench-only) route_bench=true; run_proxies=false; shift ;;
    --proxies) [ $# -ge 2 ] || die "--proxies needs a list"; proxies="$2"; shift 2 ;;
    --proxies=*) proxies="${1#--proxies=}"; shift ;;
    --auth) auth=true; shift ;;
    --ratelimit) ratelimit=true; shift ;;
    --cache) cache=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
for n in "$rounds" "$duration" "$connections" "$wrk_threads" "$warmup" "$proxy_threads" \
         "$echo_threads" "$build_jobs"; do
  [[ "$n" =~ ^[0-9]+$ ]] || die "ROUNDS, DURATION, CONNECTIONS, ... must be whole numbers"
done
[ "$rounds" -ge 1 ] && [ "$duration" -ge 1 ] || die "ROUNDS and DURATION must be at least 1"

IFS=',' read -r -a proxy_list <<<"$proxies"
for p in "${proxy_list[@]}"; do
  case "$p" in nginx|haproxy|atrium) ;; *) die "unknown proxy '$p' in --proxies" ;; esac
done
wants() { [[ ",$proxies," == *",$1,"* ]] && $run_proxies; }

# --- tools and binaries ------------------------------------------------------------------------
if [ "${SKIP_SETUP:-0}" != 1 ]; then
  "$root/scripts/setup.sh" --bench
fi

targets=()
[ -n "${ECHO_BACKEND_BIN:-}" ] || ! $run_proxies || targets+=(echo-backend)
[ -n "${ATRIUM_BIN:-}" ] || ! wants atrium || targets+=(atrium)
[ -n "${ROUTE_BENCH_BIN:-}" ] || ! $route_bench || targets+=(atrium_route_bench)
if [ ${#targets[@]} -gt 0 ]; then
  echo "== building ${targets[*]} in $build_dir (Release)"
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DATRIUM_BUILD_TESTS=OFF -DATRIUM_BUILD_BENCH=ON >/dev/null
  ninja -C "$build_dir" -j "$build_jobs" "${targets[@]}"
fi
echo_bin="${ECHO_BACKEND_BIN:-$build_dir/echo-backend}"
atrium_bin="${ATRIUM_BIN:-$build_dir/atrium}"
route_bench_bin="${ROUTE_BENCH_BIN:-$build_dir/bench/atrium_route_bench}"

# --- processes and cleanup ---------------------------------------------------------------------
tmp="$(mktemp -d /tmp/atrium-bench.XXXXXX)"
pids=()
child=""  # the wrk or benchmark run in progress

# Long runs go to the background and are waited for: bash runs a trap only between commands,
# so a foreground wrk would hold off Ctrl-C/SIGTERM until it finished.
run_waited() {  # output file, command...
  local out="$1"; shift
  "$@" >"$out" 2>&1 &
  child=$!
  local rc=0
  wait "$child" || rc=$?
  child=""
  return "$rc"
}

# Each server runs in its own session (setsid), so stopping it by its process-group id also
# stops the workers it forked (nginx) and nothing else.
cleanup() {
  local pid alive i
  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null || true; fi
  for pid in "${pids[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  for i in $(seq 30); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "bench/run.sh: configs and logs kept in $tmp" >&2
  else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() {  # name, command... — logs to $tmp/<name>.log
  local name="$1"; shift
  setsid "$@" >"$tmp/$name.log" 2>&1 </dev/null &
  pids+=("$!")
}

# Free loopback ports, all reserved at once so they differ from each other.
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# Waits up to 10 s until `curl URL` succeeds (and, with a third argument, its body contains it).
wait_for() {
  local name="$1" url="$2" expect="${3:-}" i body
  for i in $(seq 100); do
    if body="$(curl -sf --max-time 1 "$url" 2>/dev/null)" && [[ "$body" == *"$expect"* ]]; then
      return 0
    fi
    sleep 0.1
  done
  echo "bench/run.sh: $name did not answer $url within 10 s; its log:" >&2
  tail -n 20 "$tmp/$name.log" >&2 || true
  exit 1
}

# --- load runs ---------------------------------------------------------------------------------
declare -A port rps_runs p99_runs errors_total label
label[direct]="echo-backend (direct)"; label[nginx]="nginx"; label[haproxy]="HAProxy"
label[atrium]="Atrium"
label[atrium-apikey]="Atrium + API key"; label[atrium-jwt]="Atrium + RS256 JWT"
label[atrium-local-rl]="Atrium + Local limit"; label[atrium-global-rl]="Atrium + Global limit (Redis)"
label[atrium-cache]="Atrium, cache hits"
declare -A headers

# One wrk run; appends req/s and p99 (ms) to the proxy's lists, and counts errors.
measure() {
  local name="$1" secs="$2" record="$3" out="$tmp/wrk-$1-$RANDOM.txt" rps p99 errs
  local -a extra=()
  if [ -n "${headers[$name]:-}" ]; then
    local h
    while IFS= read -r h; do extra+=(-H "$h"); done <<<"${headers[$name]}"
  fi
  run_waited "$out" timeout $((secs + 30)) wrk -t"$wrk_threads" -c"$connections" -d"${secs}s" \
    --latency "${extra[@]}" "http://127.0.0.1:${port[$name]}/" ||
    die "wrk against $name failed: $(tail -n 3 "$out")"
  [ "$record" = record ] || return 0
  rps="$(awk '/^Requests\/sec:/ {print $2}' "$out")"
  # wrk prints latencies as 812.00us, 1.23ms or 1.05s.
  p99="$(awk '$1 == "99%" { v = $2
           if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
           else if (v ~ /ms$/) { sub(/ms$/, "", v) }
           else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
           printf "%.3f", v }' "$out")"
  errs="$(awk '/Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 }
               /Non-2xx or 3xx responses:/ { n += $5 } END { print n + 0 }' "$out")"
  [ -n "$rps" ] && [ -n "$p99" ] || die "could not parse wrk output for $name: $(cat "$out")"
  rps_runs[$name]="${rps_runs[$name]:-} $rps"
  p99_runs[$name]="${p99_runs[$name]:-} $p99"
  errors_total[$name]=$(( ${errors_total[$name]:-0} + errs ))
  printf '  %-22s %10.0f req/s   p99 %8.2f ms   errors %s\n' "${label[$name]}" "$rps" "$p99" "$errs"
}

median() {  # numbers on the command line
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
verdict() { awk -v r="$1" -v t="$2" -v dir="$3" 'BEGIN {
  if (r == "n/a") print "n/a"; else if ((dir == "ge" && r >= t) || (dir == "le" && r <= t)) print "meets";
  else print "MISSES" }'; }

report="$tmp/report.md"
machine="$(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown CPU), Linux $(uname -r)"
revision="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo uncommitted)"
if ! git -C "$root" diff --quiet HEAD 2>/dev/null; then revision="$revision (with local changes)"; fi
{
  echo "### bench/run.sh — $(date -u '+%Y-%m-%d %H:%M UTC'), revision $revision"
  echo
  echo "Machine: $machine. Loopback only; wrk, the proxy under test and echo-backend share the cores."
  # Other work on the machine moves the numbers more than anything measured here; record it.
  echo "Load average at start: $(cut -d' ' -f1-3 /proc/loadavg)."
} >"$report"

if $run_proxies; then
  command -v wrk >/dev/null || die "wrk is not installed (scripts/setup.sh --bench)"
  [ -x "$echo_bin" ] || die "echo-backend not found at $echo_bin"
  ! wants atrium || [ -x "$atrium_bin" ] || die "atrium not found at $atrium_bin"
  read -r p_nginx p_haproxy p_atrium p_admin p_https <<<"$(free_ports 5)"
  port[nginx]=$p_nginx; port[haproxy]=$p_haproxy; port[atrium]=$p_atrium

  # The backend: one instance behind every proxy, so they all do the same work.
  start echo "$echo_bin" --bind 127.0.0.1 --port 0 --name echo --instance echo-bench \
    --threads "$echo_threads"
  for i in $(seq 100); do
    grep -q 'listening on' "$tmp/echo.log" 2>/dev/null && break
    sleep 0.1
  done
  port[direct]="$(sed -n 's/^echo-backend listening on .*:\([0-9]*\)$/\1/p' "$tmp/echo.log")"
  [ -n "${port[direct]}" ] || die "echo-backend did not start: $(cat "$tmp/echo.log")"
  echo_port="${port[direct]}"

  if wants nginx; then
    mkdir -p "$tmp/nginx"
    # Tuned as an operator would for a keep-alive benchmark: HTTP/1.1 upstream keep-alive and no
    # per-connection request cap on either side (nginx's default 1000 would make wrk reconnect).
    cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes $proxy_threads;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx/client_body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  keepalive_requests 1000000;
  upstream echo {
    server 127.0.0.1:$echo_port;
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port[nginx]};
    location / {
      proxy_pass http://echo;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # Forward the client's Host as Atrium and HAProxy do, so the backend answers the same.
      proxy_set_header Host \$http_host;
    }
  }
}
EOF
    start nginx nginx -p "$tmp/nginx" -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf"
    wait_for nginx "http://127.0.0.1:${port[nginx]}/" '"service":"echo"'
  fi

  if wants haproxy; then
    cat >"$tmp/haproxy.cfg" <<EOF
global
  nbthread $proxy_threads
  # maxconn bounds the descriptors HAProxy asks for (about 2 per connection); 4096 fits the
  # usual 8k-20k open-files limit and is far above CONNECTIONS.
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 60s
  http-reuse always
frontend bench
  bind 127.0.0.1:${port[haproxy]}
  default_backend echo
backend echo
  server echo 127.0.0.1:$echo_port
EOF
    start haproxy haproxy -db -f "$tmp/haproxy.cfg"
    wait_for haproxy "http://127.0.0.1:${port[haproxy]}/" '"service":"echo"'
  fi

  if wants atrium; then
    mkdir -p "$tmp/manifests"
    cat >"$tmp/manifests/echo.yaml" <<EOF
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: echo, namespace: default}
spec:
  ingressClassName: atrium
  rules:
  - http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: echo, port: {number: 80}}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  ports:
  - {name: http, port: 80, targetPort: $echo_port, protocol: TCP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: echo-1
  namespace: default
  labels: {kubernetes.io/service-name: echo}
addressType: IPv4
ports:
- {name: http, port: $echo_port, protocol: TCP}
endpoints:
- addresses: ["127.0.0.1"]
  conditions: {ready: true}
EOF
    if $auth; then
      creds="$(/usr/bin/python3 "$root/bench/auth_fixtures.py" "$tmp/manifests/auth.yaml")" ||
        die "bench/auth_fixtures.py failed (python3 with cryptography is needed for --auth)"
      api_key="$(sed -n 1p <<<"$creds")"; jwt="$(sed -n 2p <<<"$creds")"
      port[atrium-apikey]=$p_atrium; port[atrium-jwt]=$p_atrium
      headers[atrium-apikey]="Host: apikey.bench"$'\n'"X-API-Key: $api_key"
      headers[atrium-jwt]="Host: jwt.bench"$'\n'"Authorization: Bearer $jwt"
    fi
    redis_args=()
    if $ratelimit; then
      command -v redis-server >/dev/null || die "--ratelimit needs redis-server (apt install redis-server)"
      read -r p_redis < <(free_ports 1)
      start redis redis-server --port "$p_redis" --bind 127.0.0.1 --save "" --appendonly no
      for _ in $(seq 100); do
        redis-cli -p "$p_redis" ping >/dev/null 2>&1 && break
        sleep 0.05
      done
      redis_args=(--redis "redis://127.0.0.1:$p_redis")
      # Limits far above what the run can send: every decision is taken, none refuses, so the
      # numbers compare the cost of deciding rather than the cost of 429s.
      for scope in Local Global; do
        lower="$(tr '[:upper:]' '[:lower:]' <<<"$scope")"
        cat >"$tmp/manifests/rl-$lower.yaml" <<EOF
apiVersion: atrium.dev/v1alpha1
kind: APIRoute
metadata: {name: rl-$lower, namespace: default}
spec:
  hostnames: ["$lower-rl.bench"]
  policy:
    rateLimit:
      scope: $scope
      limits: [{requests: 1000000000, period: 1s, key: ClientIP}]
  rules:
  - backends: [{service: {name: echo, port: 80}}]
EOF
        port[atrium-$lower-rl]=$p_atrium
        headers[atrium-$lower-rl]="Host: $lower-rl.bench"
      done
    fi
    if $cache; then
      # The echo's answer carries no Cache-Control: the route's ttl makes it cacheable.
      cat >"$tmp/manifests/cache.yaml" <<EOF
apiVersion: atrium.dev/v1alpha1
kind: APIRoute
metadata: {name: cached, namespace: default}
spec:
  hostnames: ["cache.bench"]
  policy:
    cache: {ttl: 1h}
  rules:
  - backends: [{service: {name: echo, port: 80}}]
EOF
      port[atrium-cache]=$p_atrium
      headers[atrium-cache]="Host: cache.bench"
    fi
    start atrium "$atrium_bin" --manifests "$tmp/manifests" --threads "$proxy_threads" \
      --bind 127.0.0.1 --http-port "${port[atrium]}" --https-port "$p_https" \
      --admin-bind 127.0.0.1 --admin-port "$p_admin" --access-log off --log-level warn \
      --drain-timeout 1s "${redis_args[@]}"
    wait_for atrium "http://127.0.0.1:$p_admin/readyz"
    wait_for atrium "http://127.0.0.1:${port[atrium]}/" '"service":"echo"'
  fi

  order=()
  for p in nginx haproxy atrium; do wants "$p" && order+=("$p"); done
  if $auth && wants atrium; then
    for p in atrium-apikey atrium-jwt; do
      curl -fsS -o /dev/null -H "$(sed -n 1p <<<"${headers[$p]}")" \
        -H "$(sed -n 2p <<<"${headers[$p]}")" "http://127.0.0.1:${port[$p]}/" ||
        die "$p: an authenticated request failed"
      order+=("$p")
    done
  fi
  if $cache && wants atrium; then
    curl -fsS -o /dev/null -H "${headers[atrium-cache]}" "http://127.0.0.1:$p_atrium/" ||
      die "atrium-cache: the first request failed"
    curl -fsS -o /dev/null -D "$tmp/cache.headers" -H "${headers[atrium-cache]}" \
      "http://127.0.0.1:$p_atrium/" || die "atrium-cache: the second request failed"
    grep -qi '^X-Cache: HIT' "$tmp/cache.headers" || die "atrium-cache: the second request was no HIT"
    order+=(atrium-cache)
  fi
  if $ratelimit && wants atrium; then
    wait_for atrium "http://127.0.0.1:$p_admin/metrics" 'atrium_redis_up 1'
    for p in atrium-local-rl atrium-global-rl; do
      curl -fsS -o /dev/null -D "$tmp/$p.headers" -H "${headers[$p]}" "http://127.0.0.1:${port[$p]}/" ||
        die "$p: a rate-limited request failed"
      grep -qi '^RateLimit-Limit:' "$tmp/$p.headers" || die "$p: no RateLimit headers: is the limit applied?"
      order+=("$p")
    done
  fi

  echo "== echo-backend alone (reference: the backend must not be the bottleneck)"
  measure direct "$duration" record
  echo "== warm-up (${warmup}s each)"
  if [ "$warmup" -gt 0 ]; then for p in "${order[@]}"; do measure "$p" "$warmup" discard; done; fi
  for r in $(seq "$rounds"); do
    echo "== round $r/$rounds: wrk -t$wrk_threads -c$connections -d${duration}s"
    # Rotate the order each round so no proxy always runs first (or on a warmer machine).
    n=${#order[@]}
    for i in $(seq 0 $((n - 1))); do measure "${order[$(((i + r - 1) % n))]}" "$duration" record; done
  done

  declare -A rps_med p99_med
  {
    echo
    echo "Load: \`wrk -t$wrk_threads -c$connections -d${duration}s --latency\`, $rounds rounds in" \
      "rotating order, medians reported; proxies with $proxy_threads workers; echo-backend" \
      "with $echo_threads thread(s). nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), HAProxy" \
      "$(haproxy -v | awk 'NR == 1 { print $3 }'), $(wrk -v 2>&1 | awk 'NR == 1 { print $1, $2 }')."
    echo
    echo "| target | req/s (median) | p99 ms (median) | req/s per round | errors |"
    echo "|---|---:|---:|---|---:|"
  } >>"$report"
  for p in direct "${order[@]}"; do
    # shellcheck disable=SC2086  # the lists are space-separated numbers
    rps_med[$p]="$(median ${rps_runs[$p]})"
    # shellcheck disable=SC2086
    p99_med[$p]="$(median ${p99_runs[$p]})"
    printf '| %s | %.0f | %.2f | %s | %s |\n' "${label[$p]}" "${rps_med[$p]}" "${p99_med[$p]}" \
      "$(for v in ${rps_runs[$p]}; do printf '%.0f ' "$v"; done | sed 's/ $//')" \
      "${errors_total[$p]}" >>"$report"
  done
  if wants atrium; then
    {
      echo
      echo "| SPEC.md §9 target | value | |"
      echo "|---|---:|---|"
      if wants nginx; then
        r="$(ratio "${rps_med[atrium]}" "${rps_med[nginx]}")"
        echo "| Atrium / nginx req/s ≥ 1.0 | $r | $(verdict "$r" 1.0 ge) |"
        r="$(ratio "${p99_med[atrium]}" "${p99_med[nginx]}")"
        echo "| Atrium / nginx p99 ≤ 1.0 | $r | $(verdict "$r" 1.0 le) |"
      fi
      if wants haproxy; then
        r="$(ratio "${rps_med[atrium]}" "${rps_med[haproxy]}")"
        echo "| Atrium / HAProxy req/s ≥ 1.0 | $r | $(verdict "$r" 1.0 ge) |"
      fi
      if $cache; then
        r="$(ratio "${rps_med[atrium-cache]}" "${rps_med[atrium]}")"
        echo "| ${label[atrium-cache]} / Atrium plain req/s ≥ 2 | $r | $(verdict "$r" 2.0 ge) |"
      fi
      if $ratelimit; then
        for p in atrium-local-rl atrium-global-rl; do
          echo "| ${label[$p]} / Atrium plain req/s | $(ratio "${rps_med[$p]}" "${rps_med[atrium]}") | |"
        done
      fi
      if $auth; then
        for p in atrium-apikey atrium-jwt; do
          echo "| ${label[$p]} / Atrium plain req/s | $(ratio "${rps_med[$p]}" "${rps_med[atrium]}") | |"
          if wants nginx; then
            r="$(ratio "${rps_med[$p]}" "${rps_med[nginx]}")"
            echo "| ${label[$p]} / nginx plain req/s ≥ 0.9 (without the rate limit of SPEC §9) | $r | $(verdict "$r" 0.9 ge) |"
          fi
        done
      fi
    } >>"$report"
  fi
  for p in "${order[@]}"; do
    if [ "${errors_total[$p]}" -gt 0 ]; then
      echo >>"$report"
      echo "Warning: ${label[$p]} had ${errors_total[$p]} socket errors or non-2xx answers;" \
        "its numbers are not comparable." >>"$report"
    fi
  done
fi

if $route_bench; then
  [ -x "$route_bench_bin" ] || die "atrium_route_bench not found at $route_bench_bin"
  echo "== Google Benchmark: $route_bench_bin"
  run_waited "$tmp/route_bench.txt" timeout 600 "$route_bench_bin" --benchmark_color=false ||
    die "atrium_route_bench failed: $(tail -n 5 "$tmp/route_bench.txt")"
  {
    echo
    echo "Route lookup / build (\`atrium_route_bench\`; targets: lookup < 1 µs median at 10,000" \
      "routes, 10,000 Ingress rules translated < 300 ms):"
    echo
    echo '```'
    grep -E '^(BM_|-{10}|Benchmark)' "$tmp/route_bench.txt" | grep -vE '_(stddev|cv) ' || true
    echo '```'
  } >>"$report"
fi

echo "Load average at end: $(cut -d' ' -f1-3 /proc/loadavg)." >>"$report"

echo
cat "$report"
if [ -n "$out_file" ]; then
  { echo; cat "$report"; } >>"$out_file"
  echo
  echo "bench/run.sh: result block appended to $out_file"
fi
