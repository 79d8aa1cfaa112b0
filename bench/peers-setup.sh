#!/usr/bin/env bash
# Installs the peer sluice-bench's file workload runs beside sluice that the build cannot make:
# DuckDB, through its npm package @duckdb/node-api (its native library comes inside the
# platform package @duckdb/node-bindings-linux-x64 from the npm registry; nothing else is
# downloaded). bench/README.md, "file", says how it is run.
#
#   bash bench/peers-setup.sh [DIR]    # DIR: default bench/.peers (git-ignored)
#
# sluice-bench finds it there by itself (--peers-dir DIR for another folder), and runs this script
# when it is given --peers and DuckDB is missing. Needs node (18 or later) and npm.
# Exit status: 0 installed (the version is printed), 1 the install failed, 3 no node or npm.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${1:-$here/.peers}
version=1.5.6-r.1 # @duckdb/node-api: DuckDB 1.5.6

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "peers-setup: $tool not found (Debian: apt-get install nodejs npm)" >&2
    exit 3
  fi
done

mkdir -p "$dir"
echo "peers-setup: installing @duckdb/node-api@$version into $dir" >&2
if ! npm install --prefix "$dir" --no-audit --no-fund --loglevel=error \
  "@duckdb/node-api@$version" >&2; then
  echo "peers-setup: npm install failed" >&2
  exit 1
fi
node "$here/duckdb_ctr.cjs" "$dir" --version
