/**
 * Operator control in the stack: the worker's sns:Publish on the topics the deployed plans'
 * gates notify (found in the ASL when the plans load), and the operator managed policy with
 * exactly what the drs-waves CLI calls (checked against cli/src).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { AwsSolutionsChecks } from 'cdk-nag';
import { REPO_ROOT } from '../lib/app';
import { ConfigError } from '../lib/config';
import { discoverPlans, findNotifyTopics, loadPlan } from '../lib/plans';
import { loadContract } from '../lib/contract';
import { OPERATOR_CONSOLE_ACTIONS, OPERATOR_WILDCARD_REASONS } from '../lib/operator-policy';
import { asArray, fixtureConfig, fixtureStatemachines, REAL_STATEMACHINES, resourcesOfType, statementsOfRole, Synth, synth } from './helpers';

const APPROVAL_TOPIC = 'arn:aws:sns:eu-west-1:111122223333:storefront-approvals';
const DECISION_TOPIC = 'arn:aws:sns:eu-west-1:444455556666:dr-decisions';
const GATED = path.join(REAL_STATEMACHINES, 'storefront-gated.asl.json');

/**
 * The generated storefront-gated machine (approval gate before wave 2 "app", onFailure: ask on
 * every wave) with topics put where drs-codegen writes them: every wave spec of the definition
 * (the await-operator tasks' `wave`, preflight's `plan.waves`) gets them.
 */
function gatedWith(edit: (wave: Record<string, any>) => void): string {
  const asl = JSON.parse(fs.readFileSync(GATED, 'utf8'));
  const walk = (v: any): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (typeof v !== 'object' || v === null) return;
    if (typeof v.index === 'number' && typeof v.name === 'string' && v.polling) edit(v);
    Object.values(v).forEach(walk);
  };
  walk(asl);
  return JSON.stringify(asl, null, 2);
}

const withTopics = gatedWith((w) => {
  if (w.name === 'app' && w.approval) w.approval.notify = APPROVAL_TOPIC;
  if (w.name === 'db') w.decisionNotify = DECISION_TOPIC;
});

function workerTaskRoleId(template: Synth['template']): string {
  const [td] = Object.values(resourcesOfType(template, 'AWS::ECS::TaskDefinition'));
  return td.Properties.TaskRoleArn['Fn::GetAtt'][0];
}

function operatorPolicy(s: Synth): { id: string; properties: any; statements: any[] } {
  const policies = Object.entries(resourcesOfType(s.template, 'AWS::IAM::ManagedPolicy'));
  assert.equal(policies.length, 1, 'one operator managed policy');
  const [[id, p]] = policies;
  return { id, properties: p.Properties, statements: p.Properties.PolicyDocument.Statement };
}

/** action (lower case) -> resources (JSON, sorted) over every Allow statement. */
function grants(statements: any[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const st of statements) {
    assert.equal(st.Effect, 'Allow');
    for (const a of asArray<string>(st.Action)) {
      const key = a.toLowerCase();
      out.set(key, [...(out.get(key) ?? []), ...asArray(st.Resource).map((r) => JSON.stringify(r))].sort());
    }
  }
  return out;
}

