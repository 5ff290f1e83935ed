#!/usr/bin/env bash
# Installs a CPU Vulkan driver that Dawn accepts, without touching the system's apt sources:
# lavapipe from Mesa 25 (Debian bookworm-backports), unpacked into .vulkan/ of this project, plus an
# ICD manifest naming it. Debian 12's own lavapipe (Mesa 22.3) is refused by Dawn
# ("shaderUniform*ArrayDynamicIndexing required"), but its package pulls in the shared libraries
# (LLVM, libdrm, ...) that the newer one links against, so it is installed first.
# Idempotent: does nothing when .vulkan/lvp_icd.json already names an existing library.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest="$root/.vulkan"
icd="$dest/lvp_icd.json"

if [ -f "$icd" ] && [ -f "$(sed -n 's/.*"library_path": *"\([^"]*\)".*/\1/p' "$icd")" ]; then
  echo "lavapipe: already installed ($icd)"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-lavapipe: needs root for apt-get (run as root, or install a Vulkan driver yourself)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "lavapipe: installing libvulkan1 and mesa-vulkan-drivers (main suite) for their libraries"
apt-get update -qq
apt-get install -y -qq --no-install-recommends libvulkan1 mesa-vulkan-drivers ca-certificates >/dev/null

# The mirror URI that the system already uses.
uri=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
[ -n "$uri" ] || uri=$(awk '$1=="deb"{for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list 2>/dev/null)
[ -n "$uri" ] || uri=http://deb.debian.org/debian

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri bookworm-backports main" > "$work/sources.list"
mkdir -p "$work/lists/partial" "$work/archives/partial"
opts=(-o APT::Sandbox::User=root -o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives")
echo "lavapipe: fetching mesa-vulkan-drivers from bookworm-backports ($uri)"
apt-get "${opts[@]}" update -qq
(cd "$work" && apt-get "${opts[@]}" download -qq mesa-vulkan-drivers/bookworm-backports)
deb=$(ls "$work"/mesa-vulkan-drivers_*.deb | head -n1)
rm -rf "$dest"
mkdir -p "$dest"
dpkg-deb -x "$deb" "$dest/root"
lib=$(find "$dest/root" -name libvulkan_lvp.so | head -n1)
[ -n "$lib" ] || { echo "install-lavapipe: libvulkan_lvp.so not found in $deb" >&2; exit 1; }
printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.4.305"}}\n' "$lib" > "$icd"
echo "lavapipe: $(basename "$deb") -> $icd"
