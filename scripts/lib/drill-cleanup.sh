#!/usr/bin/env bash
# The clean-up of scripts/local-drill.sh, run as its watchdog: started before the drill starts
# anything, in a session of its own (no signal meant for the drill or its terminal reaches it),
# with stdin the read end of a pipe that only the drill holds open. It waits for EOF, which
# comes when the drill ends however it ends (its EXIT trap closes the pipe; the kernel closes it
# when the drill is SIGKILLed), then stops what that drill started: its execution if it still
# runs (`drs-waves follow` leaves executions alone, and the drill may not have stopped it), the
# follower if it still runs, the worker, and the services that were not running before the
# drill.
#
# Usage (from local-drill.sh only): drill-cleanup.sh STATE_DIR KEEP_STACK [ALREADY_UP...]
# stdin: lines "execution ARN -" and "follower PID STARTTIME" from the drill, then EOF.
set -uo pipefail
# Nothing may cut the clean-up short: not a signal, not a closed terminal or pipe on stdout.
# Its children inherit the ignored signals (stack.py stop, local-stack.sh down).
trap '' INT TERM HUP PIPE QUIT

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$REPO/scripts/lib/common.sh"

STATE=$1 KEEP=$2
shift 2
already_up=("$@")

follower="" follower_start="" execution=""
while read -r what pid start; do
    [ "$what" = follower ] && follower=$pid follower_start=$start
    [ "$what" = execution ] && execution=$pid
done

py() { "$(venv_python)" "$REPO/scripts/lib/stack.py" "$@"; }

# An execution left running would keep the plan's run lock and take tasks from the next drill's
# worker. The drill stops it itself when it can; after a SIGKILL only this is left to do it.
if [ -n "$execution" ]; then
    py stop-execution "$STATE" "$execution" "the drill ended (its watchdog stopped the execution)" \
        || log "could not stop the execution $execution"
fi

# The follower is the drill's child and is stopped by the drill's traps; it is still there only
# when the drill could not do it (SIGKILL).
if [ -n "$follower" ] && [ "$(proc_start_time "$follower")" = "$follower_start" ]; then
    kill -TERM "$follower" 2>/dev/null
    deadline=$((SECONDS + 15))
    while [ "$(proc_start_time "$follower")" = "$follower_start" ] && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.1
    done
    [ "$(proc_start_time "$follower")" = "$follower_start" ] && kill -KILL "$follower" 2>/dev/null
fi

if [ -f "$STATE/worker.pid" ]; then
    py stop worker "$STATE/worker.pid" --grace 15
fi
if [ "$KEEP" = 1 ]; then
    log "stack left running (DRS_WAVES_KEEP_STACK=1): scripts/local-stack.sh down stops it"
elif [ ${#already_up[@]} = 0 ]; then
    "$REPO/scripts/local-stack.sh" down
else
    # Stop only the services that this run started.
    for svc in drs-sim moto localstack; do
        case " ${already_up[*]} " in *" $svc "*) ;; *)
            py stop "$svc" "$STATE/$svc.pid" --grace "$([ "$svc" = localstack ] && echo 3 || echo 10)" ;;
        esac
    done
fi
exit 0
