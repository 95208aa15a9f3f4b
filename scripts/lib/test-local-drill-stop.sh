#!/usr/bin/env bash
# Checks that scripts/local-drill.sh, stopped while it follows an execution, stops everything
# it started: its LocalStack, moto, drs-sim and worker (by the PIDs of its stack dir) and any
# other process of that run (told by DRS_WAVES_STACK_DIR in its environment).
#
# Usage: scripts/lib/test-local-drill-stop.sh [HOW...]
#   HOW   timeout  SIGTERM as `timeout` sends it: to the drill and to its whole process group
#                  (the default)
#         term | int | hup   that signal to the drill's PID only
#         kill     SIGKILL to the drill's PID: no trap runs, its watchdog stops what it started
#         all      every one of the above, one drill each (about 30 s each)
# Needs the venvs (scripts/bootstrap.sh) and the binaries (cargo build --workspace --bins).
# Each drill runs on a private stack dir and free ports, beside any other stack.
# Exit: 0 when every drill stopped everything; 1 otherwise.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$REPO/scripts/lib/common.sh"

hows=("$@")
[ ${#hows[@]} -gt 0 ] || hows=(timeout)
[ "${hows[*]}" = all ] && hows=(timeout term int hup kill)
for how in "${hows[@]}"; do
    case "$how" in timeout|term|int|hup|kill) ;; *) die "unknown HOW '$how' (timeout, term, int, hup, kill, all)" ;; esac
done
for bin in drs-worker drs-sim drs-codegen; do
    [ -x "$REPO/target/debug/$bin" ] || die "target/debug/$bin is not built: cargo build --workspace --bins"
done
[ -x "$(venv_python)" ] && [ -x "$(localstack_venv_dir)/bin/python" ] \
    || die "the Python venvs are missing: scripts/bootstrap.sh --venv-only"

SERVICES=(localstack moto drs-sim worker)
STACK=""
DRILL=""

# The processes whose environment names this stack dir (what the drill and its children run).
run_processes() {
    local env pid
    for env in /proc/[0-9]*/environ; do
        pid="${env#/proc/}"
        pid="${pid%/environ}"
        [ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] && continue
        if tr '\0' '\n' 2>/dev/null < "$env" | grep -qxF "DRS_WAVES_STACK_DIR=$STACK"; then
            # Zombies have exited (only their parent's wait is missing).
            [ "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$pid/stat" 2>/dev/null)" = Z ] || echo "$pid"
        fi
    done
}

# "PID STARTTIME" of a pid file, running now?
recorded_running() {
    local pid start now
    read -r pid start < "$1" || return 1
    now="$(awk '{ sub(/.*\) /, ""); if ($1 != "Z") print $20 }' "/proc/$pid/stat" 2>/dev/null)" || return 1
    [ "$now" = "$start" ]
}

# shellcheck disable=SC2317 # run by the EXIT trap
clean_up() {
    if [ -n "$DRILL" ] && kill -0 "$DRILL" 2>/dev/null; then kill -KILL "$DRILL" 2>/dev/null || true; fi
    if [ -n "$STACK" ] && [ -d "$STACK" ]; then
        DRS_WAVES_STACK_DIR="$STACK" bash "$REPO/scripts/local-stack.sh" down >/dev/null 2>&1 || true
        rm -rf "$STACK"
    fi
}
trap clean_up EXIT

# wait_for WHAT SECONDS COMMAND...: polls COMMAND every 0.2 s until it succeeds.
wait_for() {
    local what=$1 seconds=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "  $what: not after ${seconds} s" >&2
            return 1
        fi
        sleep 0.2
    done
}
following() { grep -q '] started ' "$STACK/drill.out" 2>/dev/null; }
drill_exited() { ! kill -0 "$DRILL" 2>/dev/null; }
nothing_left() { [ -z "$(run_processes)" ]; }

