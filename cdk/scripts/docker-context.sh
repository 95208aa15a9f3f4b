#!/usr/bin/env bash
# Docker cannot run here, so the worker image is never built by the checks. This checks what can
# be checked without a daemon, on the build context `cdk synth` staged (the repository root after
# .dockerignore and dockerContextExcludes()): the Dockerfile is in it, every COPY source exists in
# it, and cargo loads the workspace from it with --locked (every member manifest present,
# Cargo.lock current), as the image's `cargo build --release --locked -p drs-worker` will need.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CDK_DIR"
shopt -s nullglob
manifests=(cdk.out/*.assets.json)
[ ${#manifests[@]} -gt 0 ] || die "no cdk.out/*.assets.json: run scripts/synth.sh first"
read -r ctx dockerfile < <(node -e '
  const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const imgs = Object.values(m.dockerImages || {});
  if (imgs.length !== 1) { console.error(`expected one Docker image asset, found ${imgs.length}`); process.exit(1); }
  console.log(`cdk.out/${imgs[0].source.directory} ${imgs[0].source.dockerFile}`);
' "${manifests[0]}")
[ -f "$ctx/$dockerfile" ] || die "$dockerfile is not in the staged build context $ctx"
while read -r src; do
    [ -e "$ctx/$src" ] || die "$dockerfile copies '$src', which is not in the build context (see .dockerignore)"
done < <(grep -E '^COPY ' "$ctx/$dockerfile" | grep -v -- '--from=' | sed -E 's/^COPY +//' | awk '{for (i = 1; i < NF; i++) print $i}')
command -v cargo >/dev/null || die "cargo not found: needed to check the workspace in the build context"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp -r "$ctx/." "$tmp/"
# cargo may need crates.io for manifests it has not cached: let it past env.sh's dead proxy.
(cd "$tmp" && env -u HTTPS_PROXY -u HTTP_PROXY -u https_proxy -u http_proxy \
    cargo metadata --locked --format-version 1 >/dev/null) \
    || die "cargo cannot load the workspace from the build context with --locked"
echo "docker build context: $dockerfile present, COPY sources present, workspace loads with --locked"
