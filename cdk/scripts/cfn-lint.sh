#!/usr/bin/env bash
# cfn-lint on the templates scripts/synth.sh wrote and on the shipped role template. Uses the
# project's venv (${DRS_WAVES_VENV:-<repo>/.venv}, made by scripts/bootstrap.sh), never a system
# cfn-lint, so every machine lints with the pinned version.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CDK_DIR"
CFN_LINT="${DRS_WAVES_VENV:-$REPO_ROOT/.venv}/bin/cfn-lint"
[ -x "$CFN_LINT" ] || die "cfn-lint not found at $CFN_LINT: run scripts/bootstrap.sh (it creates <repo>/.venv) or set DRS_WAVES_VENV"
shopt -s nullglob
templates=(cdk.out/*.template.json cdk.out-*/*.template.json)
[ ${#templates[@]} -gt 0 ] || die "no synthesized templates: run scripts/synth.sh first"
# The role operators create in each target account (cdk/role-template/): shipped, never
# synthesized, so linted as written. cfn-lint checks its IAM actions against its copy of the SAR.
role_templates=(role-template/*.yaml)
[ ${#role_templates[@]} -gt 0 ] || die "no template in role-template/"
templates+=("${role_templates[@]}")
# Ignored, each for a reason:
#   W3005  a redundant DependsOn inside CDK's own custom-resource provider (restrict default SG)
#   W3010  availability zones are fixed on purpose: they come from cdk.json's context so synth
#          needs no lookup
rc=0
"$CFN_LINT" --ignore-checks W3005 W3010 -- "${templates[@]}" || rc=$?
# cfn-lint's exit code is a bit set: 2 errors, 4 warnings, 8 informational; 1 means it failed.
if (( rc & 7 )); then
    die "cfn-lint reported errors or warnings (exit $rc) in ${templates[*]}"
fi
echo "cfn-lint: ${#templates[@]} templates, no errors or warnings"
