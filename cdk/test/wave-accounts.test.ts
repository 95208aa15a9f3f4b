/**
 * Waves in other accounts and regions (issue #23): the worker may assume exactly the roles the
 * deployed plans name, and its own DRS/EC2 statements cover the regions it calls with its own
 * credentials. Fixtures: test/fixtures/statemachines/accounts.asl.json (two roles in two
 * accounts and regions, one with an external ID) and regions.asl.json (no role: us-west-2, and
 * eu-west-1, the stack's own).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { assumedRoleArns, findWaveAccounts, ownCredentialRegions } from '../lib/wave-accounts';
import { asArray, FIXTURES, fixtureConfig, fixtureStatemachines, resourcesOfType, statementsOfRole, Synth, synth } from './helpers';

const DB_ROLE = 'arn:aws:iam::444455556666:role/drs-waves-target-eu-central-1';
const APP_ROLE = 'arn:aws:iam::777788889999:role/dr/drs-waves-target-us-east-1';
const ACCOUNTS = path.join(FIXTURES, 'statemachines', 'accounts.asl.json');

function workerStatements(s: Synth): any[] {
  const [td] = Object.values(resourcesOfType(s.template, 'AWS::ECS::TaskDefinition'));
  return statementsOfRole(s.template, td.Properties.TaskRoleArn['Fn::GetAtt'][0]);
}

const actionsOf = (st: any) => asArray<string>(st.Action).map((a) => a.toLowerCase());
const stsStatements = (statements: any[]) => statements.filter((st) => actionsOf(st).some((a) => a.startsWith('sts:')));
const resourcesFor = (statements: any[], action: string) => statements.filter((st) => actionsOf(st).includes(action)).flatMap((st) => asArray(st.Resource));

/** The accounts fixture with every wave spec's account edited. */
function accountsWith(edit: (wave: Record<string, any>) => void): string {
  const asl = JSON.parse(fs.readFileSync(ACCOUNTS, 'utf8'));
  const walk = (v: any): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (typeof v !== 'object' || v === null) return;
    if (typeof v.index === 'number' && typeof v.name === 'string' && v.polling) edit(v);
    Object.values(v).forEach(walk);
  };
  walk(asl);
  return JSON.stringify(asl, null, 2);
}

