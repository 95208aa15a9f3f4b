#!/usr/bin/env bash
# All checks of the CDK app (npm test --prefix cdk): type check, unit and assertion tests
# (including cdk-nag), offline cdk synth, cfn-lint, and the worker image's build context. Needs `npm ci --prefix cdk` first and
# the project venv for cfn-lint (scripts/bootstrap.sh).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CDK_DIR"
step "tsc --noEmit"
"$CDK_DIR/node_modules/.bin/tsc" --noEmit -p tsconfig.json
step "tests (node --test)"
node --require ts-node/register/transpile-only --test test/*.test.ts
step "cdk synth (offline, cdk-nag AwsSolutions)"
bash "$CDK_DIR/scripts/synth.sh"
step "cfn-lint"
bash "$CDK_DIR/scripts/cfn-lint.sh"
step "worker image build context (no Docker here: static checks only)"
bash "$CDK_DIR/scripts/docker-context.sh"
echo
echo "cdk checks passed"
