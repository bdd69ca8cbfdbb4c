#!/usr/bin/env bash
# Installs the browser test's npm packages into test/web/node_modules from
# package-lock.json, unless they are there already and newer than the lock
# file. Safe to run again; needs node and npm (deploy/install-deps.sh).
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
if [[ -d node_modules/playwright-core && node_modules/.package-lock.json -nt package-lock.json ]]; then
  exit 0
fi
npm ci --no-audit --no-fund
