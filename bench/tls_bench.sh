#!/usr/bin/env bash
# TLS termination benchmark (issue 4): Atrium side by side with nginx, both terminating TLS with
# the same ECDSA P-256 certificate in front of the same echo-backend, on loopback, in alternating
# rounds. Three loads:
#   keepalive  wrk over https: requests/s on long-lived TLS connections (the record layer's cost)
#   reconnect  wrk over https with "Connection: close": one request per connection. wrk keeps the
#              TLS 1.3 ticket of its last connection, so these are resumed handshakes where the
#              server issues tickets (the probe below says whether each one does)
#   full       HANDSHAKE_CLIENTS parallel `openssl s_time -new`: full handshakes/s (no session
#              reuse, no HTTP request), summed over the clients and timed from outside
# Reports medians per server and load, Atrium/nginx ratios, and the protocol, cipher, certificate
# and session resumption of each server (certificate and cipher checked to be the same).
# See docs/performance.md.
#
# usage: bench/tls_bench.sh [--out FILE] [--proxies LIST]
#   --out FILE        also append the markdown result block to FILE
#   --proxies LIST    comma-separated subset of nginx,atrium (default: both)
# env: ROUNDS (3) DURATION (seconds, 10) CONNECTIONS (50) WRK_THREADS (2) WARMUP (seconds, 2)
#      HANDSHAKE_CLIENTS (4) PROXY_THREADS (2) ECHO_THREADS (1)
#      BUILD_DIR (build-bench) BUILD_JOBS (2)
#      ATRIUM_BIN / ECHO_BACKEND_BIN (use these binaries instead of building)
#      SKIP_SETUP=1 (don't run scripts/setup.sh --bench)  KEEP_TMP=1 (keep configs and logs)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

rounds="${ROUNDS:-3}"
duration="${DURATION:-10}"
connections="${CONNECTIONS:-50}"
wrk_threads="${WRK_THREADS:-2}"
warmup="${WARMUP:-2}"
handshake_clients="${HANDSHAKE_CLIENTS:-4}"
proxy_threads="${PROXY_THREADS:-2}"
echo_threads="${ECHO_THREADS:-1}"
build_dir="${BUILD_DIR:-$root/build-bench}"
build_jobs="${BUILD_JOBS:-2}"
out_file=""
servers="nginx,atrium"

fail() { echo "bench/tls_bench.sh: $*" >&2; exit 1; }
show_usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || fail "--out needs a file"; out_file="$2"; shift 2 ;;
    --out=*) out_file="${1#--out=}"; shift ;;
    --proxies) [ $# -ge 2 ] || fail "--proxies needs a list"; servers="$2"; shift 2 ;;
    --proxies=*) servers="${1#--proxies=}"; shift ;;
    -h|--help) show_usage; exit 0 ;;
    *) fail "unknown argument '$1' (see --help)" ;;
  esac
done
for v in "$rounds" "$duration" "$connections" "$wrk_threads" "$warmup" "$handshake_clients" \
         "$proxy_threads" "$echo_threads" "$build_jobs"; do
  [[ "$v" =~ ^[0-9]+$ ]] || fail "ROUNDS, DURATION, CONNECTIONS, ... must be whole numbers"
done
[ "$rounds" -ge 1 ] && [ "$duration" -ge 1 ] && [ "$handshake_clients" -ge 1 ] ||
  fail "ROUNDS, DURATION and HANDSHAKE_CLIENTS must be at least 1"
IFS=',' read -r -a server_list <<<"$servers"
[ ${#server_list[@]} -ge 1 ] || fail "--proxies is empty"
for s in "${server_list[@]}"; do
  case "$s" in nginx|atrium) ;; *) fail "unknown server '$s' in --proxies (nginx, atrium)" ;; esac
done
selected() { [[ ",$servers," == *",$1,"* ]]; }

# --- tools and binaries ------------------------------------------------------------------------
[ "${SKIP_SETUP:-0}" = 1 ] || "$root/scripts/setup.sh" --bench
for tool in wrk openssl curl python3; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/setup.sh --bench)"
done
! selected nginx || command -v nginx >/dev/null || fail "nginx is not installed (nginx-light)"

