#!/usr/bin/env bash
# Runs a DRILL of a plan on the local stack, from nothing: sets up what is missing
# (scripts/bootstrap.sh), starts the stack and a worker, starts the execution with
# `drs-waves start` and follows it with `drs-waves follow`. Stops what it started when it ends.
#
# Usage: scripts/local-drill.sh [PLAN [FIXTURE]]
#   PLAN     plan file (default statemachines/billing.plan.yaml)
#   FIXTURE  drs-sim fixture (default tests/drs-sim/fixtures/examples.yaml)
# Exit: 0 when the execution SUCCEEDED; 1 when it failed (the wave and reason are printed);
#       2 on a setup error; 3 when it was cancelled or stopped, the worker died or the deadline
#       passed; 130/143/129 after SIGINT/SIGTERM/SIGHUP. However it ends (SIGKILL included), what
#       it started is stopped.
# Env: DRS_WAVES_KEEP_STACK=1      leave the stack running afterwards (stop: local-stack.sh down)
#      DRS_WAVES_DRILL_TIMEOUT=600 seconds before the follower gives up
#      DRS_WAVES_DRILL_INPUT       execution input (default {"mode": "DRILL"})
#      DRS_WAVES_NO_BUILD=1        do not run cargo build (use the binaries in target/debug)
#      and those of scripts/local-stack.sh (ports, DRS_WAVES_STACK_DIR, DRS_WAVES_SIM_ARGS).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$REPO/scripts/lib/common.sh"

