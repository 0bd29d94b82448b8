#!/usr/bin/env bash
# The end-to-end test drives Debian's headless Chromium. Install it when it is
# missing and this user can (root, or sudo without a password); otherwise say
# how.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  SUDO=""
elif sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
else
  echo "chromium is missing: install Debian's package (sudo apt-get install -y chromium) and re-run" >&2
  exit 1
fi
echo "installing Debian's chromium for the end-to-end test..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null
