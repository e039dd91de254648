#!/usr/bin/env bash
# Runs the media layer's decode/encode/remux/image loops under valgrind and fails on any
# memory definitely lost. Usage: scripts/leak-check.sh [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "leak-check: valgrind is not installed (apt-get install valgrind)"; exit 2; }
# valgrind 3.19 cannot read DWARF 5, the compilers' default: build with DWARF 4 in a scratch dir.
flags=(--scratch-path .build-leakcheck -Xswiftc -dwarf-version=4 -Xcc -gdwarf-4)
swift build "${flags[@]}" --product media-leak-check >/dev/null
bin="$(swift build "${flags[@]}" --show-bin-path)/media-leak-check"
log=$(mktemp)
# Definite leaks fail the run; "possibly lost" and "still reachable" come from the Swift runtime's
# and FFmpeg's process-lifetime caches and are reported but do not fail.
if valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=3 \
        --log-file="$log" "$bin" Fixtures "${1:-2}"; then
    grep -E "definitely lost|indirectly lost|ERROR SUMMARY" "$log"
    echo "leak-check: no definite leaks"
    rm -f "$log"
else
    status=$?
    cat "$log"
    rm -f "$log"
    echo "leak-check: FAILED (exit $status)"
    exit 1
fi
