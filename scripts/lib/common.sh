# shellcheck shell=bash
# Shared shell helpers of the local-stack scripts. Sourced, never run; expects $REPO set.

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

venv_dir() { printf '%s\n' "${DRS_WAVES_VENV:-$REPO/.venv}"; }
venv_python() { printf '%s/bin/python\n' "$(venv_dir)"; }
localstack_venv_dir() { printf '%s\n' "${DRS_WAVES_LOCALSTACK_VENV:-$REPO/.venv-localstack}"; }
