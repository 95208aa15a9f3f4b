#!/usr/bin/env bash
# Synthesizes the app offline for cfn-lint and the build-context check:
#   cdk.out/             the CLI (`cdk synth`), test/fixtures/config.example.json (the committed
#                        config.json plus env, plans, a schedule and an alarm e-mail) with the real
#                        statemachines/, the worker's build context staged as `cdk deploy` would
#   cdk.out-<variant>/   scripts/synth-variants.ts, in one process: an existing VPC with every
#                        endpoint, one with none, and six fleet-size plans (under 1 MB)
# The committed config.json itself lists no plans and does not synthesize (test/stack.test.ts
# checks that it says what to configure). cdk-nag runs as a validation plugin: an unacknowledged
# finding fails the synth.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CDK_DIR"
rm -rf cdk.out cdk.out-*
"$CDK_DIR/node_modules/.bin/cdk" synth --no-notices --no-lookups --no-version-reporting --quiet -o cdk.out -c config=test/fixtures/config.example.json
node --require ts-node/register/transpile-only scripts/synth-variants.ts
ls cdk.out/*.template.json cdk.out-*/*.template.json