# one_drill HOW: starts a drill, stops it HOW while it follows, checks what is left.
one_drill() {
    local how=$1 svc rc=0 t0 problems=()
    STACK="$(mktemp -d "${TMPDIR:-/tmp}/drs-waves-drill-stop.XXXXXX")"
    t0=$SECONDS
    # setsid: a group of its own, as a command run by CI or a terminal has, so that `timeout`'s
    # signal to its group reaches the drill and its children and nothing of this script.
    # env --default-signal: the signals as a terminal gives them. A runner that starts this
    # script with SIGTERM/SIGINT/SIGHUP ignored (a CI runner did) passes that on, and bash can
    # neither trap nor reset a signal ignored when it starts: the drill would ignore the stop.
    # timeout -k: a drill that ignores its stop anyway is killed, not waited for forever.
    DRS_WAVES_STACK_DIR="$STACK" DRS_WAVES_SFN_PORT=0 DRS_WAVES_DDB_PORT=0 DRS_WAVES_DRS_PORT=0 \
        DRS_WAVES_NO_BUILD=1 DRS_WAVES_DRILL_TIMEOUT=300 \
        setsid env --default-signal=TERM,INT,HUP,QUIT \
        timeout -s TERM -k 90 600 "$REPO/scripts/local-drill.sh" \
        < /dev/null > "$STACK/drill.out" 2>&1 &
    DRILL=$!
    if ! wait_for "the drill following its execution" 120 following; then
        problems+=("the drill did not reach the execution")
    else
        local drill_bash
        drill_bash="$(pgrep -P "$DRILL" -f local-drill.sh | head -n 1)"
        case "$how" in
            # timeout forwards a SIGTERM it receives as it sends its own: to the command and
            # to its process group.
            timeout) kill -TERM "$DRILL" ;;
            term) kill -TERM "$drill_bash" ;;
            int) kill -INT "$drill_bash" ;;
            hup) kill -HUP "$drill_bash" ;;
            kill) kill -KILL "$drill_bash" ;;
        esac
        if ! wait_for "the drill exiting after SIG${how^^}" 60 drill_exited; then
            problems+=("it did not exit within 60 s")
            # What it was doing, then SIGKILL to its group (its own, by setsid): the watchdog,
            # in a session of its own, still stops what the drill started.
            problems+=("its processes: $(ps -o pid=,stat=,args= -g "$DRILL" 2>/dev/null | tr '\n' ';')")
            kill -KILL -- "-$DRILL" 2>/dev/null || true
        fi
    fi
    wait "$DRILL" 2>/dev/null || rc=$?
    DRILL=""
    # The drill waits for its clean-up, except when it was SIGKILLed: then the watchdog works on.
    if [ "$how" = kill ] || [ ${#problems[@]} -gt 0 ]; then
        wait_for "the watchdog's clean-up" 60 nothing_left || true
    fi
    [ "$rc" != 0 ] || problems+=("it exited 0 although stopped")
    for svc in "${SERVICES[@]}"; do
        if [ -f "$STACK/$svc.pid" ] && recorded_running "$STACK/$svc.pid"; then
            problems+=("$svc (pid $(cut -d' ' -f1 "$STACK/$svc.pid")) still runs")
        fi
    done
    local left
    left="$(run_processes | tr '\n' ' ')"
    if [ -n "$left" ]; then
        # shellcheck disable=SC2086 # a list of PIDs
        problems+=("processes of the run still there: $(ps -o pid=,args= -p ${left// /,} 2>/dev/null | tr '\n' ';')")
    fi
    if [ ${#problems[@]} = 0 ]; then
        echo "ok   local-drill.sh stopped by $how (exit $rc, $((SECONDS - t0)) s): nothing left running"
    else
        printf 'FAIL local-drill.sh stopped by %s (exit %s): %s\n' "$how" "$rc" "${problems[*]}"
        sed 's/^/     | /' "$STACK/drill.out" | tail -n 25
    fi
    clean_up
    STACK=""
    [ ${#problems[@]} = 0 ]
}

failed=0
for how in "${hows[@]}"; do
    one_drill "$how" || failed=$((failed + 1))
done
[ "$failed" = 0 ] || { echo "scripts/lib/test-local-drill-stop.sh: $failed of ${#hows[@]} stop(s) left processes behind" >&2; exit 1; }
