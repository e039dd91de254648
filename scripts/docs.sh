#!/usr/bin/env bash
# Builds the InfiniPipeline library's DocC documentation (the catalog in
# Sources/InfiniPipeline/InfiniPipeline.docc plus the doc comments) with swift-docc-plugin.
# Any DocC warning (an unresolved ``link``, a bad Topics entry…) fails the build.
#
# Usage: scripts/docs.sh [SWIFTPM OPTIONS…]
#   The options go to `swift package` before the plugin's verb, e.g.
#   scripts/docs.sh --scratch-path /tmp/other-build   (default: the package's .build)
#
# The output is a static-hosting DocC archive; the last lines say where it is and how to look
# at it in a browser.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! swift package "$@" generate-documentation --target InfiniPipeline --warnings-as-errors 2>&1 | tee "$log"; then
    echo "docs: FAILED (see the diagnostics above)" >&2
    exit 1
fi
archive=$(grep -A1 '^Generated documentation archive at:' "$log" | tail -n 1 | sed 's/^ *//')
if [ -z "$archive" ] || [ ! -d "$archive" ]; then
    echo "docs: FAILED (the plugin reported no archive)" >&2
    exit 1
fi
echo "docs: built with no warnings: $archive"
echo "docs: preview with: python3 -m http.server 8000 --directory '$archive'"
echo "      then open http://localhost:8000/documentation/infinipipeline/"
