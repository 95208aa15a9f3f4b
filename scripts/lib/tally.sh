# shellcheck shell=bash
# The closing verdict of scripts/test.sh. Sourced, never run; checked by scripts/lib/test-tally.sh.
#
#   tests_verdict OUTPUT NAME=STATUS...
#
# Counts the tests in OUTPUT (the test runners' combined output: cargo's `test result:` line
# per test binary, node's `# pass N` / `# fail N` / `# cancelled N` totals, or `ℹ pass N` from
# node's spec reporter) and prints, as its last line, `tests: N passed, N failed` (CI reads it).
# Before it, `scripts/test.sh: all tests passed` when, and only when, every STATUS (the runners'
# exit statuses) is 0, no count of failures is above 0, and at least one test passed; otherwise
# the reasons go to stderr and it returns 1.

# tests_counts OUTPUT: prints "PASSED FAILED" (0 0 for a missing or empty file).
tests_counts() {
    awk '
        /^test result: / {
            for (i = 1; i < NF; i++) {
                if ($i !~ /^[0-9]+$/) continue
                if ($(i+1) ~ /^passed/) p += $i
                if ($(i+1) ~ /^failed/) f += $i
            }
        }
        /^(# |ℹ )pass [0-9]+$/ { p += $3 }
        /^(# |ℹ )(fail|cancelled) [0-9]+$/ { f += $3 }
        END { printf "%d %d\n", p, f }
    ' "$1" 2>/dev/null || echo "0 0"
}

tests_verdict() {
    local output=$1 passed failed arg bad=()
    shift
    read -r passed failed < <(tests_counts "$output")
    for arg in "$@"; do
        [ "${arg##*=}" = 0 ] || bad+=("${arg%=*} exited with status ${arg##*=}")
    done
    [ "$failed" = 0 ] || bad+=("$failed test(s) failed")
    [ "$passed" -gt 0 ] || bad+=("no test passed (did any run?)")
    if [ ${#bad[@]} = 0 ]; then
        echo "scripts/test.sh: all tests passed"
    else
        printf 'scripts/test.sh: FAILED: %s\n' "${bad[@]}" >&2
    fi
    echo "tests: $passed passed, $failed failed"
    [ ${#bad[@]} = 0 ]
}
