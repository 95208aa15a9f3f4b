/**
 * The role template operators create in each target account (cdk/role-template/): its DRS and
 * EC2 statements are the worker's own, Sid for Sid (actions, conditions, resources in the
 * target's account and region), so the two cannot drift; its trust is the worker's role only,
 * with the external ID required when one is given; no action is a wildcard. cfn-lint checks
 * the template itself (scripts/cfn-lint.sh).
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CfnInclude } from 'aws-cdk-lib/cloudformation-include';
import { CDK_DIR } from '../lib/app';
import { loadContract } from '../lib/contract';
import { DRS_SERVICE_ROLES, workerStatements } from '../lib/worker-policy';
import { asArray, REAL_STATEMACHINES } from './helpers';

const TEMPLATE = path.join(CDK_DIR, 'role-template', 'drs-waves-target-role.yaml');
const ACCOUNT = '111122223333';
const REGION = 'eu-west-1';
const PSEUDO: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': REGION, 'AWS::AccountId': ACCOUNT };

/** The template as CloudFormation reads it (CfnInclude parses YAML with the short-form tags). */
function roleTemplate(): any {
  const stack = new Stack(new App(), 'RoleTemplate');
  new CfnInclude(stack, 'Template', { templateFile: TEMPLATE });
  return Template.fromStack(stack).toJSON();
}

/** Pseudo parameters, Ref, Fn::Join and string Fn::Sub resolved to text; anything else kept. */
function resolve(v: any): any {
  if (Array.isArray(v)) return v.map(resolve);
  if (typeof v !== 'object' || v === null) return v;
  if (typeof v.Ref === 'string' && v.Ref in PSEUDO) return PSEUDO[v.Ref];
  if (v['Fn::Join']) return (v['Fn::Join'][1] as any[]).map(resolve).join(v['Fn::Join'][0]);
  if (typeof v['Fn::Sub'] === 'string') return v['Fn::Sub'].replace(/\$\{([^}]+)\}/g, (_: string, k: string) => PSEUDO[k] ?? `\${${k}}`);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]));
}

/** A statement as IAM reads it: single values as lists, actions in lower case and sorted. */
function normal(st: any) {
  return {
    Sid: st.Sid,
    Effect: st.Effect,
    Action: asArray<string>(st.Action).map((a) => a.toLowerCase()).sort(),
    Resource: asArray(resolve(st.Resource)).map(String).sort(),
    Condition: Object.fromEntries(
      Object.entries<Record<string, unknown>>(st.Condition ?? {}).map(([op, keys]) => [op, Object.fromEntries(Object.entries(keys).map(([k, x]) => [k, asArray(x)]))]),
    ),
  };
}

/** The worker's statements in a stack of the target's account and region. */
function worker(): any[] {
  const contract = loadContract(path.join(REAL_STATEMACHINES, 'contract.json'));
  const stack = new Stack(new App(), 'Worker', { env: { account: ACCOUNT, region: REGION } });
  const statements = workerStatements(stack, {
    activityArns: ['arn:aws:states:eu-west-1:111122223333:activity:x'],
    stateMachineNames: ['x'],
    tableArn: 'arn:aws:dynamodb:eu-west-1:111122223333:table/x',
    indexNames: [],
    executionTagKey: contract.jobTags.execution,
    networkTagKey: contract.jobTags.networkof,
  });
  return statements.map((s) => stack.resolve(s.toStatementJson()));
}

const isDrsOrEc2 = (st: any) => asArray<string>(st.Action).every((a) => /^(drs|ec2):/i.test(a));
const actions = (sts: any[]) => [...new Set(sts.flatMap((st) => normal(st).Action))].sort();

