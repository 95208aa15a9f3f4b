/**
 * cdk-nag acknowledgements that are computed rather than written out.
 *
 * AwsSolutions-IAM5 reports one finding per wildcard resource, named by the resource as
 * cdk-nag flattens it. Each wildcard the worker and the operator policy hold has a reason
 * recorded next to its statement (worker-policy.ts, operator-policy.ts); this turns those into
 * acknowledgements, and refuses to synthesize a wildcard that has no reason.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';

export function acknowledgeWildcardResources(
  policy: iam.Policy | iam.ManagedPolicy,
  statements: readonly iam.PolicyStatement[],
  reasons: Readonly<Record<string, string>>,
): void {
  const stack = Stack.of(policy);
  const byFinding = new Map<string, string[]>();
  for (const statement of statements) {
    const json = stack.resolve(statement.toStatementJson()) as { Sid?: string; Resource?: unknown };
    const resources = json.Resource === undefined ? [] : Array.isArray(json.Resource) ? json.Resource : [json.Resource];
    for (const resource of resources) {
      const flat = flattenCfnReference(resource);
      if (!flat.includes('*')) continue;
      const reason = json.Sid ? reasons[json.Sid] : undefined;
      if (!reason) {
        throw new Error(`IAM statement ${json.Sid ?? '(no Sid)'} grants ${flat} but no reason for the wildcard is recorded`);
      }
      const list = byFinding.get(flat) ?? [];
      list.push(`${json.Sid}: ${reason}`);
      byFinding.set(flat, list);
    }
  }
  for (const [flat, why] of byFinding) {
    Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flat}]`, reason: why.join(' | ') });
  }
}
