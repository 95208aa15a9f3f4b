# Sourced by the check scripts: keep the CDK CLI offline and quiet.
# No telemetry, no version check, no notices; no AWS credential or IMDS probing (synth needs
# no account: the environment comes from config.json and cdk.json's context).
export CDK_DISABLE_CLI_TELEMETRY=1
export CDK_DISABLE_VERSION_CHECK=1
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
# Any HTTP(S) attempt by the CLI goes to a closed loopback port and fails at once, so a synth
# that tried to reach the network would fail here rather than pass by luck.
export HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9
export NO_PROXY= no_proxy=

CDK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_ROOT="$(cd "$CDK_DIR/.." && pwd)"
export CDK_DIR REPO_ROOT

die() { echo "cdk checks: $*" >&2; exit 1; }
step() { printf '\n==> %s\n' "$*"; }

[ -x "$CDK_DIR/node_modules/.bin/cdk" ] || die "cdk/node_modules is missing: run 'npm ci --prefix cdk' first"
