#!/usr/bin/env bash
# Runs the workspace tests and ends with one summary line over every test
# binary, libtest's and cucumber's ("tests: N passed, N failed"), so the
# closing line counts them all.
set -uo pipefail

log="$(mktemp -t cargo-test.XXXXXX.log)"
trap 'rm -f "$log"' EXIT

cargo test --workspace "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# libtest: "test result: ok. 12 passed; 0 failed; ..."
# cucumber: "6 scenarios (5 passed, 1 failed)"
read -r passed failed < <(sed 's/\x1b\[[0-9;]*m//g' "$log" | awk '
/^test result:/ {
    for (i = 1; i <= NF; i++) {
        if ($(i+1) ~ /^passed;?$/) p += $i
        if ($(i+1) ~ /^failed;?$/) f += $i
    }
}
/^[0-9]+ scenarios? \(/ {
    gsub(/[(),]/, " ")
    for (i = 3; i <= NF; i++) {
        if ($(i+1) == "passed") p += $i
        if ($(i+1) == "failed") f += $i
    }
}
END { print p + 0, f + 0 }')

echo
echo "tests: ${passed} passed, ${failed} failed"
if [ "$status" -eq 0 ] && [ "$passed" -eq 0 ]; then
    echo "no test ran" >&2
    exit 1
fi
exit "$status"