to_build=()
[ -n "${ECHO_BACKEND_BIN:-}" ] || to_build+=(echo-backend)
[ -n "${ATRIUM_BIN:-}" ] || ! selected atrium || to_build+=(atrium)
if [ ${#to_build[@]} -gt 0 ]; then
  echo "== building ${to_build[*]} in $build_dir (Release)"
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DATRIUM_BUILD_TESTS=OFF -DATRIUM_BUILD_BENCH=ON >/dev/null
  ninja -C "$build_dir" -j "$build_jobs" "${to_build[@]}"
fi
echo_bin="${ECHO_BACKEND_BIN:-$build_dir/echo-backend}"
atrium_bin="${ATRIUM_BIN:-$build_dir/atrium}"
[ -x "$echo_bin" ] || fail "echo-backend not found at $echo_bin"
! selected atrium || [ -x "$atrium_bin" ] || fail "atrium not found at $atrium_bin"

# --- processes, and stopping them whatever happens ---------------------------------------------
work="$(mktemp -d /tmp/atrium-tls-bench.XXXXXX)"
server_pids=()
load_pids=()  # the load generators running now

# Each server gets its own session (setsid): a signal to the negative pid reaches nginx's
# workers too, and nothing else.
teardown() {
  local pid n alive
  for pid in "${load_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${server_pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for n in $(seq 30); do
    alive=0
    for pid in "${server_pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${server_pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "bench/tls_bench.sh: files kept in $work" >&2
  else rm -rf "$work"; fi
}
trap teardown EXIT
trap 'exit 130' INT TERM

launch() {  # name, command...: runs in the background, output in $work/<name>.log
  local name="$1"; shift
  setsid "$@" >"$work/$name.log" 2>&1 </dev/null &
  server_pids+=("$!")
}

# n distinct free loopback ports, reserved together so they cannot collide.
pick_ports() {
  python3 -c '
import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in held))' "$1"
}

# Polls `curl -k URL` for up to 10 s until it succeeds and its body contains the third argument.
await_url() {
  local name="$1" url="$2" want="${3:-}" n body
  for n in $(seq 100); do
    if body="$(curl -sfk --max-time 1 "$url" 2>/dev/null)" && [[ "$body" == *"$want"* ]]; then
      return 0
    fi
    sleep 0.1
  done
  echo "bench/tls_bench.sh: $name did not answer $url within 10 s; its log:" >&2
  tail -n 20 "$work/$name.log" >&2 || true
  exit 1
}

# --- the certificate both servers present ------------------------------------------------------
# Made here, thrown away with $work: ECDSA P-256, the usual choice for a fast handshake.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 2 \
  -subj "/CN=bench.example.com" -addext "subjectAltName=DNS:bench.example.com" \
  -keyout "$work/bench.key" -out "$work/bench.crt" 2>/dev/null || fail "openssl req failed"
cert_fingerprint="$(openssl x509 -in "$work/bench.crt" -noout -fingerprint -sha256 | cut -d= -f2)"

# --- the backend -------------------------------------------------------------------------------
launch echo "$echo_bin" --bind 127.0.0.1 --port 0 --name echo --instance echo-tls-bench \
  --threads "$echo_threads"
for n in $(seq 100); do
  grep -q 'listening on' "$work/echo.log" 2>/dev/null && break
  sleep 0.1
done
echo_port="$(sed -n 's/^echo-backend listening on .*:\([0-9]*\)$/\1/p' "$work/echo.log")"
[ -n "$echo_port" ] || fail "echo-backend did not start: $(cat "$work/echo.log")"

declare -A https_port name_of
name_of[nginx]="nginx"; name_of[atrium]="Atrium"
read -r https_port[nginx] https_port[atrium] atrium_http atrium_admin <<<"$(pick_ports 4)"

# --- nginx: TLS 1.2/1.3 with the certificate, proxying with upstream keep-alive ------------------
if selected nginx; then
  mkdir -p "$work/nginx"
  cat >"$work/nginx/nginx.conf" <<EOF
