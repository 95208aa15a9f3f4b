#!/usr/bin/env bash
# Sets up what the local stack and the tests need, and nothing system-wide:
#   - <repo>/.venv (or $DRS_WAVES_VENV) from the exactly pinned requirements.txt (moto, cfn-lint,
#     boto3, statelint) and <repo>/.venv-localstack (or $DRS_WAVES_LOCALSTACK_VENV) from
#     requirements-localstack.txt (two venvs: LocalStack's moto fork clashes with moto),
#   - tools/node_modules and cdk/node_modules from their package-lock.json (npm ci),
#   - the binaries drs-worker, drs-sim, drs-codegen and drs-waves (the operator CLI, whose
#     `drs-waves report` writes a report) (cargo build, debug),
#   - Debian's `chromium` (apt-get, as root, only when missing): the end-to-end test of the
#     recovery report opens it headless (without it, that part of the test is skipped),
#   - `tmux` (apt-get, as root, only when missing): the end-to-end test of the operator CLI
#     runs it in a real terminal.
# Idempotent: each part is skipped when a stamp of its inputs says it is current.
#
# Usage: scripts/bootstrap.sh [--venv-only] [--no-npm] [--no-cargo] [--no-chromium] [--no-tmux] [--force]
# Env:   DRS_WAVES_VENV    venv of moto/cfn-lint/boto3 (default <repo>/.venv)
#        DRS_WAVES_LOCALSTACK_VENV  venv of LocalStack (default <repo>/.venv-localstack)
#        DRS_WAVES_PYTHON  interpreter to make it with (default python3.11)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$REPO/scripts/lib/common.sh"

do_npm=1
do_cargo=1
do_chromium=1
do_tmux=1
force=0
for arg in "$@"; do
    case "$arg" in
        --venv-only) do_npm=0; do_cargo=0; do_chromium=0; do_tmux=0 ;;
        --no-npm) do_npm=0 ;;
        --no-cargo) do_cargo=0 ;;
        --no-chromium) do_chromium=0 ;;
        --no-tmux) do_tmux=0 ;;
        --force) force=1 ;;
        -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
        *) die "bootstrap: unknown argument '$arg' (see --help)" ;;
    esac
done

# sha256 of the given files (and any extra words), one line.
stamp_of() {
    # Contents only (not paths): a checkout moved elsewhere is still current.
    { for f in "$@"; do if [ -f "$f" ]; then sha256sum < "$f"; else echo "missing"; fi; done; } \
        | sha256sum | cut -d' ' -f1
}

# setup_venv DIR REQUIREMENTS: make DIR a venv holding exactly REQUIREMENTS.
setup_venv() {
    local venv=$1 req=$2 python stamp_file want
    python="${DRS_WAVES_PYTHON:-python3.11}"
    stamp_file="$venv/.drs-waves-requirements.sha256"
    command -v "$python" >/dev/null 2>&1 \
        || die "bootstrap: $python not found (LocalStack 4.9.2 needs Python 3.11; set DRS_WAVES_PYTHON)"
    want="$(stamp_of "$req") $("$python" -c 'import sys; print(sys.version.split()[0])')"
    if [ "$force" = 0 ] && [ -x "$venv/bin/python" ] && [ -f "$stamp_file" ] \
        && [ "$(cat "$stamp_file")" = "$want" ]; then
        log "venv $venv is current"
        return
    fi
    if [ -x "$venv/bin/python" ]; then
        # Start clean: pip does not remove packages a new requirements file no longer names.
        log "recreating venv $venv (requirements changed)"
        rm -rf "$venv"
    else
        log "creating venv $venv with $python"
    fi
    "$python" -m venv "$venv" \
        || die "bootstrap: '$python -m venv' failed (on Debian: apt-get install python3-venv)"
    log "installing $(basename "$req") into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$req"
    "$venv/bin/python" -m pip check >/dev/null \
        || die "bootstrap: pip check found missing or broken requirements in $venv ($(basename "$req") incomplete?)"
    echo "$want" > "$stamp_file"
    log "venv $venv ready"
}