case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;; esac
[ $# -le 2 ] || { echo "usage: scripts/local-drill.sh [PLAN [FIXTURE]]" >&2; exit 2; }

PLAN="${1:-$REPO/statemachines/billing.plan.yaml}"
FIXTURE="${2:-$REPO/tests/drs-sim/fixtures/examples.yaml}"
STATE="${DRS_WAVES_STACK_DIR:-$REPO/.local-stack}"
export DRS_WAVES_STACK_DIR="$STATE"
[ -f "$PLAN" ] || { echo "error: plan $PLAN: no such file" >&2; exit 2; }
[ -f "$FIXTURE" ] || { echo "error: fixture $FIXTURE: no such file" >&2; exit 2; }
PLAN="$(cd "$(dirname "$PLAN")" && pwd)/$(basename "$PLAN")"
FIXTURE="$(cd "$(dirname "$FIXTURE")" && pwd)/$(basename "$FIXTURE")"

started_at=$(date +%s)
# The drill needs no npm tools, browser or tmux; bootstrap skips what is already current.
bootstrap_flags=(--no-npm --no-chromium --no-tmux)
[ "${DRS_WAVES_NO_BUILD:-0}" = 1 ] && bootstrap_flags+=(--no-cargo)
"$REPO/scripts/bootstrap.sh" "${bootstrap_flags[@]}" || exit 2

py() { "$(venv_python)" "$REPO/scripts/lib/stack.py" "$@"; }

mkdir -p "$STATE"
if py alive "$STATE/worker.pid"; then
    echo "error: a worker is already running (pid $(cut -d' ' -f1 "$STATE/worker.pid")); stop it with scripts/local-stack.sh down" >&2
    exit 2
fi
# Only what this run starts is stopped at the end: a stack that was already up stays up.
already_up=()
for svc in localstack moto drs-sim; do
    if py alive "$STATE/$svc.pid"; then already_up+=("$svc"); fi
done

# The clean-up is a watchdog (scripts/lib/drill-cleanup.sh) in a session of its own, reading a
# pipe that only this script holds open: when the pipe closes, that is when this script ends
# however it ends (an error, SIGINT, SIGTERM, SIGHUP, even SIGKILL), it stops the follower if it
# still runs, the worker, and the services that this run started.
follower="" watchdog="" watchdog_start="" watch_fd=""
# shellcheck disable=SC2317 # run by the EXIT trap
finish() {
    local rc=$?
    # Nothing cuts this short: `timeout` signals the drill, then its whole group.
    trap '' INT TERM HUP
    if [ -n "$follower" ]; then
        # Interrupted while following: stop the execution (it would keep the plan's run lock),
        # then the follower (`drs-waves follow` leaves an execution alone). The watchdog waits
        # for the follower to end (and kills it if it will not).
        stop_execution "interrupted"
        kill -TERM "$follower" 2>/dev/null || true
    fi
    # EOF for the watchdog, then wait for it, so that everything is stopped when this script
    # returns. No `wait` builtin in this trap: bash, interrupted in one `wait` by the signal
    # that brought it here, can block in another until *any* child ends; the one child left is
    # the watchdog, which waits for this script's pipe to close: a deadlock (seen under
    # `timeout`). Polling /proc has no such trap.
    if [ -n "$watch_fd" ]; then exec {watch_fd}>&-; fi
    if [ -n "$watchdog_start" ]; then
        local deadline=$((SECONDS + 180))
        while [ "$(proc_start_time "$watchdog")" = "$watchdog_start" ] && [ "$SECONDS" -lt "$deadline" ]; do
            sleep 0.2
        done
    fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# A pipe that exists before the watchdog does: whenever this script stops from here on, the
# watchdog sees EOF. `setsid` runs in place (the child leads no group), so $! is the watchdog.
exec {watch_fd}> >(exec setsid bash "$REPO/scripts/lib/drill-cleanup.sh" "$STATE" \
    "${DRS_WAVES_KEEP_STACK:-0}" ${already_up[@]+"${already_up[@]}"})
watchdog=$!
watchdog_start="$(proc_start_time "$watchdog")"

DRS_WAVES_SIM_FIXTURE="$FIXTURE" "$REPO/scripts/local-stack.sh" up "$PLAN" || exit 2

set -a
# shellcheck disable=SC1091
. "$STATE/env"
set +a
# Short grace: at the end of a drill the worker holds no task, only long polls.
export DRS_WAVES_SHUTDOWN_GRACE_SECONDS="${DRS_WAVES_SHUTDOWN_GRACE_SECONDS:-5}"
printf '\n===== worker: starting at %s\n' "$(date -Is)" >> "$STATE/worker.log"
# NO_COLOR: the log is a file, not a terminal.
worker_pid=$(NO_COLOR=1 py spawn worker "$STATE/worker.pid" "$STATE/worker.log" -- "$REPO/target/debug/drs-worker") || exit 2
log "worker: pid $worker_pid, log $STATE/worker.log"

plan_name=$("$(venv_python)" - "$PLAN" <<'EOF'
import json, sys, yaml
path = sys.argv[1]
text = open(path).read()
doc = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
print(doc["name"])
EOF
)

# The execution input (DRS_WAVES_DRILL_INPUT) as `drs-waves start` flags.
input="${DRS_WAVES_DRILL_INPUT:-}"
[ -n "$input" ] || input='{"mode": "DRILL"}'
mapfile -t start_flags < <("$(venv_python)" - "$input" <<'EOF'
import json, sys
i = json.loads(sys.argv[1])
if i.get("mode") == "RECOVERY":
    print("--recovery")
    print("--confirm=" + str(i.get("confirm", "")))
else:
    print("--drill")
if i.get("pointInTime"):
    print("--point-in-time=" + i["pointInTime"])
EOF
)
[ ${#start_flags[@]} -gt 0 ] || { echo "error: DRS_WAVES_DRILL_INPUT is not a JSON execution input: $input" >&2; exit 2; }
cli="$REPO/target/debug/drs-waves"
[ -x "$cli" ] || { echo "error: $cli is not built (cargo build -p drs-waves-cli)" >&2; exit 2; }
execution_arn=$("$cli" start "$plan_name" "${start_flags[@]}" --quiet) || exit 2
log "started ${execution_arn##*:} of plan $plan_name (${start_flags[*]})"
# The watchdog stops it too if this script cannot (SIGKILL).
echo "execution $execution_arn -" >&"$watch_fd"

# stop_execution WHY: an execution left running would keep the plan's run lock and take tasks
# from the next drill's worker; a stopped one lets the next preflight take the lock over.
# shellcheck disable=SC2317 # also run by the EXIT trap
stop_execution() {
    py stop-execution "$STATE" "$execution_arn" "$1" || log "could not stop the execution $execution_arn"
}

# In the background and waited for, so that a signal runs the traps at once (bash runs a trap
# only after a foreground child ends). It does not get the watchdog's pipe: the pipe must close
# when this script ends, even if the follower outlives it (then the watchdog stops it).
"$cli" follow "$execution_arn" {watch_fd}>&- &
follower=$!
echo "follower $follower $(proc_start_time "$follower")" >&"$watch_fd"
# The follower ends with the execution; this loop watches what it cannot see: a worker that
# died (nothing would answer the execution's tasks any more) and the deadline.
deadline=$((SECONDS + ${DRS_WAVES_DRILL_TIMEOUT:-600}))
why=""
while kill -0 "$follower" 2>/dev/null; do
    if ! py alive "$STATE/worker.pid"; then
        why="the worker exited; last lines of $STATE/worker.log:"$'\n'"$(tail -n 20 "$STATE/worker.log")"
        break
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        why="gave up after ${DRS_WAVES_DRILL_TIMEOUT:-600} s"
        break
    fi
    sleep 0.5 & wait $! || true
done
rc=0
if [ -n "$why" ]; then
    log "$why"
    stop_execution "${why%%$'\n'*}"
    kill -TERM "$follower" 2>/dev/null || true
    wait "$follower" 2>/dev/null || true
    rc=3
else
    wait "$follower" || rc=$?
fi
follower=""
log "drill finished with exit status $rc in $(( $(date +%s) - started_at )) s (setup included)"
# The evidence: the report of the execution this drill ran, while the stack still runs (the
# watchdog stops it when this script exits).
report_dir="$REPO/target/report/local-drill/${execution_arn##*:}"
if "$cli" report "$execution_arn" -o "$report_dir" >/dev/null 2>>"$STATE/report.log"; then
    echo "report: $report_dir/report.html (and report.json)"
else
    echo "report: not written, see $STATE/report.log" >&2
fi
exit "$rc"
