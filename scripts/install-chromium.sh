#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests (the HTML reports in test/report/, the exported page in
# test/export/), which drive it through puppeteer-core; it also brings SwiftShader, the second Vulkan
# driver CI runs the kernel tests on. Puppeteer's own browser download is never used (puppeteer-core has
# none, and the test machines reach no network beyond the Debian mirror).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/install-debian-package.sh" chromium chromium "the browser tests need /usr/bin/chromium"