describe('waves in other accounts and regions', () => {
  it('finds each account of the wave specs once (preflight and the start task repeat them)', () => {
    const accounts = findWaveAccounts('accounts', ACCOUNTS, JSON.parse(fs.readFileSync(ACCOUNTS, 'utf8')));
    assert.deepEqual(accounts, [
      { roleArn: DB_ROLE, region: 'eu-central-1', externalId: 'drs-waves-7f3a91' },
      { roleArn: APP_ROLE, region: 'us-east-1', externalId: undefined },
    ]);
    assert.deepEqual(assumedRoleArns(accounts), [DB_ROLE, APP_ROLE].sort());
    // Both waves have a role: the worker uses its own credentials in no other region.
    assert.deepEqual(ownCredentialRegions(accounts), []);
    assert.deepEqual(ownCredentialRegions([{ region: 'us-west-2' }, { roleArn: DB_ROLE, region: 'ap-south-1' }, { region: 'us-west-2' }]), ['us-west-2']);
  });

  it('two roles (one with an external ID) in two regions: sts:AssumeRole on exactly those two ARNs', () => {
    const s = synth(fixtureConfig({ plans: ['alpha', 'accounts'] }), fixtureStatemachines(), false);
    const statements = workerStatements(s);
    const sts = stsStatements(statements);
    assert.equal(sts.length, 1);
    assert.equal(sts[0].Sid, 'AssumeWaveRoles');
    assert.deepEqual(asArray(sts[0].Action), ['sts:AssumeRole']);
    assert.deepEqual(asArray(sts[0].Resource), [DB_ROLE, APP_ROLE].sort());
    // The external ID is the trust policy's condition (role-template/), not the caller's.
    assert.equal(sts[0].Condition, undefined);
    // The roles' waves use the roles' permissions: the worker's own DRS stays in its region.
    assert.deepEqual(resourcesFor(statements, 'drs:startrecovery'), ['arn:aws:drs:eu-west-1:111122223333:source-server/*']);
  });

  it('plans without accounts: no sts statement at all, DRS and EC2 in the stack region only', () => {
    const s = synth(fixtureConfig({ plans: ['alpha', 'beta'] }), fixtureStatemachines(), false);
    const statements = workerStatements(s);
    assert.deepEqual(stsStatements(statements), []);
    for (const st of statements) {
      for (const r of asArray(st.Resource)) {
        if (typeof r === 'string' && /^arn:aws:(drs|ec2):/.test(r)) assert.match(r, /^arn:aws:(drs|ec2):eu-west-1:/, `${st.Sid}: ${r}`);
      }
    }
  });

  it("a region without a role: the worker's own DRS and EC2 statements cover it, the stack's region once", () => {
    const s = synth(fixtureConfig({ plans: ['alpha', 'regions'] }), fixtureStatemachines(), false);
    const statements = workerStatements(s);
    assert.deepEqual(stsStatements(statements), []);
    assert.deepEqual(resourcesFor(statements, 'drs:startrecovery'), [
      'arn:aws:drs:eu-west-1:111122223333:source-server/*',
      'arn:aws:drs:us-west-2:111122223333:source-server/*',
    ]);
    assert.deepEqual(resourcesFor(statements, 'ec2:createlaunchtemplate'), [
      'arn:aws:ec2:eu-west-1:111122223333:launch-template/*',
      'arn:aws:ec2:us-west-2:111122223333:launch-template/*',
    ]);
    // Every region-scoped DRS/EC2 grant is in both regions, none elsewhere.
    const scoped = statements.flatMap((st) => asArray(st.Resource)).filter((r) => typeof r === 'string' && /^arn:aws:(drs|ec2):[a-z]/.test(r)) as string[];
    const regions = new Set(scoped.map((r) => r.split(':')[3]));
    assert.deepEqual([...regions].sort(), ['eu-west-1', 'us-west-2']);
    for (const r of scoped.filter((x) => x.includes(':eu-west-1:'))) assert.ok(scoped.includes(r.replace(':eu-west-1:', ':us-west-2:')), r);
  });

  it('an account the grant could not name fails synth, naming the plan, file and wave', () => {
    const cases: [string, (w: Record<string, any>) => void, RegExp][] = [
      ['a wildcard role', (w) => w.name === 'app' && (w.account.roleArn = 'arn:aws:iam::777788889999:role/*'), /wave 2 "app".*account\.roleArn "arn:aws:iam::777788889999:role\/\*" is not an IAM role ARN/],
      ['a user, not a role', (w) => w.name === 'app' && (w.account.roleArn = 'arn:aws:iam::777788889999:user/dr'), /account\.roleArn .* is not an IAM role ARN/],
      ['a bad region', (w) => w.name === 'db' && (w.account.region = 'Frankfurt'), /wave 1 "db".*account\.region "Frankfurt" is not an AWS region name/],
      ['an account from the state', (w) => w.name === 'db' && (w['account.$'] = '$.account'), /wave 1 "db".*account\.\$ takes the account from the execution's state/],
    ];
    for (const [what, edit, expected] of cases) {
      const dir = fixtureStatemachines({ 'accounts.asl.json': accountsWith(edit) });
      assert.throws(
        () => synth(fixtureConfig({ plans: ['alpha', 'accounts'] }), dir, false),
        (e: Error) => {
          assert.equal(e.name, 'PlanError', `${what}: ${e}`);
          assert.ok(e.message.startsWith('plan "accounts": '), `${what}: ${e.message}`);
          assert.ok(e.message.includes(path.join(dir, 'accounts.asl.json')), `${what}: the file is not named: ${e.message}`);
          assert.match(e.message, expected, what);
          return true;
        },
      );
    }
  });
});
