#!/usr/bin/env bash
# The local stack: LocalStack (Step Functions, and S3 for the report bucket), moto's server
# (DynamoDB) and drs-sim, on 127.0.0.1, with the history table, the report bucket, the
# activities and a state machine per plan.
#
# Usage: scripts/local-stack.sh up [PLAN...]   start what is not running, (re)deploy PLANs
#        scripts/local-stack.sh down           stop exactly the processes that up started
#        scripts/local-stack.sh status         what runs, where
#
# Env (defaults):
#   DRS_WAVES_STACK_DIR   .local-stack      PIDs, logs, the env file (several stacks: one dir each)
#   DRS_WAVES_SFN_PORT    4566              LocalStack (Step Functions and S3); 0 picks a free port
#   DRS_WAVES_DDB_PORT    5050              moto server (DynamoDB); 0 picks a free port
#   DRS_WAVES_DRS_PORT    4577              drs-sim; 0 picks a free port
#   DRS_WAVES_SIM_FIXTURE tests/drs-sim/fixtures/examples.yaml   (a different one restarts drs-sim)
#   DRS_WAVES_SIM_ARGS    ""                extra drs-sim flags, e.g. "--throttle-fraction 0.3"
#   DRS_WAVES_ACCOUNT_SIMS ""               one more drs-sim per account and region, serving only
#                                           that account: space-separated ACCOUNT/REGION=FIXTURE
#                                           (their endpoints go to DRS_WAVES_DRS_ENDPOINTS)
#   DRS_WAVES_STS_CONFIG  ""                start drs-sim-sts with these roles; it becomes
#                                           AWS_ENDPOINT_URL_STS (see tests/drs-sim/README.md)
#   DRS_WAVES_ACCOUNTS    ""                1: both of the above for statemachines/two-accounts
#   DRS_WAVES_TABLE       drs-waves-history
#   DRS_WAVES_REPORT_BUCKET drs-waves-reports  where the worker writes each execution's report
#   DRS_WAVES_READY_SECONDS 90              how long each service may take to answer
# After up, `set -a; . .local-stack/env; set +a` gives the endpoints, test credentials,
# DRS_WAVES_TABLE, DRS_WAVES_REPORT_BUCKET (with AWS_ENDPOINT_URL_S3 and
# DRS_WAVES_S3_FORCE_PATH_STYLE), DRS_WAVES_ACTIVITY_ARNS and DRS_WAVES_STATE_MACHINE_ARN_<PLAN>.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$REPO/scripts/lib/common.sh"

STATE="${DRS_WAVES_STACK_DIR:-$REPO/.local-stack}"
FIXTURE="${DRS_WAVES_SIM_FIXTURE:-$REPO/tests/drs-sim/fixtures/examples.yaml}"
SIM_ARGS="${DRS_WAVES_SIM_ARGS:-}"
TABLE="${DRS_WAVES_TABLE:-drs-waves-history}"
REPORT_BUCKET="${DRS_WAVES_REPORT_BUCKET:-drs-waves-reports}"
READY_SECONDS="${DRS_WAVES_READY_SECONDS:-90}"
SERVICES=(localstack moto drs-sim)
if [ "${DRS_WAVES_ACCOUNTS:-}" = 1 ]; then
    : "${DRS_WAVES_ACCOUNT_SIMS:=111111111111/eu-west-1=$REPO/tests/drs-sim/fixtures/two-accounts-data.yaml 222222222222/us-west-2=$REPO/tests/drs-sim/fixtures/two-accounts-web.yaml}"
    : "${DRS_WAVES_STS_CONFIG:=$REPO/tests/drs-sim/fixtures/two-accounts-sts.yaml}"
fi
ACCOUNT_SIMS="${DRS_WAVES_ACCOUNT_SIMS:-}"
STS_CONFIG="${DRS_WAVES_STS_CONFIG:-}"

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }

py() { "$(venv_python)" "$REPO/scripts/lib/stack.py" "$@"; }

require_venvs() {
    if [ ! -x "$(venv_python)" ] || [ ! -x "$(localstack_venv_dir)/bin/python" ]; then
        die "the Python venvs are missing: run scripts/bootstrap.sh --venv-only first"
    fi
}

