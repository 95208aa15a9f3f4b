#!/usr/bin/env bash
# Runs a DRILL of a plan on the local stack, from nothing: sets up what is missing
# (scripts/bootstrap.sh), starts the stack and a worker, starts the execution with
# StartExecution and follows it wave by wave. Stops what it started when it ends.
#
# Usage: scripts/local-drill.sh [PLAN [FIXTURE]]
#   PLAN     plan file (default statemachines/billing.plan.yaml)
#   FIXTURE  drs-sim fixture (default tests/drs-sim/fixtures/examples.yaml)
# Exit: 0 when the execution SUCCEEDED; 1 when it failed (the wave and reason are printed);
#       2 on a setup error; 3 when the worker died or the deadline passed; 130/143/129 after
#       SIGINT/SIGTERM/SIGHUP. However it ends (SIGKILL included), what it started is stopped.
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
# The drill needs no npm tools nor a browser; bootstrap skips what is already current.
bootstrap_flags=(--no-npm --no-chromium)
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
follower="" watchdog="" watch_fd=""
# shellcheck disable=SC2317 # run by the EXIT trap
finish() {
    local rc=$?
    # Nothing cuts this short: `timeout` signals the drill, then its whole group.
    trap '' INT TERM HUP
    if [ -n "$follower" ]; then
        # It stops the execution (so that it does not keep the plan's run lock) and exits.
        kill -TERM "$follower" 2>/dev/null
        wait "$follower" 2>/dev/null || true
    fi
    # EOF for the watchdog; wait for it, so that everything is stopped when this script returns.
    if [ -n "$watch_fd" ]; then exec {watch_fd}>&-; fi
    if [ -n "$watchdog" ]; then wait "$watchdog" 2>/dev/null || true; fi
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

input_default='{"mode": "DRILL"}'
# In the background and waited for, so that a signal runs the traps at once (bash runs a trap
# only after a foreground child ends). It does not get the watchdog's pipe: the pipe must close
# when this script ends, even if the follower outlives it (then the watchdog stops it).
"$(venv_python)" "$REPO/scripts/lib/drill.py" --stack-dir "$STATE" --plan "$plan_name" \
    --input "${DRS_WAVES_DRILL_INPUT:-$input_default}" \
    --worker-pidfile "$STATE/worker.pid" --worker-log "$STATE/worker.log" \
    --timeout "${DRS_WAVES_DRILL_TIMEOUT:-600}" {watch_fd}>&- &
follower=$!
echo "follower $follower $(proc_start_time "$follower")" >&"$watch_fd"
rc=0
wait "$follower" || rc=$?
follower=""
log "drill finished with exit status $rc in $(( $(date +%s) - started_at )) s (setup included)"
# The evidence: the report of the execution this drill ran (the plan's newest), while the stack
# still runs (the watchdog stops it when this script exits).
machine_var="DRS_WAVES_STATE_MACHINE_ARN_$(printf '%s' "$plan_name" | tr '[:lower:]' '[:upper:]' | tr -c 'A-Z0-9' '_')"
execution_arn=$("$(venv_python)" - "${!machine_var:-}" <<'EOF' 2>>"$STATE/report.log" || true
import os, sys, boto3
if not sys.argv[1]:
    sys.exit(0)
sfn = boto3.client("stepfunctions", endpoint_url=os.environ["AWS_ENDPOINT_URL_SFN"])
runs = sfn.list_executions(stateMachineArn=sys.argv[1], maxResults=100)["executions"]
print(max(runs, key=lambda e: e["startDate"])["executionArn"] if runs else "")
EOF
)
if [ -n "$execution_arn" ]; then
    report_dir="$REPO/target/report/local-drill/${execution_arn##*:}"
    if "$REPO/target/debug/drs-waves-report" "$execution_arn" -o "$report_dir" >/dev/null 2>>"$STATE/report.log"; then
        echo "report: $report_dir/report.html (and report.json)"
    else
        echo "report: not written, see $STATE/report.log" >&2
    fi
else
    echo "report: no execution of plan $plan_name found, see $STATE/report.log" >&2
fi
exit "$rc"
