#!/usr/bin/env bash
# The size budgets of the Rust sources (issue #20, ARCHITECTURE.md "Budgets"):
#   production source: aim at 600 lines, fail over 800;
#   test source:       aim at 800 lines, fail over 1000.
# A file is test source when its path has a `tests` folder or it is a `tests.rs`, `testing.rs`
# or under a `testing/` or `conformance` module (fakes and suites for tests); everything else
# under the workspace's crates is production source. Functions are held to 120 lines by clippy
# (`too_many_lines`, clippy.toml), which scripts/test.sh runs with -D warnings.
#
#   scripts/lib/check-sizes.sh [ROOT]   lists the files over the aim, fails naming every file
#                                       over the limit (exit 1)
set -euo pipefail

ROOT="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
cd "$ROOT"

PROD_AIM=600
PROD_LIMIT=800
TEST_AIM=800
TEST_LIMIT=1000

is_test() {
    case "/$1" in
    */tests/* | */tests.rs | */testing.rs | */testing/* | */conformance.rs | */conformance/*) return 0 ;;
    *) return 1 ;;
    esac
}

over=0
while IFS= read -r -d '' file; do
    file="${file#./}"
    lines=$(wc -l < "$file")
    if is_test "$file"; then
        kind=test aim=$TEST_AIM limit=$TEST_LIMIT
    else
        kind=production aim=$PROD_AIM limit=$PROD_LIMIT
    fi
    if [ "$lines" -gt "$limit" ]; then
        echo "check-sizes: $file: $lines lines, over the $kind limit of $limit: split it by concern" >&2
        over=$((over + 1))
    elif [ "$lines" -gt "$aim" ]; then
        echo "check-sizes: note: $file: $lines lines ($kind source aims at $aim)"
    fi
done < <(find . -name '*.rs' -not -path './target/*' -not -path '*/target/*' \
    -not -path '*/node_modules/*' -not -path './cdk/cdk.out/*' -not -path './.local-stack/*' -print0 | sort -z)

if [ "$over" -gt 0 ]; then
    echo "check-sizes: $over file(s) over the limit" >&2
    exit 1
fi
echo "check-sizes: every Rust file within its limit"