# port_of SERVICE: the port recorded at start, else the configured one (0: a free one).
port_of() {
    local svc=$1 recorded var default
    recorded="$STATE/$svc.port"
    if [ -f "$recorded" ] && py alive "$STATE/$svc.pid"; then
        cat "$recorded"
        return
    fi
    case "$svc" in
        localstack) var=DRS_WAVES_SFN_PORT default=4566 ;;
        moto) var=DRS_WAVES_DDB_PORT default=5050 ;;
        drs-sim) var=DRS_WAVES_DRS_PORT default=4577 ;;
        # The account sims and the STS stand-in: always a free port.
        *) var=DRS_WAVES_NO_SUCH_PORT_VARIABLE default=0 ;;
    esac
    local port="${!var:-$default}"
    if ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -gt 65535 ]; then
        die "$var=$port is not a port number"
    fi
    if [ "$port" = 0 ]; then port="$(py free-port)"; fi
    echo "$port"
}

port_in_use() {
    "$(venv_python)" - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.settimeout(0.5)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
EOF
}

start_service() {
    local svc=$1 port=$2 pidfile="$STATE/$1.pid" log="$STATE/$1.log"
    if py alive "$pidfile"; then
        log "$svc: already running (pid $(cut -d' ' -f1 "$pidfile"), port $(cat "$STATE/$svc.port"))"
        return
    fi
    port_in_use "$port" && die "$svc: port $port on 127.0.0.1 is taken by another process (choose another with the port variables, see --help)"
    printf '\n===== %s: starting on 127.0.0.1:%s at %s\n' "$svc" "$port" "$(date -Is)" >> "$log"
    case "$svc" in
        localstack)
            mkdir -p "$STATE/localstack"
            # hypercorn, not the default twisted server: twisted binds 0.0.0.0 whatever
            # GATEWAY_LISTEN says. DNS off (it would bind port 53), no analytics, no downloads.
            # localstack_main.py is LocalStack's own entry point with one fix (lost activity
            # tasks; see the file).
            env GATEWAY_SERVER=hypercorn GATEWAY_LISTEN="127.0.0.1:$port" \
                SERVICES=stepfunctions,events,s3,sts,sns,cloudwatch EAGER_SERVICE_LOADING=1 \
                DISABLE_EVENTS=1 DNS_ADDRESS=0 SKIP_SSL_CERT_DOWNLOAD=1 \
                FILESYSTEM_ROOT="$STATE/localstack" \
                "$(venv_python)" "$REPO/scripts/lib/stack.py" spawn localstack "$pidfile" "$log" -- \
                "$(localstack_venv_dir)/bin/python" "$REPO/scripts/lib/localstack_main.py" >/dev/null
            ;;
        moto)
            py spawn moto "$pidfile" "$log" -- \
                "$(venv_python)" -m moto.server -H 127.0.0.1 -p "$port" >/dev/null
            ;;
        drs-sim)
            local bin="$REPO/target/debug/drs-sim"
            if [ ! -x "$bin" ]; then
                log "drs-sim: not built; cargo build -p drs-sim"
                (cd "$REPO" && cargo build --quiet -p drs-sim --bins)
            fi
            [ -f "$FIXTURE" ] || die "drs-sim fixture $FIXTURE: no such file"
            # shellcheck disable=SC2086 # SIM_ARGS is a list of flags
            py spawn drs-sim "$pidfile" "$log" -- \
                "$bin" --listen "127.0.0.1:$port" --fixture "$FIXTURE" $SIM_ARGS >/dev/null
            printf '%s\n' "$FIXTURE $SIM_ARGS" > "$STATE/drs-sim.config"
            ;;
    esac
    echo "$port" > "$STATE/$svc.port"
    py wait "$svc" "$svc" "http://127.0.0.1:$port" "$pidfile" "$log" --deadline "$READY_SECONDS"
}

