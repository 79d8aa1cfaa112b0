#!/usr/bin/env bash
# Installs the browser tests' one npm dependency, playwright-core (pinned in package.json; it
# drives Debian's chromium, it downloads no browser), into tests/browser/node_modules.
# Needs node and npm (.ci/install-deps installs them with chromium) and the npm registry.
set -euo pipefail
cd "$(dirname "$0")"
if [ -f node_modules/playwright-core/package.json ] &&
  grep -q "\"version\": \"$(sed -n 's/.*"playwright-core": "\(.*\)".*/\1/p' package.json)\"" \
    node_modules/playwright-core/package.json; then
  echo "browser tests: playwright-core already installed"
  exit 0
fi
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error
echo "browser tests: playwright-core installed in tests/browser/node_modules"
