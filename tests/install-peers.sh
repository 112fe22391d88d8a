#!/usr/bin/env bash
# Installs the real peers the tests start: Kamailio, baresip, sipp, sox, Chromium (Debian
# packages), and the official WebSDK from npm for the compatibility tests. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
packages=(kamailio kamailio-tls-modules sip-tester baresip sox chromium iproute2)
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js may come from elsewhere than Debian (the machine's own): Debian's only when npm is absent.
command -v npm >/dev/null || missing+=(nodejs npm)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -f "$here/webcompat/package.json" ]; then
  if [ -f "$here/webcompat/package-lock.json" ]; then
    npm ci --prefix "$here/webcompat" --no-audit --no-fund --loglevel=error
  else
    npm install --prefix "$here/webcompat" --no-audit --no-fund --loglevel=error
  fi
fi
echo "peers ready: $(kamailio -v 2>/dev/null | head -1 | cut -c1-40); $(baresip -h 2>&1 | head -1 | cut -c1-30); $(/usr/bin/chromium --version 2>/dev/null)"
