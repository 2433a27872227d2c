#!/usr/bin/env bash
# Enforces DESIGN.md's one direction of flow: the controller never includes proxy headers, the
# proxy never includes controller headers, and src/config includes neither (nor Boost/OpenSSL).
set -u
fail=0
check() {  # dir forbidden-pattern description
  local hits
  hits=$(grep -rnE "#include [<\"]($2)" "$1" 2>/dev/null)
  if [ -n "$hits" ]; then
    echo "layering violation: $3"; echo "$hits"; fail=1
  fi
}
check controller 'proxy/' "controller/ includes proxy/ headers"
check proxy 'controller/' "proxy/ includes controller/ headers"
check src/config 'proxy/|controller/|boost/|openssl/' "src/config/ must stay plain value types"
if [ $fail -eq 0 ]; then echo "layering: ok"; fi
exit $fail