describe('gate notification topics', () => {
  it('the generated plans in statemachines/ name no topic (the gated example included)', () => {
    const contract = loadContract(path.join(REAL_STATEMACHINES, 'contract.json'));
    const known = new Set(contract.activities.map((a) => a.placeholder));
    for (const p of discoverPlans(REAL_STATEMACHINES)) assert.deepEqual(loadPlan(REAL_STATEMACHINES, p, known).notifyTopics, [], p);
    assert.match(fs.readFileSync(GATED, 'utf8'), /"gate": "APPROVAL"/, 'storefront-gated has an approval gate');
  });

  it('finds approval.notify and decisionNotify in the wave specs, each topic once, sorted', () => {
    const asl = JSON.parse(withTopics);
    assert.deepEqual(findNotifyTopics('gated', 'gated.asl.json', asl), [DECISION_TOPIC, APPROVAL_TOPIC].sort());
    // Where the worker reads them: the await-operator tasks' Parameters.
    const approve = asl.States['Wave 2 app: approve?'].Parameters.wave;
    assert.equal(approve.approval.notify, APPROVAL_TOPIC);
    assert.equal(asl.States['Wave 1 db: decide?'].Parameters.wave.decisionNotify, DECISION_TOPIC);
  });

  it('a plan naming topics: the worker may sns:Publish on exactly those, nothing else of SNS', () => {
    const dir = fixtureStatemachines({ 'gated.asl.json': withTopics, 'gated2.asl.json': gatedWith((w) => w.name === 'app' && w.approval && (w.approval.notify = APPROVAL_TOPIC)) });
    const s = synth(fixtureConfig({ plans: ['alpha', 'gated', 'gated2'] }), dir, false);
    const statements = statementsOfRole(s.template, workerTaskRoleId(s.template));
    const sns = statements.filter((st) => asArray<string>(st.Action).some((a) => a.toLowerCase().startsWith('sns:')));
    assert.equal(sns.length, 1);
    assert.equal(sns[0].Sid, 'NotifyGateTopics');
    assert.deepEqual(asArray(sns[0].Action), ['sns:Publish']);
    // Both plans' topics, the shared one once.
    assert.deepEqual(asArray(sns[0].Resource), [DECISION_TOPIC, APPROVAL_TOPIC].sort());
    assert.equal(sns[0].Condition, undefined);
  });

  it('no plan naming a topic: no SNS statement for the worker', () => {
    const s = synth(fixtureConfig({ plans: ['alpha', 'gated'] }), fixtureStatemachines({ 'gated.asl.json': fs.readFileSync(GATED, 'utf8') }), false);
    const statements = statementsOfRole(s.template, workerTaskRoleId(s.template));
    assert.ok(statements.length > 0);
    for (const st of statements) {
      assert.ok(!asArray<string>(st.Action).some((a) => a.toLowerCase().startsWith('sns:')), `${st.Sid} grants SNS`);
    }
  });

  it('a topic that is not an SNS topic ARN fails synth naming the plan file, the wave and the state', () => {
    const cases: [string, (w: Record<string, any>) => void, RegExp][] = [
      ['an SQS queue', (w) => w.name === 'db' && (w.decisionNotify = 'arn:aws:sqs:eu-west-1:111122223333:dr-decisions'), /wave 1 "db".*decisionNotify "arn:aws:sqs:eu-west-1:111122223333:dr-decisions" is not an SNS topic ARN/],
      ['a wildcard', (w) => w.name === 'app' && w.approval && (w.approval.notify = 'arn:aws:sns:eu-west-1:111122223333:*'), /wave 2 "app".*approval\.notify "arn:aws:sns:eu-west-1:111122223333:\*" is not an SNS topic ARN/],
      ['a topic name only', (w) => w.name === 'app' && w.approval && (w.approval.notify = 'storefront-approvals'), /wave 2 "app".*approval\.notify "storefront-approvals" is not an SNS topic ARN \(arn:aws:sns:<region>:<account>:<topic>\)/],
      ['a FIFO topic', (w) => w.name === 'db' && (w.decisionNotify = 'arn:aws:sns:eu-west-1:111122223333:dr.fifo'), /decisionNotify "arn:aws:sns:eu-west-1:111122223333:dr\.fifo" is not an SNS topic ARN/],
      ['a topic from the state', (w) => w.name === 'db' && (w['decisionNotify.$'] = '$.topic'), /wave 1 "db".*decisionNotify\.\$ takes the topic from the execution's state/],
    ];
    for (const [what, edit, expected] of cases) {
      const dir = fixtureStatemachines({ 'gated.asl.json': gatedWith(edit) });
      assert.throws(
        () => synth(fixtureConfig({ plans: ['alpha', 'gated'] }), dir, false),
        (e: Error) => {
          assert.equal(e.name, 'PlanError', `${what}: ${e}`);
          assert.ok(e.message.startsWith('plan "gated": '), `${what}: ${e.message}`);
          assert.ok(e.message.includes(path.join(dir, 'gated.asl.json')), `${what}: the file is not named: ${e.message}`);
          assert.match(e.message, /\(state "[^"]+"\)/, `${what}: the state is not named`);
          assert.match(e.message, expected, what);
          return true;
        },
      );
    }
  });
});

describe('operator policy', () => {
  let s: Synth;
  before(() => {
    s = synth(fixtureConfig());
  });

  it('exactly what the CLI calls, on this deployment only; SendTask* and the list and DRS reads on * (no resource type)', () => {
    const { statements } = operatorPolicy(s);
    const machines = Object.entries(resourcesOfType(s.template, 'AWS::StepFunctions::StateMachine'));
    const smArns = machines.map(([id]) => JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] })).sort();
    const executions = ['alpha', 'beta'].map((p) => JSON.stringify(`arn:aws:states:eu-west-1:111122223333:execution:drs-waves-${p}:*`));
    const tableId = Object.keys(resourcesOfType(s.template, 'AWS::DynamoDB::Table'))[0];
    const tableArn = { 'Fn::GetAtt': [tableId, 'Arn'] };
    const index = (name: string) => JSON.stringify({ 'Fn::Join': ['', [tableArn, `/index/${name}`]] });
    const star = [JSON.stringify('*')];
    assert.deepEqual(
      Object.fromEntries([...grants(statements)].sort(([a], [b]) => a.localeCompare(b))),
      {
        'drs:describejobs': star,
        // drs-waves report's reads.
        'drs:describejoblogitems': [JSON.stringify('arn:aws:drs:eu-west-1:111122223333:job/*')],
        'drs:describerecoveryinstances': star,
        // drs-waves start's launch points against the plan's rpoMinutes.
        'drs:describerecoverysnapshots': [JSON.stringify('arn:aws:drs:eu-west-1:111122223333:source-server/*')],
        'drs:describesourceservers': star,
        'dynamodb:getitem': [JSON.stringify(tableArn)],
        'dynamodb:query': [JSON.stringify(tableArn), index('plan-index'), index('status-index')].sort(),
        'dynamodb:updateitem': [JSON.stringify(tableArn)],
        'states:describeexecution': executions,
        'states:describestatemachineforexecution': executions,
        'states:describestatemachine': smArns,
        'states:getexecutionhistory': executions,
        'states:listexecutions': smArns,
        'states:liststatemachines': star,
        'states:sendtaskfailure': star,
        'states:sendtasksuccess': star,
        'states:startexecution': smArns,
        // For the console: stopping an execution whose gate cannot be answered.
        'states:stopexecution': executions,
      },
    );
    for (const st of statements) assert.equal(st.Condition, undefined, st.Sid);
  });

  it('covers every AWS call of the CLI, its report included, and nothing more (sts:GetCallerIdentity needs no permission)', () => {
    const granted = new Set(grants(operatorPolicy(s).statements).keys());
    const read = (dir: string) =>
      fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.rs'))
        .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))
        .join('\n');
    const cli = read(path.join(REPO_ROOT, 'cli', 'src'));
    // `drs-waves report` gathers with the report crate's gather module (gather.rs and gather/;
    // the worker's copy in S3 is made by it too): its Step Functions, DRS and history calls
    // are the CLI's.
    assert.match(cli, /^\s*Report \{/m, 'the CLI has no report command any more: drop the report grants and this');
    const gather = [fs.readFileSync(path.join(REPO_ROOT, 'report', 'src', 'gather.rs'), 'utf8'), read(path.join(REPO_ROOT, 'report', 'src', 'gather'))];
    const sources = [cli, ...gather].join('\n');
    const service: Record<string, string> = { sfn: 'states', drs: 'drs', dynamodb: 'dynamodb', sts: 'sts' };
    const pascal = (snake: string) => snake.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
    const calls = new Set<string>();
    // Client methods that are no API call.
    const notCalls = new Set(['clone', 'config']);
    for (const m of sources.matchAll(/\.(sfn|drs|dynamodb|sts)\s*\.\s*([a-z_]+)\(\)/g)) {
      if (!notCalls.has(m[2])) calls.add(`${service[m[1]]}:${pascal(m[2])}`);
    }
    // The Step Functions reads the CLI and the report share with the worker (aws/src/sfn.rs):
    // `sfn::NAME(` makes the client calls of NAME's body, and of the functions it calls there.
    const sharedSfn = fs.readFileSync(path.join(REPO_ROOT, 'aws', 'src', 'sfn.rs'), 'utf8');
    const bodies = new Map<string, string>();
    for (const m of sharedSfn.matchAll(/^pub (?:async )?fn ([a-z_]+)[^]*?\n\}\n/gm)) bodies.set(m[1], m[0]);
    const sfnCalls = (name: string, seen = new Set<string>()): string[] => {
      if (seen.has(name)) return [];
      seen.add(name);
      const body = bodies.get(name) ?? '';
      const direct = [...body.matchAll(/client\s*\.\s*([a-z_]+)\(\)/g)].map((c) => `states:${pascal(c[1])}`);
      const nested = [...body.slice(body.indexOf('{')).matchAll(/\b([a-z_]+)\(/g)].filter((c) => bodies.has(c[1])).flatMap((c) => sfnCalls(c[1], seen));
      return [...direct, ...nested];
    };
    assert.ok(sfnCalls('describe_execution').includes('states:DescribeExecution'), 'the scan of aws/src/sfn.rs found too little');
    for (const m of sources.matchAll(/\bsfn::([a-z_]+)\(/g)) {
      assert.ok(bodies.has(m[1]), `the CLI calls sfn::${m[1]}, which aws/src/sfn.rs does not define as a pub fn`);
      for (const a of sfnCalls(m[1])) calls.add(a);
    }
    // The worker's DRS seam, which the evidence module calls for jobs, source servers and
    // instances: a seam method is named for its DRS call, or mapped here.
    const drsSeam: Record<string, string[]> = {
      recovery_instances_of: ['drs:DescribeRecoveryInstances'],
    };
    for (const m of sources.matchAll(/SdkDrs::new\((?:[^()]|\([^()]*\))*\)\s*\.\s*([a-z_]+)\(/g)) {
      for (const a of drsSeam[m[1]] ?? [`drs:${pascal(m[1])}`]) calls.add(a);
    }
    // drs-waves start's check of the plan's launch points (rules/src/launch_points.rs).
    if (/launch_points::rpo_findings\(/.test(sources)) {
      calls.add('drs:DescribeSourceServers');
      calls.add('drs:DescribeRecoverySnapshots');
    }
    // The history table through the worker's seam (history/src, DynamoHistory).
    const seam: Record<string, string[]> = {
      get_execution: ['dynamodb:GetItem'],
      answer_gate: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      request_cancel: ['dynamodb:UpdateItem', 'dynamodb:GetItem'],
      recent_executions: ['dynamodb:Query'],
      get_wave: ['dynamodb:GetItem'],
      launch_points: ['dynamodb:GetItem'],
      wave_health: ['dynamodb:GetItem'],
      list_jobs: ['dynamodb:Query'],
    };
    for (const m of sources.matchAll(/history\s*\.\s*([a-z_]+)\(/g)) {
      assert.ok(seam[m[1]], `the CLI or the report calls History::${m[1]}: add its DynamoDB actions here and to operator-policy.ts`);
      for (const a of seam[m[1]]) calls.add(a);
    }
    assert.ok(calls.has('states:SendTaskSuccess') && calls.has('drs:DescribeJobs'), `the scan found too little: ${[...calls]}`);
    const missing = [...calls].filter((c) => c !== 'sts:GetCallerIdentity' && !granted.has(c.toLowerCase()));
    assert.deepEqual(missing, [], 'the CLI calls these but the operator policy does not grant them');
    // And nothing it does not call, but for the console's actions (OPERATOR_CONSOLE_ACTIONS).
    const consoleActions = OPERATOR_CONSOLE_ACTIONS.map((a) => a.toLowerCase());
    const unused = [...granted].filter((g) => ![...calls].some((c) => c.toLowerCase() === g) && !consoleActions.includes(g));
    assert.deepEqual(unused, [], 'granted but never called by the CLI');
    // A console action the CLI starts calling belongs to the CLI's list: drop it from there.
    assert.deepEqual(OPERATOR_CONSOLE_ACTIONS.filter((a) => calls.has(a)), [], 'the CLI now calls a console action: remove it from OPERATOR_CONSOLE_ACTIONS');
  });

  it('states:StopExecution on the deployed plans\' executions only, so an operator can stop an execution stuck at a gate', () => {
    const { statements } = operatorPolicy(s);
    const stop = statements.filter((st) => asArray<string>(st.Action).some((a) => a.toLowerCase() === 'states:stopexecution'));
    assert.equal(stop.length, 1);
    assert.equal(stop[0].Sid, 'StopStuckExecutions');
    assert.deepEqual(asArray(stop[0].Action), ['states:StopExecution']);
    assert.deepEqual(asArray(stop[0].Resource).sort(), [
      'arn:aws:states:eu-west-1:111122223333:execution:drs-waves-alpha:*',
      'arn:aws:states:eu-west-1:111122223333:execution:drs-waves-beta:*',
    ]);
    assert.equal(stop[0].Condition, undefined);
    assert.match(OPERATOR_WILDCARD_REASONS.StopStuckExecutions, /gate that cannot be answered/);
    // Not the state machines, not other deployments' executions, not on *.
    for (const r of asArray<string>(stop[0].Resource)) assert.match(r, /:execution:drs-waves-(alpha|beta):\*$/);
    // Only the listed plans: a deployment of one plan may stop only that plan's executions.
    const one = synth(fixtureConfig({ plans: ['beta'], schedules: {} }), undefined, false);
    const oneStop = operatorPolicy(one).statements.find((st) => st.Sid === 'StopStuckExecutions');
    assert.deepEqual(asArray(oneStop.Resource), ['arn:aws:states:eu-west-1:111122223333:execution:drs-waves-beta:*']);
  });

  it('attached to nothing by default; the ARN is an exported output', () => {
    const { id, properties } = operatorPolicy(s);
    assert.equal(properties.Roles, undefined);
    assert.equal(properties.Groups, undefined);
    assert.equal(properties.Users, undefined);
    assert.equal(properties.ManagedPolicyName, undefined, 'CloudFormation names it (IAM names are account-wide)');
    s.template.hasOutput('OperatorPolicyArn', { Value: { Ref: id }, Export: { Name: 'DrsWavesTest-OperatorPolicyArn' } });
    // The worker's role, for the key policy of an encrypted topic.
    s.template.hasOutput('WorkerTaskRoleArn', { Value: { 'Fn::GetAtt': [workerTaskRoleId(s.template), 'Arn'] } });
  });

  it('operators.roles and operators.groups attach it to existing roles and groups by name; policyName names it', () => {
    const t = synth(fixtureConfig({ operators: { roles: ['DrOperator', 'OnCall'], groups: ['dr-team'], policyName: 'DrsWavesOperatorPolicy' } }), undefined, false);
    const { properties } = operatorPolicy(t);
    assert.deepEqual(properties.Roles, ['DrOperator', 'OnCall']);
    assert.deepEqual(properties.Groups, ['dr-team']);
    assert.equal(properties.ManagedPolicyName, 'DrsWavesOperatorPolicy');
    // Nothing new is created for them.
    assert.equal(Object.keys(resourcesOfType(t.template, 'AWS::IAM::Group')).length, 0);
    assert.equal(Object.keys(resourcesOfType(t.template, 'AWS::IAM::Role')).length, Object.keys(resourcesOfType(s.template, 'AWS::IAM::Role')).length);
  });

  it('operators: names only, no unknown keys', () => {
    assert.throws(
      () => fixtureConfig({ operators: { roles: ['ops/DrOperator', 'arn:aws:iam::111122223333:role/DrOperator'], groups: [''], policyName: 'a b', user: ['x'] } }),
      (e: Error) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.match(e.message, /operators\.roles\[0\]: "ops\/DrOperator" is not an IAM role name \(the name only: no path, no ARN\)/);
        assert.match(e.message, /operators\.roles\[1\]: "arn:aws:iam::111122223333:role\/DrOperator" is not an IAM role name/);
        assert.match(e.message, /operators\.groups\[0\]: must be a non-empty string/);
        assert.match(e.message, /operators\.policyName: "a b" is not an IAM policy name/);
        assert.match(e.message, /operators\.user: unknown key \(allowed: roles, groups, policyName\)/);
        return true;
      },
    );
  });

  it('cdk-nag: no unacknowledged finding with gate topics and an attached operator policy', () => {
    const t = synth(
      fixtureConfig({ plans: ['alpha', 'gated'], operators: { roles: ['DrOperator'], groups: ['dr-team'] } }),
      fixtureStatemachines({ 'gated.asl.json': withTopics }),
      false,
    );
    const report = new AwsSolutionsChecks(t.app).validateScope(t.app);
    const lines = report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.resourceLogicalId}`));
    assert.deepEqual(lines, []);
  });
});
