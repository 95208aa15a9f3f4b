#!/usr/bin/env bash
# Checks scripts/lib/check-sizes.sh on a sample tree: it fails naming an oversized production
# file and an oversized test file, and passes files at their limits. Takes well under a
# second; scripts/test.sh runs it before the check itself. Exit 0 when every case holds.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CHECK="$REPO/scripts/lib/check-sizes.sh"

work="$(mktemp -d "${TMPDIR:-/tmp}/drs-waves-sizes.XXXXXX")"
trap 'rm -rf "$work"' EXIT

lines() { # lines N FILE: a file of N lines
    mkdir -p "$(dirname "$2")"
    awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) print "// line" }' > "$2"
}
fail() {
    echo "test-check-sizes: $*" >&2
    exit 1
}

# Within the limits: production at 800, test files at 1000 (a tests/ folder, tests.rs,
# testing.rs, a conformance module).
lines 800 "$work/crate/src/big.rs"
lines 1000 "$work/crate/tests/suite.rs"
lines 1000 "$work/crate/src/tests.rs"
lines 1000 "$work/crate/src/testing.rs"
lines 1000 "$work/crate/src/conformance/locks.rs"
lines 900 "$work/target/debug/build/generated.rs"
out="$(bash "$CHECK" "$work" 2>&1)" || fail "files at their limits failed the check: $out"
grep -q 'note: crate/src/big.rs: 800 lines' <<< "$out" || fail "a file over the aim is not noted: $out"
grep -q 'target' <<< "$out" && fail "target/ was checked: $out"

# Over: one line more fails, naming the file and its kind.
lines 801 "$work/crate/src/big.rs"
if out="$(bash "$CHECK" "$work" 2>&1)"; then fail "an 801-line production file passed: $out"; fi
grep -q 'crate/src/big.rs: 801 lines, over the production limit of 800' <<< "$out" \
    || fail "the oversized production file is not named: $out"

lines 800 "$work/crate/src/big.rs"
lines 1001 "$work/crate/tests/suite.rs"
if out="$(bash "$CHECK" "$work" 2>&1)"; then fail "a 1001-line test file passed: $out"; fi
grep -q 'crate/tests/suite.rs: 1001 lines, over the test limit of 1000' <<< "$out" \
    || fail "the oversized test file is not named: $out"

echo "test-check-sizes: ok"
