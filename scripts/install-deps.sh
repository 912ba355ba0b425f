#!/usr/bin/env bash
# Installs the Debian packages Norn needs to build and test. Idempotent: asks dpkg what is
# missing first and runs `apt-get update` + `apt-get install` only when something is.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mapfile -t wanted < <(grep -v '^\s*#' "$here/debian-packages.txt" | awk 'NF{print $1}')
missing=()
for pkg in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
install_npm_clients() {
  # Real Loki clients for the integration tests (npm registry). Optional: without Node.js the
  # client test reports itself as skipped.
  local clients="$here/../tests/clients"
  if command -v npm >/dev/null 2>&1; then
    if [[ ! -d "$clients/node_modules/winston-loki" || ! -d "$clients/node_modules/pino-loki" ||
          ! -d "$clients/node_modules/s3rver" ]]; then
      echo "deps: npm install in tests/clients"
      (cd "$clients" && npm install --no-audit --no-fund --silent) ||
        echo "deps: npm install failed; the client integration test will be skipped" >&2
    fi
  else
    echo "deps: npm not found; the client integration test will be skipped" >&2
  fi
}
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "deps: all ${#wanted[@]} Debian packages present"
  install_npm_clients
  exit 0
fi
echo "deps: installing ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "deps: missing packages and not root; run as root or: apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_npm_clients
