#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests of the HTML reports (test/report/), which drive it
# through puppeteer-core. Puppeteer's own browser download is never used (puppeteer-core has none, and the
# test machines reach no network beyond the Debian mirror). Idempotent: does nothing when chromium is on
# the PATH. Needs root for apt-get (CI runs as root on a fresh Debian 12).
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  echo "chromium: already installed ($(command -v chromium))"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-chromium: chromium is missing and installing it needs root (run as root, or: apt-get install chromium)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "chromium: installing Debian's chromium (apt-get)"
# apt's chatter (debconf notices) goes to a log that is shown only when the install fails.
log=$(mktemp -t install-chromium-XXXXXX.log)
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-chromium: 'apt-get install chromium' failed; the report browser tests need /usr/bin/chromium" >&2
  exit 1
fi
command -v chromium >/dev/null 2>&1 || { echo "install-chromium: chromium still not on the PATH after apt-get" >&2; exit 1; }
echo "chromium: $(chromium --version 2>/dev/null || echo installed)"
