#!/usr/bin/env bash
# Makes a fresh checkout ready: host packages and kernel features (needs root
# on Debian), then npm packages. Cheap when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  bash scripts/setup-host.sh
else
  echo "[bootstrap] not root or not Debian: skipping host setup; run 'mikrotik-tailscale doctor' to see what is missing" >&2
fi

# npm ci only when the lockfile changed since the last install.
stamp=node_modules/.mikrotik-tailscale-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[bootstrap] npm ci" >&2
  npm ci --no-audit --no-fund >&2
  echo "$want" >"$stamp"
fi