describe('role template for target accounts', () => {
  const template = roleTemplate();
  const role = template.Resources.DrsWavesTargetRole;
  const policies = role.Properties.Policies;
  const statements: any[] = policies.flatMap((p: any) => p.PolicyDocument.Statement);

  it('grants exactly the DRS and EC2 actions of the worker policy', () => {
    const ours = statements.filter((st) => !st['Fn::If'] && isDrsOrEc2(st));
    const theirs = worker().filter(isDrsOrEc2);
    assert.ok(actions(theirs).includes('drs:startrecovery'));
    assert.deepEqual(actions(ours), actions(theirs));
  });

  it('the DRS and EC2 statements are the worker\'s, Sid for Sid: resources and conditions too', () => {
    const ours = statements.filter((st) => !st['Fn::If'] && isDrsOrEc2(st)).map(normal);
    const theirs = worker().filter(isDrsOrEc2).map(normal);
    assert.deepEqual(ours, theirs);
  });

  it("passes only DRS's roles (and the listed instance roles) to EC2, as the worker does", () => {
    const pass = statements.filter((st) => st.Sid === 'PassDrsRolesToEc2').map(normal);
    assert.deepEqual(pass, worker().filter((st) => st.Sid === 'PassDrsRolesToEc2').map(normal));
    assert.equal(DRS_SERVICE_ROLES.length, pass[0].Resource.length);
    const optional = statements.filter((st) => st['Fn::If']);
    assert.equal(optional.length, 1);
    const [condition, launchTemplateRoles, otherwise] = optional[0]['Fn::If'];
    assert.equal(condition, 'HasInstanceRoles');
    assert.deepEqual(asArray(launchTemplateRoles.Action), ['iam:PassRole']);
    assert.deepEqual(launchTemplateRoles.Resource, { Ref: 'InstanceRoleArns' });
    assert.deepEqual(launchTemplateRoles.Condition, { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } });
    assert.deepEqual(otherwise, { Ref: 'AWS::NoValue' });
  });

  it('no wildcard action, and no action outside DRS, EC2 and iam:PassRole', () => {
    const all = statements.flatMap((st) => (st['Fn::If'] ? [st['Fn::If'][1]] : [st])).flatMap((st) => asArray<string>(st.Action));
    for (const a of all) {
      assert.doesNotMatch(a, /\*/, a);
      assert.match(a, /^(drs|ec2):[A-Za-z]+$|^iam:PassRole$/, a);
    }
  });

  it("trusts only the worker's role, and requires the external ID when one is given", () => {
    const trust = role.Properties.AssumeRolePolicyDocument.Statement;
    assert.equal(trust.length, 1);
    assert.deepEqual(trust[0].Principal, { AWS: { Ref: 'WorkerRoleArn' } });
    assert.deepEqual(asArray(trust[0].Action), ['sts:AssumeRole']);
    assert.deepEqual(trust[0].Condition, {
      'Fn::If': ['HasExternalId', { StringEquals: { 'sts:ExternalId': { Ref: 'ExternalId' } } }, { Ref: 'AWS::NoValue' }],
    });
    assert.deepEqual(template.Conditions.HasExternalId, { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'ExternalId' }, ''] }] });
    // The parameters hold what IAM and STS accept, so a typo fails the stack, not a recovery.
    const p = template.Parameters;
    const matches = (name: string, v: string) => new RegExp(p[name].AllowedPattern).test(v);
    assert.ok(matches('WorkerRoleArn', 'arn:aws:iam::111122223333:role/DrsWavesProd-WorkerTaskDefTaskRole1A2B3C-AbCdEf'));
    assert.ok(!matches('WorkerRoleArn', 'arn:aws:iam::111122223333:role/*x'));
    assert.ok(!matches('WorkerRoleArn', 'arn:aws:iam::111122223333:user/alice'));
    assert.ok(matches('ExternalId', '') && matches('ExternalId', 'drs-waves-7f3a91') && !matches('ExternalId', 'a') && !matches('ExternalId', 'has space'));
    assert.ok(!matches('ExternalId', 'x'.repeat(1225)) && matches('ExternalId', 'x'.repeat(1224)));
    assert.ok(matches('RoleNamePrefix', 'r'.repeat(49)) && !matches('RoleNamePrefix', 'r'.repeat(50)) && !matches('RoleNamePrefix', ''));
    assert.deepEqual(role.Properties.RoleName, { 'Fn::Sub': '${RoleNamePrefix}-${AWS::Region}' });
  });
});
