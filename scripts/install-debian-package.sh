#!/usr/bin/env bash
# Installs a Debian package for a command the tests need, when the command is missing:
#   bash scripts/install-debian-package.sh COMMAND PACKAGE "what needs it" [PROBE]
# Idempotent: does nothing when COMMAND is on the PATH, or, given PROBE (a shell command, such as a
# Python import), when PROBE succeeds. Needs root for apt-get (CI runs as root on a
# fresh Debian 12). apt's chatter (debconf notices) goes to a log that is shown only when it fails.
set -euo pipefail
command=$1
package=$2
why=$3
probe=${4:-command -v "$command"}

if bash -c "$probe" >/dev/null 2>&1; then
  echo "$package: already installed ($probe)"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-$package: '$probe' fails and installing it needs root (run as root, or: apt-get install $package)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "$command: installing Debian's $package (apt-get)"
log=$(mktemp -t "install-$package-XXXXXX.log")
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$package"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-$package: 'apt-get install $package' failed; $why" >&2
  exit 1
fi
bash -c "$probe" >/dev/null 2>&1 || { echo "install-$package: '$probe' still fails after apt-get" >&2; exit 1; }
echo "$command: $("$command" --version 2>/dev/null | head -n1 || echo installed)"
