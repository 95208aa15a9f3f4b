# shellcheck shell=bash
# Shared shell helpers of the local-stack scripts. Sourced, never run; expects $REPO set.

# A message on stderr; never fails (a closed stderr must not stop a script that is stopping things).
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2 2>/dev/null || true; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

venv_dir() { printf '%s\n' "${DRS_WAVES_VENV:-$REPO/.venv}"; }
venv_python() { printf '%s/bin/python\n' "$(venv_dir)"; }
localstack_venv_dir() { printf '%s\n' "${DRS_WAVES_LOCALSTACK_VENV:-$REPO/.venv-localstack}"; }

# proc_start_time PID: the start time of a running PID (field 22 of /proc/PID/stat, as
# stack.py records it), or nothing when it is gone or a zombie.
proc_start_time() {
    awk '{ sub(/.*\) /, ""); if ($1 != "Z") print $20 }' "/proc/$1/stat" 2>/dev/null || true
}