worker_processes $proxy_threads;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/client_body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  keepalive_requests 1000000;
  upstream echo {
    server 127.0.0.1:$echo_port;
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${https_port[nginx]} ssl;
    ssl_certificate $work/bench.crt;
    ssl_certificate_key $work/bench.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    # A shared session cache as operators configure it; wrk resumes no sessions, so the
    # handshake load is full handshakes for both servers all the same.
    ssl_session_cache shared:SSL:10m;
    location / {
      proxy_pass http://echo;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
    }
  }
}
EOF
  launch nginx nginx -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf"
  await_url nginx "https://127.0.0.1:${https_port[nginx]}/" '"service":"echo"'
fi

# --- Atrium: a Secret, an Ingress with spec.tls, the same backend --------------------------------
if selected atrium; then
  mkdir -p "$work/manifests"
  {
    cat <<EOF
apiVersion: v1
kind: Secret
metadata: {name: bench-tls, namespace: default}
type: kubernetes.io/tls
stringData:
  tls.crt: |
$(sed 's/^/    /' "$work/bench.crt")
  tls.key: |
$(sed 's/^/    /' "$work/bench.key")
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: echo, namespace: default}
spec:
  ingressClassName: atrium
  tls:
  - hosts: [bench.example.com]
    secretName: bench-tls
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
  } >"$work/manifests/echo.yaml"
  # wrk connects to an address, so its SNI is no host name: --default-tls-secret makes the
  # bench certificate the one such connections get (as nginx's only server does).
  launch atrium "$atrium_bin" --manifests "$work/manifests" --threads "$proxy_threads" \
    --bind 127.0.0.1 --http-port "$atrium_http" --https-port "${https_port[atrium]}" \
    --admin-bind 127.0.0.1 --admin-port "$atrium_admin" --default-tls-secret default/bench-tls \
    --access-log off --log-level warn --drain-timeout 1s
  await_url atrium "http://127.0.0.1:$atrium_admin/readyz"
  await_url atrium "https://127.0.0.1:${https_port[atrium]}/" '"service":"echo"'
fi

order=()
for s in nginx atrium; do selected "$s" && order+=("$s"); done

# What each server negotiates with a default client, that it presents the bench certificate, and
# whether it resumes a TLS 1.3 session: the comparison is fair only with the same certificate,
# protocol and cipher on both sides. (The sleep keeps s_client reading until the tickets arrive.)
declare -A negotiated resumes
for s in "${order[@]}"; do
  probe="$(openssl s_client -connect "127.0.0.1:${https_port[$s]}" -brief </dev/null 2>&1 || true)"
  proto="$(sed -n 's/^Protocol version: //p' <<<"$probe")"
  cipher="$(sed -n 's/^Ciphersuite: //p' <<<"$probe")"
  [ -n "$proto" ] && [ -n "$cipher" ] || fail "TLS probe of ${name_of[$s]} failed: $probe"
  served="$(openssl s_client -connect "127.0.0.1:${https_port[$s]}" </dev/null 2>/dev/null |
            openssl x509 -noout -fingerprint -sha256 | cut -d= -f2)"
  [ "$served" = "$cert_fingerprint" ] ||
    fail "${name_of[$s]} does not present the bench certificate (got ${served:-none})"
  negotiated[$s]="$proto $cipher"
  sleep 0.3 | openssl s_client -connect "127.0.0.1:${https_port[$s]}" \
    -sess_out "$work/$s.session" >/dev/null 2>&1 || true
  resumes[$s]=no
  if [ -s "$work/$s.session" ] && sleep 0.3 | openssl s_client -connect \
      "127.0.0.1:${https_port[$s]}" -sess_in "$work/$s.session" 2>/dev/null | grep -q '^Reused,'
  then
    resumes[$s]=yes
  fi
done

# --- load --------------------------------------------------------------------------------------
declare -A rate_list p99_list error_count
loads=(keepalive reconnect full)
declare -A load_title=(
  [keepalive]="keep-alive HTTPS requests/s (wrk)"
  [reconnect]="new connection per request, resumed where the server allows (wrk, Connection: close)"
  [full]="full handshakes/s (${handshake_clients} × openssl s_time -new)")

# Waits for every generator in load_pids (started in the background, so that a trap can stop
# them at once); fails if one of them failed.
wait_generators() {
  local pid rc=0
  for pid in "${load_pids[@]}"; do wait "$pid" || rc=$?; done
  load_pids=()
  return "$rc"
}

