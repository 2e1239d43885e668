#!/usr/bin/env bash
# The browser tests drive Debian's Chromium at /usr/bin/chromium through Playwright, which never
# downloads a browser here. If it is missing and this runs as root, install Debian's package;
# otherwise stop with a clear message. Never skip silently.
set -euo pipefail
chromium=/usr/bin/chromium
[ -x "$chromium" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  echo "Chromium is not at $chromium; installing Debian's chromium package ..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  [ -x "$chromium" ] && { echo "Chromium installed."; exit 0; }
  echo "ERROR: the chromium package is installed, yet $chromium is still missing." >&2
  exit 1
fi
echo "ERROR: the browser tests (tests/browser) need Chromium at $chromium." >&2
echo "Install Debian's package as root (apt-get install chromium), then run make test again." >&2
exit 1
