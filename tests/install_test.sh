#!/usr/bin/env bash
# `cmake --install BUILD --prefix P` into a temporary P: the binary runs from there, the kernel
# header, docs, man page and bash completion are in place; the man page renders (man -l, or
# groff) with a section per command holding that command's options; completion gives commands
# and each command's options. usage: install_test.sh BUILD_DIR
set -euo pipefail
build=$1
p=$(mktemp -d "${TMPDIR:-/tmp}/sluice-install.XXXXXX")
trap 'rm -rf "$p"' EXIT
fail() { echo "install_tree FAILED: $*" >&2; exit 1; }
cmake --install "$build" --prefix "$p" >"$p.log" 2>&1 || { cat "$p.log"; fail "cmake --install"; }
rm -f "$p.log"
"$p/bin/sluice" --version | grep -q '^sluice ' || fail "bin/sluice --version"
[ -f "$p/include/sluice/sluice.h" ] || fail "include/sluice/sluice.h"
[ -f "$p/share/doc/sluice/README.md" ] && [ -f "$p/share/doc/sluice/metrics.md" ] || fail "docs"
man1=$p/share/man/man1/sluice.1
[ -f "$man1" ] || fail "share/man/man1/sluice.1"
if command -v man >/dev/null; then
  text=$(MANWIDTH=100 man -l "$man1" 2>/dev/null)
else
  text=$(groff -man -Tutf8 "$man1" 2>/dev/null)
fi
for cmd in $("$p/bin/sluice" --help | awk '/^commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {exit}'); do
  up=$(echo "$cmd" | tr a-z A-Z)
  grep -q "SLUICE $up" <<<"$text" || fail "the man page has no section for $cmd"
  for opt in $("$p/bin/sluice" help "$cmd" | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    grep -q -- "$opt" <<<"$text" || fail "the man page lacks $cmd's $opt"
  done
done
echo "ok   bin, include, docs and a man page with every command's options"
comp=$p/share/bash-completion/completions/sluice
[ -f "$comp" ] || fail "bash completion file"
got=$(PATH="$p/bin:$PATH" bash -c '
  source "$1"
  COMP_WORDS=(sluice c); COMP_CWORD=1; _sluice; echo "${COMPREPLY[*]}"
  COMP_WORDS=(sluice ctr --metr); COMP_CWORD=2; _sluice; echo "${COMPREPLY[*]}"
  COMP_WORDS=(sluice --log-format j); COMP_CWORD=2; _sluice; echo "${COMPREPLY[*]}"
  COMP_WORDS=(sluice help ru); COMP_CWORD=2; _sluice; echo "${COMPREPLY[*]}"
' _ "$comp")
[ "$(sed -n 1p <<<"$got")" = "ctr cluster" ] || fail "completing 'sluice c' gave: $(sed -n 1p <<<"$got")"
[ "$(sed -n 2p <<<"$got")" = "--metrics" ] || fail "completing 'sluice ctr --metr' gave: $(sed -n 2p <<<"$got")"
[ "$(sed -n 3p <<<"$got")" = "json" ] || fail "completing '--log-format j' gave: $(sed -n 3p <<<"$got")"
[ "$(sed -n 4p <<<"$got")" = "run" ] || fail "completing 'sluice help ru' gave: $(sed -n 4p <<<"$got")"
echo "ok   bash completion: commands, options, log formats"
echo "install_tree: all checks passed"
