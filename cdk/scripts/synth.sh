#!/usr/bin/env bash
# Synthesizes the app offline: the committed config.json into cdk.out/, and a variant that
# takes the other branches (existing VPC, X86_64, interface endpoints, ERROR logging, no
# schedules, no worker) into cdk.out-variant/, so cfn-lint sees both. cdk-nag runs as a
# validation plugin: an unacknowledged finding fails the synth.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CDK_DIR"
cdk=("$CDK_DIR/node_modules/.bin/cdk" synth --no-notices --no-lookups --no-version-reporting --quiet)
rm -rf cdk.out cdk.out-variant
"${cdk[@]}" -o cdk.out
"${cdk[@]}" -o cdk.out-variant -c config=test/fixtures/config.variant.json
ls cdk.out/*.template.json cdk.out-variant/*.template.json
