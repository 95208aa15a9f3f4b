#!/usr/bin/env bash
# The test command (README): every test of the project, on a fresh machine or a developer's.
#
#   scripts/test.sh            formatting and lints, unit, integration and end-to-end tests,
#                              codegen checks (staleness, asl-validator, statelint), CDK checks
#                              (the CDK's beside the Rust tests)
#
# Installs what is missing (scripts/bootstrap.sh), starts one local stack (LocalStack's Step
# Functions engine and moto's DynamoDB on free loopback ports) that the end-to-end tests share,
# runs the Rust tests and the CDK checks, and stops exactly the processes it started.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

# A runner may start this script with SIGTERM, SIGINT or SIGHUP ignored (nohup, some CI
# agents): every child inherits that, bash cannot undo it, and the tests stop the services
# and programs they start with SIGTERM. Run again with the default dispositions.
if [ -z "${DRS_WAVES_TEST_SIGNALS_RESET:-}" ]; then
    DRS_WAVES_TEST_SIGNALS_RESET=1 exec env --default-signal=TERM,INT,HUP,QUIT bash "$0" "$@"
fi

# The closing verdict (scripts/lib/tally.sh) first proves that it fails a failing run.
bash scripts/lib/test-tally.sh
. scripts/lib/tally.sh

# The worker image check (lint worker/Dockerfile, run its release build here, no test-only code
# in the binary) is the longest step: a release build of the SDK crates, about 10 minutes on two
# cores. Bootstrap's downloads and the end-to-end tests leave most of the CPU idle (they wait on
# the network and the engine), so it starts first and runs beside everything else at the lowest
# priority, in its own target/release, and is waited for at the end. Its output is shown then,
# in one piece.
mkdir -p target
IMAGE_LOG="$REPO/target/check-worker-image.log"
# setsid: a group of its own, so that an early exit stops its cargo too. A new session is also a
# new scheduler autogroup (Linux, sched_autogroup_enabled): between autogroups the CPU is shared
# evenly whatever each process's nice says, so the group itself is niced too, or the build
# would take half the CPU from the builds and tests everything else waits on.
nice -n 19 setsid bash -c '{ echo 19 > /proc/self/autogroup; } 2>/dev/null || true; exec bash scripts/check-worker-image.sh' \
    > "$IMAGE_LOG" 2>&1 &
image_pid=$!

STACK_DIR=""
npm_pid=""
# shellcheck disable=SC2317 # run by the EXIT trap
clean_up() {
    if [ -n "$image_pid" ]; then kill -- "-$image_pid" 2>/dev/null || true; fi
    if [ -n "$npm_pid" ]; then kill -- "-$npm_pid" 2>/dev/null || true; fi
    if [ -n "$STACK_DIR" ]; then
        DRS_WAVES_STACK_DIR="$STACK_DIR" bash scripts/local-stack.sh down >/dev/null 2>&1 || true
    fi
}
trap clean_up EXIT

# After the image check has started: the venvs and npm packages bootstrap installs leave the
# CPU mostly idle, and the release build takes it meanwhile.
bash scripts/bootstrap.sh

# Formatting and lints first: they fail fast and need no services.
cargo fmt --all --check
# The size budgets (ARCHITECTURE.md, "Budgets"); the check first proves it fails an oversized file.
bash scripts/lib/test-check-sizes.sh
bash scripts/lib/check-sizes.sh
cargo clippy --workspace --all-targets --locked -- -D warnings

# The end-to-end tests run the worker binary, so build every binary before testing.
cargo build --workspace --bins --locked

# local-drill.sh stopped while it follows an execution, as `timeout` does, stops all it started
# (its own stack on free ports; about 20 s).
bash scripts/lib/test-local-drill-stop.sh timeout

# The end-to-end tests' own stack, beside (not instead of) a developer's .local-stack.
STACK_DIR="$REPO/.local-stack/test-$$"
DRS_WAVES_STACK_DIR="$STACK_DIR" DRS_WAVES_SFN_PORT=0 DRS_WAVES_DDB_PORT=0 DRS_WAVES_DRS_PORT=0 \
    DRS_WAVES_NO_BUILD=1 bash scripts/local-stack.sh up
export DRS_WAVES_E2E_STACK_ENV="$STACK_DIR/env"

RESULTS="$STACK_DIR/test-output.log"
# Every test binary first (compiling takes both cores). Then the CDK's checks (tsc, node's
# tests, cdk synth, cfn-lint: about two minutes of mostly one core) run beside the Rust tests,
# which mostly wait on the engine, niced like the image check (a group of its own, so that an
# early exit stops it; its autogroup niced too). Their output is shown after the Rust tests'.
cargo test --workspace --locked --no-run
NPM_LOG="$STACK_DIR/npm-test.log"
nice -n 10 setsid bash -c '{ echo 10 > /proc/self/autogroup; } 2>/dev/null || true; exec npm test --prefix cdk' \
    > "$NPM_LOG" 2>&1 &
npm_pid=$!
# Several end-to-end executions wait on the engine at once; four threads keep both cores busy.
cargo_status=0
cargo test --workspace --locked -- --test-threads=4 2>&1 | tee "$RESULTS" || cargo_status=$?
npm_status=0
wait "$npm_pid" || npm_status=$?
npm_pid=""
echo "==> CDK checks (npm test --prefix cdk, run beside the Rust tests)"
tee -a "$RESULTS" < "$NPM_LOG"

echo "==> worker image check (started at the beginning, at the lowest priority)"
image_status=0
wait "$image_pid" || image_status=$?
image_pid=""
cat "$IMAGE_LOG"

# One closing line for the whole run: cargo prints a result line per test binary (many of
# them "0 passed" for binaries without tests), node's runner its own totals. The script fails,
# with no success line, when a runner failed, a count of failures is not 0, or no test passed.
tests_verdict "$RESULTS" "cargo test=$cargo_status" "npm test=$npm_status" \
    "scripts/check-worker-image.sh=$image_status"
