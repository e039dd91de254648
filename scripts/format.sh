#!/usr/bin/env bash
# Formats the Swift code with swift-format (shipped with the Swift toolchain) and the
# repository's .swift-format configuration.
#
# Usage: scripts/format.sh           rewrites Sources/ Tests/ Examples/ bench/Sources in place
#        scripts/format.sh --check   changes nothing; prints every place that is not formatted
#                                    (or breaks a lint rule) and exits 1 when there is one
set -euo pipefail
cd "$(dirname "$0")/.."
paths=(Sources Tests Examples bench/Sources)

if swift format --version >/dev/null 2>&1; then
    format=(swift format)
elif command -v swift-format >/dev/null 2>&1; then
    format=(swift-format)
else
    echo "format: swift-format not found (Swift 6 toolchains ship it as 'swift format')" >&2
    exit 2
fi
options=(--configuration .swift-format --recursive --parallel)

case "${1:-}" in
"")
    "${format[@]}" format --in-place "${options[@]}" "${paths[@]}"
    echo "format: formatted ${paths[*]}"
    ;;
--check)
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    # --strict: a place that is not formatted is an error, not a warning.
    if "${format[@]}" lint --strict "${options[@]}" "${paths[@]}" >"$log" 2>&1; then
        echo "format: all files are formatted"
    else
        cat "$log"
        files=$(grep -oE '^[^:]+\.swift' "$log" | sort -u | wc -l)
        echo "format: $files file(s) are not formatted; scripts/format.sh fixes the layout (lint rules need a hand)" >&2
        exit 1
    fi
    ;;
*)
    echo "usage: scripts/format.sh [--check]" >&2
    exit 2
    ;;
esac
