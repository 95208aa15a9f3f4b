#!/usr/bin/env bash
# Benchmarks on the local stack: polling cost (adaptive vs fixed waits, and learned timing),
# scale (1,000 servers in 10 waves), the worker under 50 executions at once, the estate (10,000
# servers over 5 accounts, against the makespan's lower bound; --quick: 600), and codegen, with
# release builds of drs-worker and drs-codegen. Prints a table and writes
# target/bench/results.json. Not a test and not run by CI; about 12 minutes on 2 cores.
#
# Usage: scripts/bench.sh [--quick] [--only PARTS]
#   --quick       smaller sizes (a few minutes), to try the harness; not for figures
#   --only PARTS  comma-separated subset of polling,learned,scale,weather,worker,estate,codegen (learned
#                 implies polling: it learns from polling's runs)
# Env: DRS_WAVES_NO_BUILD=1   use the binaries in target/release (and target/debug/drs-sim) as
#                             they are (no cargo build)
# It starts its own stack (DRS_WAVES_STACK_DIR=target/bench/stack, free ports on 127.0.0.1)
# and stops exactly that on any exit. Generated plans, fixture, worker logs: target/bench/.
# See docs/benchmarks.md.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$REPO/scripts/lib/common.sh"

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }

quick=()
only="polling,learned,scale,weather,worker,estate,codegen"
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=(--quick) ;;
        --only) [ $# -ge 2 ] || { usage >&2; exit 2; }; only="$2"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "error: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
IFS=, read -r -a parts <<< "$only"
for p in "${parts[@]}"; do
    case "$p" in polling|learned|scale|weather|worker|estate|codegen) ;; *) die "--only: unknown part '$p' (polling, learned, scale, weather, worker, estate, codegen)" ;; esac
done

OUT="$REPO/target/bench"
STATE="$OUT/stack"
PY="$(venv_python)"
if [ ! -x "$PY" ] || [ ! -x "$(localstack_venv_dir)/bin/python" ]; then
    die "the Python venvs are missing: run scripts/bootstrap.sh --venv-only first"
fi

if [ "${DRS_WAVES_NO_BUILD:-0}" != 1 ]; then
    # The measured binaries are release builds; drs-sim is a test service, started from
    # target/debug by scripts/local-stack.sh.
    log "cargo build --release (drs-worker, drs-codegen), cargo build (drs-sim); waits for any other build of the shared target"
    (cd "$REPO" && cargo build --quiet --release -p drs-worker -p drs-codegen --bins)
    (cd "$REPO" && cargo build --quiet -p drs-sim --bins)
    # The estate's lower bound (drs_waves_rules::bound), a debug build of its example.
    (cd "$REPO" && cargo build --quiet -p drs-waves-rules --example bound)
fi
for b in drs-worker drs-codegen; do
    [ -x "$REPO/target/release/$b" ] || die "target/release/$b is missing: cargo build --release -p $b"
done
[ -x "$REPO/target/debug/drs-sim" ] || die "target/debug/drs-sim is missing: cargo build -p drs-sim"
[ -x "$REPO/target/debug/examples/bound" ] || die "target/debug/examples/bound is missing: cargo build -p drs-waves-rules --example bound"

mkdir -p "$STATE"
# The stack directory is the bench's own: anything alive there is another bench run's.
for f in "$STATE"/*.pid; do
    [ -e "$f" ] || continue
    if "$PY" "$REPO/scripts/lib/stack.py" alive "$f"; then
        die "$f: a process of another bench run is alive; stop it with DRS_WAVES_STACK_DIR=$STATE scripts/local-stack.sh down"
    fi
done
rm -f "$OUT"/worker-*.log "$OUT/results.json"

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    # No errexit here: every step must run whatever the one before returned.
    set +e
    if [ -n "${driver:-}" ]; then
        kill -TERM "$driver" 2>/dev/null
        wait "$driver" 2>/dev/null
    fi
    DRS_WAVES_STACK_DIR="$STATE" "$REPO/scripts/local-stack.sh" down >/dev/null 2>&1 || log "stopping the bench stack failed: DRS_WAVES_STACK_DIR=$STATE scripts/local-stack.sh down"
    log "bench stack stopped"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$PY" "$REPO/bench/gen.py" ${quick[@]+"${quick[@]}"} --out "$OUT" >/dev/null
# The estate's accounts: one drs-sim each, and the STS stand-in for their roles (bench/gen.py).
account_sims="" sts_config=""
case ",$only," in
    *,estate,*) account_sims="$(cat "$OUT/estate-account-sims.txt")" sts_config="$OUT/estate-sts.yaml" ;;
esac
DRS_WAVES_STACK_DIR="$STATE" DRS_WAVES_SFN_PORT=0 DRS_WAVES_DDB_PORT=0 DRS_WAVES_DRS_PORT=0 \
    DRS_WAVES_SIM_FIXTURE="$OUT/fixture.json" DRS_WAVES_SIM_ARGS="--seed 7" DRS_WAVES_TABLE=drs-waves-bench \
    DRS_WAVES_ACCOUNT_SIMS="$account_sims" DRS_WAVES_STS_CONFIG="$sts_config" \
    "$REPO/scripts/local-stack.sh" up

# In the background so that a signal reaches the traps at once; the driver stops its worker.
"$PY" "$REPO/bench/bench.py" --stack-dir "$STATE" --table drs-waves-bench --out "$OUT" --only "$only" \
    ${quick[@]+"${quick[@]}"} &
driver=$!
rc=0
wait "$driver" || rc=$?
driver=
exit "$rc"
