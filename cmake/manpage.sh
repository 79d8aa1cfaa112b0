#!/usr/bin/env bash
# Writes the man page sluice(1) from the built binary's own help, so that it never drifts from
# it: `sluice --help` for the synopsis and command list, then `sluice help COMMAND` for each
# command, as a section of its own. usage: manpage.sh SLUICE OUT
set -euo pipefail
sluice=$1
out=$2
version=$("$sluice" --version | awk '{print $2}')
# roff: a backslash is \e; a line starting with . or ' would be a request: prefix \&
esc() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
{
  echo ".TH SLUICE 1 \"\" \"sluice $version\" \"User Commands\""
  echo ".SH NAME"
  echo "sluice \\- a stream processor that runs keyed aggregation PEs as OpenCL kernels"
  echo ".SH SYNOPSIS"
  echo ".nf"
  "$sluice" --help | sed -n '1p' | sed 's/^usage: //' | esc
  echo ".fi"
  echo ".SH DESCRIPTION"
  echo ".nf"
  "$sluice" --help | sed '1,2d' | esc
  echo ".fi"
  for cmd in $("$sluice" --help | awk '/^commands:/{on=1; next} on && /^  [a-z]/{print $1} on && /^$/{exit}'); do
    echo ".SH \"SLUICE $(echo "$cmd" | tr a-z A-Z)\""
    echo ".nf"
    "$sluice" help "$cmd" | esc
    echo ".fi"
  done
  echo ".SH ENVIRONMENT"
  echo ".TP"
  echo ".B SLUICE_DEVICE"
  echo "the OpenCL platform or device name substring to use (as --device)."
  echo ".TP"
  echo ".B SLUICE_LOG, SLUICE_LOG_FORMAT"
  echo "what is logged (level[,category...]) and how (text, logfmt or json)."
  echo ".SH SEE ALSO"
  echo "The documents installed in share/doc/sluice: README.md, config.md, metrics.md, cluster.md."
} >"$out"
