#!/usr/bin/env bash
# `make bench` needs wrk (the load generator). Install it from Debian when we may, else say how.
set -euo pipefail
command -v wrk >/dev/null && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing wrk (apt-get install -y wrk) ..."
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
  command -v wrk >/dev/null && exit 0
fi
echo "ERROR: make bench needs wrk: run 'apt-get install -y wrk' as root (or put wrk on PATH)." >&2
exit 1