# One run of `load` against server `s` for `secs` seconds; with "keep" appends the rate and the
# p99 (ms; "-" where the generator has none) to the server's lists for that load and adds up
# errors (socket errors and non-2xx answers, or failed handshakes).
run_load() {
  local s="$1" load="$2" secs="$3" keep="$4" out="$work/$1-$2-$RANDOM" rate p99 errs i t0 t1
  local url="https://127.0.0.1:${https_port[$s]}/" bound=$((secs + 30))
  load_pids=()
  if [ "$load" = full ]; then
    t0="$(date +%s.%N)"
    for i in $(seq "$handshake_clients"); do
      timeout "$bound" openssl s_time -connect "127.0.0.1:${https_port[$s]}" -new \
        -time "$secs" >"$out.$i" 2>&1 &
      load_pids+=("$!")
    done
    wait_generators || fail "openssl s_time against ${name_of[$s]} failed: $(tail -n 3 "$out.1")"
    t1="$(date +%s.%N)"
    [ "$keep" = keep ] || return 0
    # s_time's own "real seconds" are whole seconds; the wall clock around all clients is finer.
    rate="$(cat "$out".* | awk -v t="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
      '/connections in .* real seconds/ { n += $1 } END { if (t > 0) printf "%.1f", n / t }')"
    errs="$(cat "$out".* | grep -ci 'error' || true)"
    p99="-"
  else
    local header=()
    [ "$load" = reconnect ] && header=(-H "Connection: close")
    timeout "$bound" wrk -t"$wrk_threads" -c"$connections" -d"${secs}s" --latency \
      "${header[@]}" "$url" >"$out" 2>&1 &
    load_pids+=("$!")
    wait_generators || fail "wrk ($load) against ${name_of[$s]} failed: $(tail -n 3 "$out")"
    [ "$keep" = keep ] || return 0
    rate="$(awk '/^Requests\/sec:/ {print $2}' "$out")"
    # Latencies come as 812.00us, 1.23ms or 1.05s.
    p99="$(awk '$1 == "99%" { v = $2
             if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
             else if (v ~ /ms$/) { sub(/ms$/, "", v) }
             else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
             printf "%.3f", v }' "$out")"
    errs="$(awk '/Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 }
                 /Non-2xx or 3xx responses:/ { n += $5 } END { print n + 0 }' "$out")"
  fi
  [ -n "$rate" ] && [ -n "$p99" ] ||
    fail "unreadable $load output for ${name_of[$s]}: $(cat "$out"* | tail -n 5)"
  rate_list[$s.$load]="${rate_list[$s.$load]:-} $rate"
  p99_list[$s.$load]="${p99_list[$s.$load]:-} $p99"
  error_count[$s.$load]=$(( ${error_count[$s.$load]:-0} + errs ))
  printf '  %-8s %-10s %10.0f /s   p99 %8s ms   errors %s\n' "${name_of[$s]}" "$load" \
    "$rate" "$p99" "$errs"
}

middle() {  # the median of the numbers given
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) exit
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
divide() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

summary="$work/summary.md"
revision="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo uncommitted)"
git -C "$root" diff --quiet HEAD 2>/dev/null || revision="$revision (with local changes)"
cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
{
  echo "### bench/tls_bench.sh — $(date -u '+%Y-%m-%d %H:%M UTC'), revision $revision"
  echo
  echo "Machine: $(nproc) cores, ${cpu:-unknown CPU}, Linux $(uname -r). Loopback only; wrk," \
    "the server under test and echo-backend share the cores. Load average at start:" \
    "$(cut -d' ' -f1-3 /proc/loadavg)."
} >"$summary"

if [ "$warmup" -gt 0 ]; then
  echo "== warm-up (${warmup}s per server and load)"
  for s in "${order[@]}"; do
    for load in "${loads[@]}"; do run_load "$s" "$load" "$warmup" drop; done
  done
