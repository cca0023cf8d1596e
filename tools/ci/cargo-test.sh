#!/usr/bin/env bash
# Runs the workspace tests and ends with one summary line over every test
# binary ("tests: N passed, N failed"), so the closing line counts them all.
set -uo pipefail

log="$(mktemp -t cargo-test.XXXXXX.log)"
trap 'rm -f "$log"' EXIT

cargo test --workspace "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

read -r passed failed < <(awk '/^test result:/ {
    for (i = 1; i <= NF; i++) {
        if ($(i+1) ~ /^passed;?$/) p += $i
        if ($(i+1) ~ /^failed;?$/) f += $i
    }
} END { print p + 0, f + 0 }' "$log")

echo
echo "tests: ${passed} passed, ${failed} failed"
if [ "$status" -eq 0 ] && [ "$passed" -eq 0 ]; then
    echo "no test ran" >&2
    exit 1
fi
exit "$status"