# start_extra SERVICE PORT PROBE CONFIG -- COMMAND...: an account's drs-sim or drs-sim-sts,
# restarted when CONFIG (its fixture and flags) changed since it was started.
start_extra() {
    local svc=$1 port=$2 probe=$3 config=$4 pidfile="$STATE/$1.pid" log="$STATE/$1.log"
    shift 5
    if py alive "$pidfile" && [ "$(cat "$STATE/$svc.config" 2>/dev/null)" != "$config" ]; then
        log "$svc: fixture or flags changed, restarting"
        stop_service "$svc"
        port="$(port_of "$svc")"
    fi
    if py alive "$pidfile"; then
        log "$svc: already running (pid $(cut -d' ' -f1 "$pidfile"), port $(cat "$STATE/$svc.port"))"
        return
    fi
    port_in_use "$port" && die "$svc: port $port on 127.0.0.1 is taken by another process"
    printf '\n===== %s: starting on 127.0.0.1:%s at %s\n' "$svc" "$port" "$(date -Is)" >> "$log"
    py spawn "$svc" "$pidfile" "$log" -- "$@" --listen "127.0.0.1:$port" >/dev/null
    printf '%s\n' "$config" > "$STATE/$svc.config"
    echo "$port" > "$STATE/$svc.port"
    py wait "$svc" "$probe" "http://127.0.0.1:$port" "$pidfile" "$log" --deadline "$READY_SECONDS"
}

# The drs-sims of DRS_WAVES_ACCOUNT_SIMS; prints DRS_WAVES_DRS_ENDPOINTS for them.
start_account_sims() {
    local entry key file svc endpoints=""
    for entry in $ACCOUNT_SIMS; do
        key="${entry%%=*}" file="${entry#*=}"
        [[ "$key" =~ ^[0-9]{12}/[a-z0-9-]+$ ]] && [ "$key" != "$entry" ] \
            || die "DRS_WAVES_ACCOUNT_SIMS: '$entry' is not ACCOUNT/REGION=FIXTURE (e.g. 111111111111/eu-west-1=fixture.yaml)"
        [ -f "$file" ] || die "DRS_WAVES_ACCOUNT_SIMS: fixture $file of $key: no such file"
        svc="drs-sim-${key/\//-}"
        start_extra "$svc" "$(port_of "$svc")" drs-sim "$file" -- "$REPO/target/debug/drs-sim" \
            --fixture "$file" --account-id "${key%/*}" --region "${key#*/}" >&2
        endpoints+="${endpoints:+,}$key=http://127.0.0.1:$(cat "$STATE/$svc.port")"
    done
    echo "$endpoints"
}

stop_service() {
    local svc=$1 grace=10
    # LocalStack 4.9.2 under hypercorn does not exit on SIGTERM (seen: still running after 25 s).
    [ "$svc" = localstack ] && grace=3
    py stop "$svc" "$STATE/$svc.pid" --grace "$grace"
    rm -f "$STATE/$svc.port"
}

cmd_up() {
    require_venvs
    mkdir -p "$STATE"
    local plans=() p
    for p in "$@"; do
        [ -f "$p" ] || die "plan $p: no such file"
        plans+=("$(cd "$(dirname "$p")" && pwd)/$(basename "$p")")
    done
    # drs-sim holds its fixture from the start: a different fixture or flags need a restart.
    if py alive "$STATE/drs-sim.pid" && [ "$(cat "$STATE/drs-sim.config" 2>/dev/null)" != "$FIXTURE $SIM_ARGS" ]; then
        log "drs-sim: fixture or flags changed, restarting"
        stop_service drs-sim
    fi
    local sfn_port ddb_port drs_port
    sfn_port="$(port_of localstack)"
    ddb_port="$(port_of moto)"
    drs_port="$(port_of drs-sim)"
    start_service localstack "$sfn_port"
    start_service moto "$ddb_port"
    start_service drs-sim "$drs_port"
    local extra=()
    if [ -n "$ACCOUNT_SIMS" ]; then
        extra+=(--drs-endpoints "$(start_account_sims)")
    fi
    if [ -n "$STS_CONFIG" ]; then
        [ -f "$STS_CONFIG" ] || die "DRS_WAVES_STS_CONFIG: $STS_CONFIG: no such file"
        start_extra drs-sim-sts "$(port_of drs-sim-sts)" drs-sim-sts "$STS_CONFIG" -- \
            "$REPO/target/debug/drs-sim-sts" --config "$STS_CONFIG"
        extra+=(--sts-url "http://127.0.0.1:$(cat "$STATE/drs-sim-sts.port")")
    fi
    py provision --state-dir "$STATE" ${extra[@]+"${extra[@]}"} \
        --sfn-url "http://127.0.0.1:$sfn_port" --ddb-url "http://127.0.0.1:$ddb_port" \
        --drs-url "http://127.0.0.1:$drs_port" --s3-url "http://127.0.0.1:$sfn_port" \
        --report-bucket "$REPORT_BUCKET" --table "$TABLE" ${plans[@]+"${plans[@]}"}
    log "local stack up; endpoints in $STATE/env"
}