setup_npm() {
    local dir=$1 lock stamp_file want
    lock="$REPO/$dir/package-lock.json"
    [ -f "$lock" ] || return 0
    command -v npm >/dev/null 2>&1 || die "bootstrap: npm not found (needed for $dir; apt-get install npm)"
    stamp_file="$REPO/$dir/node_modules/.drs-waves-lock.sha256"
    want="$(stamp_of "$lock" "$REPO/$dir/package.json")"
    if [ "$force" = 0 ] && [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$want" ]; then
        log "$dir/node_modules is current"
        return
    fi
    log "npm ci --prefix $dir"
    npm ci --prefix "$REPO/$dir" --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp_file"
}

setup_cargo() {
    command -v cargo >/dev/null 2>&1 || die "bootstrap: cargo not found"
    # cargo itself knows what is current; a no-op build takes a second. The whole workspace, as
    # the tests build it: the same features everywhere, so the tests reuse this build of the SDK
    # crates instead of compiling them again (the worker image is built on its own, without
    # the test-only features).
    log "cargo build --workspace --bins"
    (cd "$REPO" && cargo build --quiet --workspace --bins)
}

# Debian's chromium, for the report test's headless browser. Installed only when missing, and
# only where it can be (root with apt-get: CI and the dev container); elsewhere a note.
setup_chromium() {
    if command -v chromium >/dev/null 2>&1; then
        log "chromium is installed"
        return
    fi
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        log "chromium is missing and not installed here (needs root and apt-get): the report test skips its Chromium part"
        return
    fi
    log "apt-get install chromium"
    local install=(apt-get install -y -qq --no-install-recommends chromium)
    # The package lists may be missing or stale (a fresh container): update once and retry.
    DEBIAN_FRONTEND=noninteractive "${install[@]}" >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive "${install[@]}" >/dev/null; } \
        || die "bootstrap: apt-get install chromium failed"
    command -v chromium >/dev/null 2>&1 || die "bootstrap: chromium installed but not on PATH"
}

# tmux, for the operator CLI's terminal test: the same rules as chromium.
setup_tmux() {
    if command -v tmux >/dev/null 2>&1; then
        log "tmux is installed"
        return
    fi
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        log "tmux is missing and not installed here (needs root and apt-get): the operator CLI's terminal test fails until it is (apt-get install tmux)"
        return
    fi
    log "apt-get install tmux"
    local install=(apt-get install -y -qq --no-install-recommends tmux)
    DEBIAN_FRONTEND=noninteractive "${install[@]}" >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive "${install[@]}" >/dev/null; } \
        || die "bootstrap: apt-get install tmux failed"
    command -v tmux >/dev/null 2>&1 || die "bootstrap: tmux installed but not on PATH"
}

# The cargo build is CPU work and the rest is mostly downloading and unpacking: on a fresh
# machine (CI) running them side by side saves minutes. The build's output goes to a log, shown
# only when it fails; it is waited for before bootstrap says it is done.
cargo_pid="" cargo_log=""
if [ "$do_cargo" = 1 ]; then
    cargo_log="$(mktemp "${TMPDIR:-/tmp}/drs-waves-bootstrap-cargo.XXXXXX")"
    setup_cargo > "$cargo_log" 2>&1 &
    cargo_pid=$!
    # A failure below (die) must not leave the build running behind bootstrap's back.
    trap '[ -z "$cargo_pid" ] || kill "$cargo_pid" 2>/dev/null || true' EXIT
fi
setup_venv "$(venv_dir)" "$REPO/requirements.txt"
setup_venv "$(localstack_venv_dir)" "$REPO/requirements-localstack.txt"
if [ "$do_npm" = 1 ]; then
    setup_npm tools
    setup_npm cdk
fi
if [ "$do_chromium" = 1 ]; then
    setup_chromium
fi
if [ "$do_tmux" = 1 ]; then
    setup_tmux
fi
if [ -n "$cargo_pid" ]; then
    cargo_status=0
    wait "$cargo_pid" || cargo_status=$?
    cargo_pid=""
    cat "$cargo_log"
    rm -f "$cargo_log"
    [ "$cargo_status" = 0 ] || die "bootstrap: the cargo build failed (exit $cargo_status)"
fi
log "bootstrap done"