fi
for r in $(seq "$rounds"); do
  echo "== round $r/$rounds (${duration}s per server and load)"
  n=${#order[@]}
  for load in "${loads[@]}"; do
    # Rotate the order each round so neither server always goes first.
    for i in $(seq 0 $((n - 1))); do
      run_load "${order[$(((i + r - 1) % n))]}" "$load" "$duration" keep
    done
  done
done

# `wrk -v` exits 1 after printing its version.
tool_versions="$( (wrk -v 2>&1 || true) | awk 'NR == 1 { print $1, $2 }')"
tool_versions+=", $(openssl version | cut -d' ' -f1-2)"
! selected nginx || tool_versions+=", nginx $(nginx -v 2>&1 | sed 's/.*nginx\///')"
declare -A rate_mid p99_mid
{
  echo
  echo "Loads: \`wrk -t$wrk_threads -c$connections -d${duration}s --latency\` over https" \
    "(keep-alive, then with \`Connection: close\`), and $handshake_clients parallel" \
    "\`openssl s_time -new -time $duration\` (full handshakes, no request); $rounds rounds in" \
    "rotating order, medians reported. Servers with $proxy_threads workers; echo-backend with" \
    "$echo_threads thread(s) over plain HTTP. Certificate: ECDSA P-256, the same file for both." \
    "${tool_versions}. The load generators share the cores with the servers and spend about" \
    "as much CPU per handshake as they do, which narrows the handshake ratios."
  echo
  echo "| server | protocol and cipher (default client) | resumes TLS 1.3 sessions |"
  echo "|---|---|---|"
  for s in "${order[@]}"; do echo "| ${name_of[$s]} | ${negotiated[$s]} | ${resumes[$s]} |"; done
  echo
  echo "| load | server | per second (median) | p99 ms (median) | per round | errors |"
  echo "|---|---|---:|---:|---|---:|"
} >>"$summary"
for load in "${loads[@]}"; do
  for s in "${order[@]}"; do
    # shellcheck disable=SC2086  # space-separated numbers
    rate_mid[$s.$load]="$(middle ${rate_list[$s.$load]})"
    p99_mid[$s.$load]="-"
    # shellcheck disable=SC2086
    [ "$load" = full ] || p99_mid[$s.$load]="$(printf '%.2f' "$(middle ${p99_list[$s.$load]})")"
    printf '| %s | %s | %.0f | %s | %s | %s |\n' "${load_title[$load]}" "${name_of[$s]}" \
      "${rate_mid[$s.$load]}" "${p99_mid[$s.$load]}" \
      "$(for v in ${rate_list[$s.$load]}; do printf '%.0f ' "$v"; done | sed 's/ $//')" \
      "${error_count[$s.$load]}" >>"$summary"
  done
done
if selected nginx && selected atrium; then
  {
    echo
    echo "| Atrium / nginx | rate | p99 |"
    echo "|---|---:|---:|"
    for load in "${loads[@]}"; do
      p99_ratio="n/a"
      [ "$load" = full ] ||
        p99_ratio="$(divide "${p99_mid[atrium.$load]}" "${p99_mid[nginx.$load]}")"
      echo "| ${load_title[$load]} |" \
        "$(divide "${rate_mid[atrium.$load]}" "${rate_mid[nginx.$load]}") | $p99_ratio |"
    done
  } >>"$summary"
  if [ "${negotiated[nginx]}" != "${negotiated[atrium]}" ]; then
    echo -e "\nWarning: the servers negotiated different protocols or ciphers; the ratios" \
      "compare unlike work." >>"$summary"
  fi
  if [ "${resumes[nginx]}" != "${resumes[atrium]}" ]; then
    echo -e "\nNote: only one server resumes sessions, so the reconnect load is resumed" \
      "handshakes for one and full handshakes for the other." >>"$summary"
  fi
fi
for s in "${order[@]}"; do
  for load in "${loads[@]}"; do
    if [ "${error_count[$s.$load]}" -gt 0 ]; then
      echo >>"$summary"
      echo "Warning: ${name_of[$s]} had ${error_count[$s.$load]} errors (socket errors, non-2xx" \
        "answers or failed handshakes) under the $load load; those numbers are not comparable." \
        >>"$summary"
    fi
  done
done
echo -e "\nLoad average at end: $(cut -d' ' -f1-3 /proc/loadavg)." >>"$summary"

echo
cat "$summary"
if [ -n "$out_file" ]; then
  { echo; cat "$summary"; } >>"$out_file"
  echo
  echo "bench/tls_bench.sh: result block appended to $out_file"
fi
