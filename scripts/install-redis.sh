#!/usr/bin/env bash
# Installs Debian's redis-server for the queue tests (test/experiment/queue.test.ts), which start their own
# server on a free loopback port, without persistence, and stop it again; the package's own service is
# not used by them. Idempotent: does nothing when redis-server is on the PATH. Needs root for apt-get
# (CI runs as root on a fresh Debian 12).
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
  echo "redis-server: already installed ($(command -v redis-server))"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-redis: redis-server is missing and installing it needs root (run as root, or: apt-get install redis-server)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "redis-server: installing Debian's redis-server (apt-get)"
# apt's chatter goes to a log that is shown only when the install fails.
log=$(mktemp -t install-redis-XXXXXX.log)
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-redis: 'apt-get install redis-server' failed; the queue tests need redis-server" >&2
  exit 1
fi
command -v redis-server >/dev/null 2>&1 || { echo "install-redis: redis-server still not on the PATH after apt-get" >&2; exit 1; }
echo "redis-server: $(redis-server --version)"
