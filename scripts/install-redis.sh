#!/usr/bin/env bash
# Installs Debian's redis-server for the queue tests (test/experiment/queue.test.ts), which start their own
# server on a free loopback port, without persistence, and stop it again; the package's own service is
# not used by them.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/install-debian-package.sh" redis-server redis-server "the queue tests need redis-server"
