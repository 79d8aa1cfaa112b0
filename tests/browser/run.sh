#!/usr/bin/env bash
# CTest's browser_ui: runs ui_test.cjs against BUILD_DIR's sluice. Exits 77 (CTest: skipped),
# saying why, when node, chromium or playwright-core is missing (bash tests/browser/setup.sh
# installs the last; .ci/test runs it first, so CI never skips).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: run.sh BUILD_DIR}
chromium=${SLUICE_CHROMIUM:-$(command -v chromium || true)}
if ! command -v node >/dev/null || [ -z "$chromium" ]; then
  echo "browser_ui skipped: needs node and chromium (apt-get install nodejs chromium)"
  exit 77
fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "browser_ui skipped: run bash tests/browser/setup.sh first (installs playwright-core)"
  exit 77
fi
exec node "$here/ui_test.cjs" "$build" "$chromium"