cmd_down() {
    [ -d "$STATE" ] || { log "nothing to stop ($STATE does not exist)"; return; }
    local svc
    # The worker that local-drill.sh started, if it is still there.
    if [ -f "$STATE/worker.pid" ]; then
        [ -x "$(venv_python)" ] || die "cannot stop the worker: $(venv_python) is missing"
        py stop worker "$STATE/worker.pid" --grace 15
    fi
    local extra_pid
    for extra_pid in "$STATE"/drs-sim-*.pid; do
        [ -f "$extra_pid" ] || continue
        svc="$(basename "$extra_pid" .pid)"
        stop_service "$svc"
        rm -f "$STATE/$svc.config"
    done
    for svc in drs-sim moto localstack; do
        if [ -f "$STATE/$svc.pid" ]; then
            [ -x "$(venv_python)" ] || die "cannot stop $svc: $(venv_python) is missing"
            stop_service "$svc"
        fi
    done
    # Everything those processes held was in memory: the ARNs in these files are gone too.
    rm -f "$STATE/env" "$STATE/machines.json" "$STATE/drs-sim.config"
    log "local stack down (logs kept in $STATE)"
}

# How to ask SERVICE whether it answers (an account's drs-sim is a drs-sim).
probe_of() {
    case "$1" in
        drs-sim-sts) echo drs-sim-sts ;;
        drs-sim-*) echo drs-sim ;;
        *) echo "$1" ;;
    esac
}

cmd_status() {
    local svc bad=0 pid
    local extras=() extra_pid
    for extra_pid in "$STATE"/drs-sim-*.pid; do
        [ -f "$extra_pid" ] && extras+=("$(basename "$extra_pid" .pid)")
    done
    for svc in "${SERVICES[@]}" ${extras[@]+"${extras[@]}"} worker; do
        if [ -f "$STATE/$svc.pid" ] && py alive "$STATE/$svc.pid"; then
            pid="$(cut -d' ' -f1 "$STATE/$svc.pid")"
            if [ "$svc" = worker ]; then
                printf '%-10s running  pid %s\n' "$svc" "$pid"
            elif py wait "$svc" "$(probe_of "$svc")" "http://127.0.0.1:$(cat "$STATE/$svc.port")" "" "" --deadline 0 2>/dev/null; then
                printf '%-10s running  pid %-7s http://127.0.0.1:%s\n' "$svc" "$pid" "$(cat "$STATE/$svc.port")"
            else
                printf '%-10s NOT ANSWERING  pid %-7s http://127.0.0.1:%s (log: %s)\n' "$svc" "$pid" "$(cat "$STATE/$svc.port")" "$STATE/$svc.log"
                bad=1
            fi
        else
            [ "$svc" = worker ] || bad=1
            printf '%-10s stopped\n' "$svc"
        fi
    done
    if [ -f "$STATE/machines.json" ]; then
        "$(venv_python)" -c 'import json,sys
m = json.load(open(sys.argv[1]))
if m: print("state machines:")
for k, v in sorted(m.items()): print("  %s: %s" % (k, v["arn"]))' "$STATE/machines.json"
    fi
    [ -f "$STATE/env" ] && echo "env file: $STATE/env"
    return "$bad"
}

case "${1:-}" in
    up) shift; cmd_up "$@" ;;
    down) shift; [ $# = 0 ] || die "down takes no arguments"; cmd_down ;;
    status) shift; [ $# = 0 ] || die "status takes no arguments"; require_venvs; cmd_status ;;
    -h|--help|help) usage ;;
    *) usage >&2; exit 2 ;;
esac
