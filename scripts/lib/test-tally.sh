#!/usr/bin/env bash
# Checks the closing verdict of scripts/test.sh (scripts/lib/tally.sh) against sample outputs of
# cargo and node's test runner: a failing run must fail and print no success line. Takes well
# under a second; scripts/test.sh runs it first. Exit 0 when every case holds.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=tally.sh
. "$REPO/scripts/lib/tally.sh"

work="$(mktemp -d "${TMPDIR:-/tmp}/drs-waves-tally.XXXXXX")"
trap 'rm -rf "$work"' EXIT

OK_CARGO='running 5 tests
test tests::a ... ok
test result: ok. 5 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.40s

running 0 tests
test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

   Doc-tests drs_codegen
test result: ok. 2 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 1.10s'
OK_NODE='TAP version 13
# Subtest: stack
    # Subtest: nested
    ok 1 - nested
    # pass 99
ok 1 - stack
1..1
# tests 4
# suites 1
# pass 4
# fail 0
# cancelled 0
# skipped 0
# todo 0
# duration_ms 812.5'
FAILED_CARGO='test tests::b ... FAILED
test result: FAILED. 3 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 2.00s'
FAILED_NODE='# tests 4
# pass 2
# fail 1
# cancelled 1'
SPEC_NODE='ℹ tests 3
ℹ pass 3
ℹ fail 0'

failures=0
# check NAME WANT_STATUS WANT_TALLY OUTPUT_TEXT NAME=STATUS...
check() {
    local name=$1 want=$2 want_tally=$3 text=$4 rc=0 out
    shift 4
    printf '%s\n' "$text" > "$work/output"
    out="$(tests_verdict "$work/output" "$@" 2>"$work/stderr")" || rc=$?
    local problems=()
    if [ "$want" = pass ]; then
        [ "$rc" = 0 ] || problems+=("returned $rc, expected 0")
        grep -qx 'scripts/test.sh: all tests passed' <<<"$out" || problems+=("no success line")
    else
        [ "$rc" != 0 ] || problems+=("returned 0 for a failing run")
        ! grep -q 'all tests passed' <<<"$out" || problems+=("printed the success line")
        [ -s "$work/stderr" ] || problems+=("said nothing on stderr about why")
    fi
    [ "$(tail -n 1 <<<"$out")" = "$want_tally" ] || problems+=("last line '$(tail -n 1 <<<"$out")', expected '$want_tally'")
    if [ ${#problems[@]} = 0 ]; then
        echo "ok   $name"
    else
        failures=$((failures + 1))
        printf 'FAIL %s: %s\n' "$name" "${problems[*]}"
        sed 's/^/       | /' <<<"$out"
        sed 's/^/     2>| /' "$work/stderr"
    fi
}

check "all passed"                 pass "tests: 11 passed, 0 failed" "$OK_CARGO
$OK_NODE" cargo=0 npm=0
check "node's spec reporter"       pass "tests: 10 passed, 0 failed" "$OK_CARGO
$SPEC_NODE" cargo=0 npm=0
check "a cargo test failed"        fail "tests: 7 passed, 1 failed" "$FAILED_CARGO
$OK_NODE" cargo=101 npm=0
check "failures counted, status 0" fail "tests: 7 passed, 1 failed" "$FAILED_CARGO
$OK_NODE" cargo=0 npm=0
check "node failed and cancelled"  fail "tests: 9 passed, 2 failed" "$OK_CARGO
$FAILED_NODE" cargo=0 npm=1
check "cargo failed, no counts"    fail "tests: 4 passed, 0 failed" "error[E0308]: mismatched types
error: could not compile \`drs-worker\` (lib test) due to 1 previous error
$OK_NODE" cargo=101 npm=0
check "npm failed, counts fine"    fail "tests: 11 passed, 0 failed" "$OK_CARGO
$OK_NODE
error: cfn-lint failed" cargo=0 npm=1
check "no test ran"                fail "tests: 0 passed, 0 failed" "running 0 tests
test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s" cargo=0 npm=0
check "empty output"               fail "tests: 0 passed, 0 failed" "" cargo=0 npm=0
rm -f "$work/output"
out="$(tests_verdict "$work/missing" cargo=0 2>/dev/null)" && { echo "FAIL a missing output file passed"; failures=$((failures + 1)); } \
    || echo "ok   missing output file"
[ "$(tail -n 1 <<<"$out")" = "tests: 0 passed, 0 failed" ] || { echo "FAIL missing file: last line '$out'"; failures=$((failures + 1)); }

if [ "$failures" != 0 ]; then
    echo "scripts/lib/test-tally.sh: $failures case(s) failed: the test command's verdict cannot be trusted" >&2
    exit 1
fi
echo "scripts/lib/test-tally.sh: the verdict holds for every case"
