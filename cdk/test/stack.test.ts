import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { ConfigError, loadConfig, parseConfig } from '../lib/config';
import { loadContract, OPERATOR_ACTIVITY } from '../lib/contract';
import { ACTIVITY_TASKS_NOT_STARTED, DRILL_INPUT, FINISH_METRICS, NOTIFIED_EXECUTION_STATUSES, WORKER_STOP_TIMEOUT_SECONDS } from '../lib/drs-waves-stack';
import { EC2_READS_FOR_DRS, WORKER_WILDCARD_REASONS } from '../lib/worker-policy';
import { discoverPlans, findPlaceholders } from '../lib/plans';
import { buildApp, CDK_DIR } from '../lib/app';
import {
  asArray,
  fileAssetSource,
  FIXTURES,
  fixtureConfig,
  fixtureStatemachines,
  REAL_STATEMACHINES,
  resourcesOfType,
  statementsOfRole,
  Synth,
  synth,
  tempDir,
} from './helpers';

const contract = loadContract(path.join(REAL_STATEMACHINES, 'contract.json'));

/** Every action of every Allow statement, lower-cased, with its statement. */
function allowed(statements: any[]): { action: string; statement: any }[] {
  return statements
    .filter((s) => s.Effect === 'Allow')
    .flatMap((s) => asArray<string>(s.Action).map((action) => ({ action: action.toLowerCase(), statement: s })));
}

/** Would an IAM action pattern (with * wildcards) match `action`? */
function actionMatches(pattern: string, action: string): boolean {
  const re = new RegExp(`^${pattern.toLowerCase().split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(action.toLowerCase());
}

function logicalIdOfRoleFor(template: Synth['template'], service: string): string {
  const roles = resourcesOfType(template, 'AWS::IAM::Role');
  const ids = Object.entries(roles)
    .filter(([, r]) => JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes(`"${service}"`))
    .map(([id]) => id);
  assert.equal(ids.length, 1, `expected one role assumed by ${service}, found ${ids.join(', ')}`);
  return ids[0];
}

function workerTaskRoleId(template: Synth['template']): string {
  const [td] = Object.values(resourcesOfType(template, 'AWS::ECS::TaskDefinition'));
  return td.Properties.TaskRoleArn['Fn::GetAtt'][0];
}

describe('stack (fixture plans alpha and beta)', () => {
  let s: Synth;
  before(() => {
    s = synth(fixtureConfig());
  });

  it('history table: contract keys, both indexes with projection ALL, on-demand, encrypted, PITR, deletion protection', () => {
    const ht = contract.historyTable;
    s.template.resourceCountIs('AWS::DynamoDB::Table', 1);
    s.template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'RetainExceptOnCreate',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        TableName: ht.defaultName,
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        // SSEEnabled without a key ID: the AWS managed KMS key (aws/dynamodb).
        SSESpecification: { SSEEnabled: true, KMSMasterKeyId: Match.absent() },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        // Turned on last, by the custom resource below: a protected table could not be deleted
        // when a first deploy rolls back.
        DeletionProtectionEnabled: false,
      },
    });
    const [protectionId, protection] = Object.entries(resourcesOfType(s.template, 'Custom::DeletionProtection'))[0];
    const tableId = Object.keys(resourcesOfType(s.template, 'AWS::DynamoDB::Table'))[0];
    for (const when of ['Create', 'Update']) {
      const call = JSON.stringify(protection.Properties[when]);
      assert.match(call, /\\"action\\":\\"updateTable\\"/, when);
      assert.match(call, /\\"DeletionProtectionEnabled\\":true/, when);
      assert.ok(call.includes(`{"Ref":"${tableId}"}`), `${when}: not the history table`);
    }
    assert.equal(protection.Properties.Delete, undefined, 'nothing on delete: the table is retained as it is');
    // Last: after every other resource of the stack (its own function and policy aside).
    const all = Object.keys(s.template.toJSON().Resources);
    const before = new Set(asArray(protection.DependsOn as string[] | undefined));
    const missing = all.filter((id) => id !== protectionId && !before.has(id) && !id.startsWith('AWS679f53fa') && !id.startsWith('HistoryTableDeletionProtection'));
    assert.deepEqual(missing, [], 'deletion protection must be set after everything else');
    const [table] = Object.values(resourcesOfType(s.template, 'AWS::DynamoDB::Table'));
    const gsis = table.Properties.GlobalSecondaryIndexes;
    assert.deepEqual(
      gsis.map((g: any) => ({ name: g.IndexName, keys: g.KeySchema, projection: g.Projection })),
      [
        {
          name: 'status-index',
          keys: [
            { AttributeName: 'executionStatus', KeyType: 'HASH' },
            { AttributeName: 'startedAt', KeyType: 'RANGE' },
          ],
          projection: { ProjectionType: 'ALL' },
        },
        {
          name: 'plan-index',
          keys: [
            { AttributeName: 'planName', KeyType: 'HASH' },
            { AttributeName: 'startedAt', KeyType: 'RANGE' },
          ],
          projection: { ProjectionType: 'ALL' },
        },
      ],
    );
    for (const attr of ['pk', 'sk', 'executionStatus', 'planName', 'startedAt']) {
      assert.ok(
        table.Properties.AttributeDefinitions.some((d: any) => d.AttributeName === attr && d.AttributeType === 'S'),
        `attribute ${attr} is not a string key`,
      );
    }
  });

  it('one activity per contract activity, named <prefix>-<name>', () => {
    const names = Object.values(resourcesOfType(s.template, 'AWS::StepFunctions::Activity')).map((a) => a.Properties.Name).sort();
    assert.deepEqual(names, contract.activities.map((a) => `${contract.activityPrefix}-${a.name}`).sort());
  });

  it('one state machine per plan, definition from S3 (an asset of the plan file), every placeholder filled with its activity', () => {
    const machines = resourcesOfType(s.template, 'AWS::StepFunctions::StateMachine');
    const byName: Record<string, any> = Object.fromEntries(Object.values(machines).map((m) => [m.Properties.StateMachineName, m]));
    assert.deepEqual(Object.keys(byName).sort(), ['drs-waves-alpha', 'drs-waves-beta']);

    const activities = resourcesOfType(s.template, 'AWS::StepFunctions::Activity');
    const placeholderOf = Object.fromEntries(contract.activities.map((a) => [a.placeholder, `${contract.activityPrefix}-${a.name}`]));
    for (const [name, m] of Object.entries(byName)) {
      assert.equal(m.Properties.DefinitionString, undefined, `${name}: definition is inline (counts against the 1 MB template limit)`);
      assert.equal(m.Properties.Definition, undefined, `${name}: definition is inline`);
      const loc = m.Properties.DefinitionS3Location;
      assert.equal(loc.Bucket, 'cdk-hnb659fds-assets-111122223333-eu-west-1', `${name}: not in the CDK asset bucket`);
      const file = fileAssetSource(s, loc.Key);
      assert.equal(path.basename(file), `${name.replace('drs-waves-', '')}.asl.json`, `${name}: the asset is not its plan's file`);
      const def = fs.readFileSync(file, 'utf8');
      const subs: Record<string, any> = m.Properties.DefinitionSubstitutions;
      const used = findPlaceholders(def);
      assert.ok(used.length >= 5, `${name}: fixture uses every activity`);
      assert.deepEqual(Object.keys(subs).sort(), [...used].sort(), `${name}: substitutions are exactly the placeholders used`);
      for (const p of used) {
        const ref = subs[p].Ref;
        assert.ok(ref && activities[ref], `${name}: \${${p}} is not filled with an activity ARN`);
        assert.equal(activities[ref].Properties.Name, placeholderOf[p], `${name}: \${${p}} filled with the wrong activity`);
      }
      const filled = def.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_, p) => (subs[p] ? 'arn:filled' : `\${${p}}`));
      assert.ok(!filled.includes('${'), `${name}: a \${ is left after substitution`);
      JSON.parse(filled);
    }
  });

  it('nothing with a fixed name is plain Retain: a rolled-back first deploy must not leave it to block the next', () => {
    const named: Record<string, string> = {
      'AWS::DynamoDB::Table': 'TableName',
      'AWS::Logs::LogGroup': 'LogGroupName',
      'AWS::StepFunctions::StateMachine': 'StateMachineName',
      'AWS::StepFunctions::Activity': 'Name',
      'AWS::Scheduler::Schedule': 'Name',
      'AWS::Scheduler::ScheduleGroup': 'Name',
      'AWS::CloudWatch::Dashboard': 'DashboardName',
    };
    const json = s.template.toJSON().Resources as Record<string, any>;
    let kept = 0;
    for (const [id, r] of Object.entries(json)) {
      assert.notEqual(r.DeletionPolicy, 'Retain', `${id} (${r.Type}) is Retain: use RETAIN_ON_UPDATE_OR_DELETE`);
      if (r.DeletionPolicy === 'RetainExceptOnCreate') kept++;
      const nameProp = named[r.Type];
      if (nameProp && r.Properties?.[nameProp] !== undefined) {
        assert.ok([undefined, 'Delete', 'RetainExceptOnCreate'].includes(r.DeletionPolicy), `${id}: named and ${r.DeletionPolicy}`);
      }
    }
    // The table, the two state machine log groups and the worker's log group outlive the stack.
    assert.equal(kept, 4);
    s.template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { LogGroupName: Match.anyValue() }, 2);
    s.template.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'RetainExceptOnCreate', Properties: { LogGroupName: '/aws/vendedlogs/states/drs-waves-alpha' } });
  });

  it('state machines log to CloudWatch Logs (ALL, no execution data) and trace with X-Ray', () => {
    s.template.allResourcesProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: false,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] } } }],
      },
    });
    s.template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/vendedlogs/states/drs-waves-alpha', RetentionInDays: 90 });
  });

  it('the drill schedule starts only its plan, with input exactly {"mode":"DRILL"}', () => {
    const schedules = Object.values(resourcesOfType(s.template, 'AWS::Scheduler::Schedule'));
    assert.equal(schedules.length, 1);
    const p = schedules[0].Properties;
    assert.deepEqual(JSON.parse(p.Target.Input), { mode: 'DRILL' });
    assert.equal(p.Target.Input, DRILL_INPUT);
    assert.equal(p.ScheduleExpression, 'cron(0 3 ? * SUN#1 *)');
    assert.equal(p.ScheduleExpressionTimezone, 'Europe/Berlin');
    assert.equal(p.State, 'ENABLED');
    assert.equal(p.GroupName, 'drs-waves-drills');
    const queueId = Object.keys(resourcesOfType(s.template, 'AWS::SQS::Queue'))[0];
    assert.deepEqual(p.Target.DeadLetterConfig, { Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } }, 'a start Scheduler gives up on goes to the dead-letter queue');
    assert.deepEqual(p.Target.RetryPolicy, { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 3 });
    const alphaId = Object.entries(resourcesOfType(s.template, 'AWS::StepFunctions::StateMachine')).find(
      ([, m]) => m.Properties.StateMachineName === 'drs-waves-alpha',
    )![0];
    assert.deepEqual(p.Target.Arn, { 'Fn::GetAtt': [alphaId, 'Arn'] });
  });

  it('the scheduler role may StartExecution only on the scheduled state machines, and write only to the dead-letter queue', () => {
    const roleId = logicalIdOfRoleFor(s.template, 'scheduler.amazonaws.com');
    const statements = statementsOfRole(s.template, roleId);
    const actions = allowed(statements);
    assert.deepEqual([...new Set(actions.map((a) => a.action))].sort(), ['sqs:sendmessage', 'states:startexecution']);
    const alphaId = Object.entries(resourcesOfType(s.template, 'AWS::StepFunctions::StateMachine')).find(
      ([, m]) => m.Properties.StateMachineName === 'drs-waves-alpha',
    )![0];
    const queueId = Object.keys(resourcesOfType(s.template, 'AWS::SQS::Queue'))[0];
    for (const { action, statement } of actions) {
      const expected = action === 'states:startexecution' ? { 'Fn::GetAtt': [alphaId, 'Arn'] } : { 'Fn::GetAtt': [queueId, 'Arn'] };
      assert.deepEqual(asArray(statement.Resource), [expected], action);
    }
  });

  it('no role but the scheduler role can StartExecution', () => {
    const schedulerRole = logicalIdOfRoleFor(s.template, 'scheduler.amazonaws.com');
    for (const roleId of Object.keys(resourcesOfType(s.template, 'AWS::IAM::Role'))) {
      if (roleId === schedulerRole) continue;
      for (const { action } of allowed(statementsOfRole(s.template, roleId))) {
        assert.ok(!actionMatches(action, 'states:StartExecution'), `${roleId} is allowed ${action}`);
      }
    }
  });

  it('worker: polls only its activities, cannot StartExecution, answers tasks on * (no resource type)', () => {
    const statements = statementsOfRole(s.template, workerTaskRoleId(s.template));
    const actions = allowed(statements);
    assert.ok(actions.length > 0);
    for (const { action } of actions) {
      assert.ok(!actionMatches(action, 'states:StartExecution'), `worker may ${action}`);
      assert.ok(!action.endsWith(':*') && action !== '*', `worker has a wildcard action ${action}`);
    }
    const activityIds = Object.keys(resourcesOfType(s.template, 'AWS::StepFunctions::Activity')).sort();
    const poll = actions.filter((a) => a.action === 'states:getactivitytask');
    assert.equal(poll.length, 1);
    assert.deepEqual(asArray(poll[0].statement.Resource).map((r: any) => r.Ref).sort(), activityIds);

    const answer = actions.filter((a) => ['states:sendtasksuccess', 'states:sendtaskfailure', 'states:sendtaskheartbeat'].includes(a.action));
    assert.equal(answer.length, 3);
    for (const a of answer) assert.deepEqual(asArray(a.statement.Resource), ['*']);
    // `*` only because the Service Authorization Reference lists no resource type for them; the
    // day it lists one, this fails and the statement can be narrowed.
    const sar = sarActions('states');
    if (sar) {
      for (const action of ['sendtasksuccess', 'sendtaskfailure', 'sendtaskheartbeat']) {
        assert.deepEqual(sar[action]?.Resources ?? [], [], `states:${action} now has resource types in the SAR: narrow AnswerActivityTasks`);
      }
    }

    // Executions of this deployment's machines only: DescribeExecution (the run lock's holder)
    // and StopExecution (a recovery preempts a drill).
    for (const action of ['states:describeexecution', 'states:stopexecution']) {
      const found = actions.filter((a) => a.action === action);
      assert.equal(found.length, 1, action);
      assert.deepEqual(asArray(found[0].statement.Resource).sort(), [
        'arn:aws:states:eu-west-1:111122223333:execution:drs-waves-alpha:*',
        'arn:aws:states:eu-west-1:111122223333:execution:drs-waves-beta:*',
      ]);
    }
    const states = [...new Set(actions.filter((a) => a.action.startsWith('states:')).map((a) => a.action))].sort();
    assert.deepEqual(states, [
      'states:describeexecution',
      // The report reads the targets compiled into the machine that ran (own executions only).
      'states:describestatemachineforexecution',
      'states:getactivitytask',
      'states:sendtaskfailure',
      'states:sendtaskheartbeat',
      'states:sendtasksuccess',
      'states:stopexecution',
    ]);
    const machineOf = actions.filter((a) => a.action === 'states:describestatemachineforexecution');
    assert.deepEqual(asArray(machineOf[0].statement.Resource).sort(), [
      'arn:aws:states:eu-west-1:111122223333:execution:drs-waves-alpha:*',
      'arn:aws:states:eu-west-1:111122223333:execution:drs-waves-beta:*',
    ]);
  });

  it('worker: DynamoDB only on the history table and its two indexes', () => {
    const statements = statementsOfRole(s.template, workerTaskRoleId(s.template));
    const ddb = allowed(statements).filter((a) => a.action.startsWith('dynamodb:'));
    assert.deepEqual(
      [...new Set(ddb.map((a) => a.action))].sort(),
      ['dynamodb:deleteitem', 'dynamodb:getitem', 'dynamodb:putitem', 'dynamodb:query', 'dynamodb:updateitem'],
    );
    const tableId = Object.keys(resourcesOfType(s.template, 'AWS::DynamoDB::Table'))[0];
    const tableArn = { 'Fn::GetAtt': [tableId, 'Arn'] };
    const index = (name: string) => ({ 'Fn::Join': ['', [tableArn, `/index/${name}`]] });
    const sorted = (v: unknown[]) => v.map((x) => JSON.stringify(x)).sort();
    for (const { statement } of ddb) {
      assert.deepEqual(sorted(asArray(statement.Resource)), sorted([tableArn, index('status-index'), index('plan-index')]));
    }
  });

  it('worker: the DRS actions it needs, scoped by resource type; StartRecovery and StartSourceNetworkRecovery only with their job tags', () => {
    const statements = statementsOfRole(s.template, workerTaskRoleId(s.template));
    const drs = allowed(statements).filter((a) => a.action.startsWith('drs:'));
    // Only what the worker calls (aws/src/drs/sdk.rs) and StartRecovery's dependent actions.
    assert.deepEqual([...new Set(drs.map((a) => a.action))].sort(), [
      'drs:createrecoveryinstancefordrs',
      'drs:describejoblogitems',
      'drs:describejobs',
      'drs:describerecoveryinstances',
      'drs:describerecoverysnapshots',
      'drs:describesourcenetworks',
      'drs:describesourceservers',
      'drs:listtagsforresource',
      'drs:startfailbacklaunch',
      'drs:startrecovery',
      'drs:startsourcenetworkrecovery',
      'drs:stopfailback',
      'drs:tagresource',
      'drs:terminaterecoveryinstances',
    ]);
    const one = (action: string) => {
      const found = drs.filter((a) => a.action === action);
      assert.equal(found.length, 1, action);
      return found[0].statement;
    };
    assert.deepEqual(asArray(one('drs:startrecovery').Resource), ['arn:aws:drs:eu-west-1:111122223333:source-server/*']);
    assert.deepEqual(one('drs:startrecovery').Condition, { Null: { [`aws:RequestTag/${contract.jobTags.execution}`]: 'false' } });
    assert.deepEqual(asArray(one('drs:terminaterecoveryinstances').Resource), ['arn:aws:drs:eu-west-1:111122223333:recovery-instance/*']);
    assert.deepEqual(asArray(one('drs:describerecoverysnapshots').Resource), ['arn:aws:drs:eu-west-1:111122223333:source-server/*']);
    assert.deepEqual(asArray(one('drs:describejoblogitems').Resource), ['arn:aws:drs:eu-west-1:111122223333:job/*']);
    assert.deepEqual(one('drs:tagresource').Condition, { StringEquals: { 'drs:CreateAction': ['StartRecovery', 'CreateRecoveryInstanceForDrs', 'StartSourceNetworkRecovery', 'StartFailbackLaunch'] } });
    assert.deepEqual(asArray(one('drs:startfailbacklaunch').Resource), ['arn:aws:drs:eu-west-1:111122223333:recovery-instance/*']);
    assert.deepEqual(one('drs:startfailbacklaunch').Condition, { Null: { [`aws:RequestTag/${contract.jobTags.execution}`]: 'false' } });
    assert.deepEqual(asArray(one('drs:startsourcenetworkrecovery').Resource), ['arn:aws:drs:eu-west-1:111122223333:source-network/*']);
    assert.deepEqual(one('drs:startsourcenetworkrecovery').Condition, { Null: { [`aws:RequestTag/${contract.jobTags.networkof}`]: 'false' } });
  });

  it("worker: launch template statements are AWSElasticDisasterRecoveryConsoleFullAccess's (tag conditions, no aws:ViaAWSService)", () => {
    const statements = statementsOfRole(s.template, workerTaskRoleId(s.template));
    const launchTemplates = 'arn:aws:ec2:eu-west-1:111122223333:launch-template/*';
    /** Actions sorted, condition values as arrays: how IAM reads them, whatever CDK renders. */
    const normal = (st: { Action: unknown; Condition?: Record<string, Record<string, unknown>> }) => ({
      Action: asArray<string>(st.Action as string[]).sort(),
      Condition: Object.fromEntries(
        Object.entries(st.Condition ?? {}).map(([op, keys]) => [op, Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, asArray(v)]))]),
      ),
    });
    const ours = statements
      .filter((st) => st.Effect === 'Allow' && asArray(st.Resource).length === 1 && asArray(st.Resource)[0] === launchTemplates)
      .map(normal)
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    // AWSElasticDisasterRecoveryConsoleFullAccess v8 (AWS Managed Policy Reference), its
    // statements on launch-template/*: ConsoleFullAccess10, 11 and 27.
    const managedStatements: { Action: unknown; Condition: Record<string, Record<string, unknown>> }[] = [
      {
        Action: ['ec2:CreateLaunchTemplateVersion', 'ec2:ModifyLaunchTemplate', 'ec2:DeleteLaunchTemplateVersions', 'ec2:CreateTags', 'ec2:DeleteTags'],
        Condition: { Null: { 'aws:ResourceTag/AWSElasticDisasterRecoveryManaged': 'false' } },
      },
      { Action: ['ec2:CreateLaunchTemplate'], Condition: { Null: { 'aws:RequestTag/AWSElasticDisasterRecoveryManaged': 'false' } } },
      { Action: 'ec2:CreateTags', Condition: { StringEquals: { 'ec2:CreateAction': ['CreateLaunchTemplate'] } } },
    ];
    const managed = managedStatements
      .map(normal)
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    assert.deepEqual(ours, managed);
    // The acknowledged reasons say so, and no longer claim an AWS service in between.
    for (const sid of ['Ec2CreateDrsLaunchTemplate', 'Ec2MaintainDrsLaunchTemplates', 'Ec2TagLaunchTemplateOnCreate']) {
      assert.ok(statements.some((st) => st.Sid === sid), `no statement ${sid}`);
      assert.match(WORKER_WILDCARD_REASONS[sid], /AWSElasticDisasterRecoveryConsoleFullAccess \(ConsoleFullAccess\d+\)/, sid);
      assert.doesNotMatch(WORKER_WILDCARD_REASONS[sid], /only through/, sid);
    }
  });

  it('worker: every other mutating EC2 action only through an AWS service, never by the worker itself; none on *', () => {
    const statements = statementsOfRole(s.template, workerTaskRoleId(s.template));
    const mutating = allowed(statements).filter((a) => a.action.startsWith('ec2:') && a.statement.Sid !== 'Ec2DescribeForDrs');
    // The reads statement holds reads only (Describe*, GetEbs*).
    const reads = statements.find((st) => st.Sid === 'Ec2DescribeForDrs');
    for (const a of asArray<string>(reads.Action)) assert.match(a, /^ec2:(Describe|GetEbs)[A-Za-z]+$/, a);
    assert.ok(mutating.some((a) => a.action === 'ec2:runinstances'));
    const launchTemplateSids = ['Ec2CreateDrsLaunchTemplate', 'Ec2MaintainDrsLaunchTemplates', 'Ec2TagLaunchTemplateOnCreate'];
    for (const { action, statement } of mutating) {
      assert.ok(!asArray(statement.Resource).includes('*'), `${action} (${statement.Sid}) is on *`);
      if (launchTemplateSids.includes(statement.Sid)) continue;
      assert.equal(statement.Condition?.Bool?.['aws:ViaAWSService'], 'true', `${action} (${statement.Sid}) is not limited to DRS acting for the worker`);
    }
  });

  it("worker: EC2 reads are AWSElasticDisasterRecoveryConsoleFullAccess's ConsoleFullAccess3, all of it, on * (no resource type in the SAR)", () => {
    const statements = statementsOfRole(s.template, workerTaskRoleId(s.template));
    // AWSElasticDisasterRecoveryConsoleFullAccess v8 (AWS Managed Policy Reference),
    // ConsoleFullAccess3: the reads DRS makes before it launches.
    const consoleFullAccess3 = [
      'ec2:DescribeAccountAttributes',
      'ec2:DescribeAvailabilityZones',
      'ec2:DescribeImages',
      'ec2:DescribeInstances',
      'ec2:DescribeInstanceTypes',
      'ec2:DescribeInstanceAttribute',
      'ec2:DescribeInstanceStatus',
      'ec2:DescribeInstanceTypeOfferings',
      'ec2:DescribeLaunchTemplateVersions',
      'ec2:DescribeLaunchTemplates',
      'ec2:DescribeSecurityGroups',
      'ec2:DescribeSnapshots',
      'ec2:DescribeSubnets',
      'ec2:DescribeVolumes',
      'ec2:GetEbsEncryptionByDefault',
      'ec2:GetEbsDefaultKmsKeyId',
      'ec2:DescribeKeyPairs',
      'ec2:DescribeCapacityReservations',
      'ec2:DescribeHosts',
    ];
    const reads = statements.filter((st) => st.Sid === 'Ec2DescribeForDrs');
    assert.equal(reads.length, 1);
    assert.deepEqual(asArray<string>(reads[0].Action).sort(), [...consoleFullAccess3].sort());
    assert.deepEqual([...EC2_READS_FOR_DRS].sort(), [...consoleFullAccess3].sort());
    assert.deepEqual(asArray(reads[0].Resource), ['*']);
    // As in ConsoleFullAccess3: no condition (see EC2_READS_FOR_DRS for why no aws:ViaAWSService).
    assert.equal(reads[0].Condition, undefined);
    // No other EC2 read anywhere else in the worker's policy.
    const elsewhere = allowed(statements).filter((a) => /^ec2:(describe|get)/.test(a.action) && a.statement.Sid !== 'Ec2DescribeForDrs');
    assert.deepEqual(elsewhere.map((a) => a.action), []);
    // `*` because the SAR lists no resource type for them, but for DescribeInstanceAttribute (an
    // instance), granted on `*` as ConsoleFullAccess3 grants it, and so the reason says.
    const sar = sarActions('ec2');
    if (sar) {
      const withResources: Record<string, string[]> = { describeinstanceattribute: ['instance'] };
      for (const action of consoleFullAccess3) {
        const key = action.slice('ec2:'.length).toLowerCase();
        assert.ok(sar[key], `${action} is not in the SAR`);
        assert.deepEqual(sar[key].Resources ?? [], withResources[key] ?? [], `${action}: the SAR's resource types changed; see Ec2DescribeForDrs`);
      }
    }
    assert.match(WORKER_WILDCARD_REASONS.Ec2DescribeForDrs, /ConsoleFullAccess3\b/);
    assert.match(WORKER_WILDCARD_REASONS.Ec2DescribeForDrs, /DescribeInstanceAttribute aside/);
  });

  it('worker: CreateVolume is allowed on DRS snapshots too (ConsoleFullAccess30), only through an AWS service', () => {
    const statements = statementsOfRole(s.template, workerTaskRoleId(s.template));
    const createVolume = allowed(statements).filter((a) => a.action === 'ec2:createvolume');
    const byResource = new Map<string, any>();
    for (const { statement } of createVolume) for (const r of asArray<string>(statement.Resource)) byResource.set(r, statement.Condition);
    // CreateVolume from a snapshot is authorised on the snapshot and on the new volume (SAR).
    assert.deepEqual([...byResource.keys()].sort(), ['arn:aws:ec2:eu-west-1:*:snapshot/*', 'arn:aws:ec2:eu-west-1:111122223333:volume/*']);
    // ConsoleFullAccess30 (snapshot): the DRS tag on the snapshot, aws:ViaAWSService.
    assert.deepEqual(byResource.get('arn:aws:ec2:eu-west-1:*:snapshot/*'), {
      Null: { 'aws:ResourceTag/AWSElasticDisasterRecoveryManaged': 'false' },
      Bool: { 'aws:ViaAWSService': 'true' },
    });
    // ConsoleFullAccess15 (volume): the DRS tag on the request, aws:ViaAWSService.
    assert.deepEqual(byResource.get('arn:aws:ec2:eu-west-1:111122223333:volume/*'), {
      Null: { 'aws:RequestTag/AWSElasticDisasterRecoveryManaged': 'false' },
      Bool: { 'aws:ViaAWSService': 'true' },
    });
    const sar = sarActions('ec2');
    if (sar) assert.deepEqual([...(sar.createvolume?.Resources ?? [])].sort(), ['snapshot', 'volume'], 'the SAR changed the resource types of CreateVolume');
    assert.match(WORKER_WILDCARD_REASONS.Ec2CreateVolumesFromDrsSnapshotsViaDrs, /ConsoleFullAccess30/);
  });

  it('worker: CreateSecurityGroup on the VPC and the new DRS group (ConsoleFullAccess16, 17), only through an AWS service', () => {
    const statements = statementsOfRole(s.template, workerTaskRoleId(s.template));
    const create = allowed(statements).filter((a) => a.action === 'ec2:createsecuritygroup');
    const byResource = new Map<string, any>();
    for (const { statement } of create) for (const r of asArray<string>(statement.Resource)) byResource.set(r, statement.Condition);
    assert.deepEqual([...byResource.keys()].sort(), ['arn:aws:ec2:eu-west-1:111122223333:security-group/*', 'arn:aws:ec2:eu-west-1:111122223333:vpc/*']);
    // ConsoleFullAccess17: exactly its conditions.
    assert.deepEqual(byResource.get('arn:aws:ec2:eu-west-1:111122223333:security-group/*'), {
      Null: { 'aws:RequestTag/AWSElasticDisasterRecoveryManaged': 'false' },
      Bool: { 'aws:ViaAWSService': 'true' },
    });
    // ConsoleFullAccess16 has no condition; aws:ViaAWSService here refuses nothing it allows,
    // since ConsoleFullAccess17 requires it of the same request.
    assert.deepEqual(byResource.get('arn:aws:ec2:eu-west-1:111122223333:vpc/*'), { Bool: { 'aws:ViaAWSService': 'true' } });
    const sar = sarActions('ec2');
    if (sar) assert.deepEqual([...(sar.createsecuritygroup?.Resources ?? [])].sort(), ['security-group', 'vpc'], 'the SAR changed the resource types of CreateSecurityGroup');
  });

  it('worker: every create action the tag-on-create statements expect is itself granted', () => {
    const statements = statementsOfRole(s.template, workerTaskRoleId(s.template));
    const granted = new Set(allowed(statements).map((a) => a.action));
    const expected = statements
      .filter((st) => asArray<string>(st.Action).includes('ec2:CreateTags'))
      .flatMap((st) => asArray<string>(st.Condition?.StringEquals?.['ec2:CreateAction']));
    assert.ok(expected.includes('CreateSecurityGroup') && expected.includes('CreateLaunchTemplate'), `found ${expected}`);
    for (const action of expected) assert.ok(granted.has(`ec2:${action.toLowerCase()}`), `CreateTags expects ec2:${action}, which is not granted`);
  });

  it('worker: iam:PassRole only to EC2, on the DRS service roles and the configured launch template roles', () => {
    const statements = statementsOfRole(s.template, workerTaskRoleId(s.template));
    const passRole = allowed(statements).filter((a) => a.action === 'iam:passrole');
    assert.equal(passRole.length, 2);
    for (const p of passRole) assert.deepEqual(p.statement.Condition, { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } });
    const service = passRole.find((p) => p.statement.Sid === 'PassDrsRolesToEc2')!;
    for (const r of asArray<string>(service.statement.Resource)) {
      assert.match(r, /^arn:aws:iam::111122223333:role\/service-role\/AWSElasticDisasterRecovery/);
    }
    const custom = passRole.find((p) => p.statement.Sid === 'PassLaunchTemplateRolesToEc2')!;
    assert.deepEqual(asArray(custom.statement.Resource).sort(), ['arn:aws:iam::111122223333:role/AppServerRole', 'arn:aws:iam::111122223333:role/app/WebRole']);
  });

  it('worker: s3:PutObject on the configured report bucket only', () => {
    const statements = statementsOfRole(s.template, workerTaskRoleId(s.template));
    const s3 = allowed(statements).filter((a) => a.action.startsWith('s3:'));
    assert.deepEqual(s3.map((a) => a.action), ['s3:putobject']);
    assert.deepEqual(asArray(s3[0].statement.Resource), ['arn:aws:s3:::dr-reports-111122223333/*']);
  });

  it('worker service: Fargate ARM64, private subnets, no public IP, stop timeout for graceful shutdown, env from the stack', () => {
    const [td] = Object.values(resourcesOfType(s.template, 'AWS::ECS::TaskDefinition'));
    assert.deepEqual(td.Properties.RuntimePlatform, { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' });
    assert.equal(td.Properties.Cpu, '512');
    assert.equal(td.Properties.Memory, '1024');
    const [c] = td.Properties.ContainerDefinitions;
    assert.equal(c.StopTimeout, WORKER_STOP_TIMEOUT_SECONDS);
    assert.ok(c.StopTimeout > 100, 'the worker drains for up to 100 s after SIGTERM');
    assert.equal(c.ReadonlyRootFilesystem, true);
    assert.equal(c.User, '10001:10001', 'the worker runs as the non-root user of the image');
    const env = Object.fromEntries(c.Environment.map((e: any) => [e.Name, e.Value]));
    assert.deepEqual(Object.keys(env).sort(), [
      'AWS_REGION',
      'DRS_WAVES_ACTIVITY_ARNS',
      'DRS_WAVES_JANITOR_INTERVAL_SECONDS',
      'DRS_WAVES_LOG_FORMAT',
      'DRS_WAVES_MAX_ACTIVE_SERVERS',
      'DRS_WAVES_MAX_CONCURRENT_JOBS',
      'DRS_WAVES_MAX_SERVERS_PER_JOB',
      'DRS_WAVES_MAX_TASKS',
      'DRS_WAVES_POLLERS_PER_ACTIVITY',
      'DRS_WAVES_REPORT_BUCKET',
      'DRS_WAVES_TABLE',
      'RUST_LOG',
    ]);
    assert.equal(env.DRS_WAVES_LOG_FORMAT, 'json');
    assert.equal(env.DRS_WAVES_MAX_TASKS, '8');
    assert.equal(env.DRS_WAVES_POLLERS_PER_ACTIVITY, '12', 'worker.pollersPerActivity');
    // Exec form (no shell in the image), the worker's own health subcommand.
    assert.deepEqual(c.HealthCheck, { Command: ['CMD', '/usr/local/bin/drs-worker', 'health'], Interval: 30, Timeout: 5, Retries: 3, StartPeriod: 60 });
    // From config.json's worker and drs sections.
    assert.equal(env.DRS_WAVES_MAX_SERVERS_PER_JOB, '50');
    assert.equal(env.DRS_WAVES_MAX_ACTIVE_SERVERS, '300');
    assert.equal(env.DRS_WAVES_MAX_CONCURRENT_JOBS, '10');
    assert.equal(env.DRS_WAVES_JANITOR_INTERVAL_SECONDS, '30');
    assert.equal(env.DRS_WAVES_REPORT_BUCKET, 'dr-reports-111122223333');
    assert.equal(env.RUST_LOG, 'drs_worker=debug,info');
    const tableId = Object.keys(resourcesOfType(s.template, 'AWS::DynamoDB::Table'))[0];
    assert.deepEqual(env.DRS_WAVES_TABLE, { Ref: tableId });
    // name=arn pairs for every contract activity, comma-separated.
    const joined = JSON.stringify(env.DRS_WAVES_ACTIVITY_ARNS);
    for (const a of contract.activities) assert.ok(joined.includes(`${a.name}=`), `no ${a.name}= in DRS_WAVES_ACTIVITY_ARNS`);
    assert.equal(c.LogConfiguration.LogDriver, 'awslogs');

    s.template.hasResourceProperties('AWS::ECS::Service', {
      DesiredCount: 2,
      LaunchType: 'FARGATE',
      NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: 'DISABLED' } },
      DeploymentConfiguration: { DeploymentCircuitBreaker: { Enable: true, Rollback: true } },
    });
    s.template.hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }] });
    s.template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('alarms: failed, timed-out and aborted executions per state machine, and no running worker, all to the encrypted topic', () => {
    const alarms = Object.values(resourcesOfType(s.template, 'AWS::CloudWatch::Alarm'));
    const topicId = Object.keys(resourcesOfType(s.template, 'AWS::SNS::Topic'))[0];
    for (const plan of ['alpha', 'beta']) {
      for (const metric of ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted']) {
        const found = alarms.filter(
          (a) => a.Properties.Namespace === 'AWS/States' && a.Properties.MetricName === metric && JSON.stringify(a.Properties.Dimensions).includes(`StateMachine${plan}`),
        );
        assert.equal(found.length, 1, `${metric} alarm for ${plan}`);
        assert.deepEqual(found[0].Properties.AlarmActions, [{ Ref: topicId }]);
        assert.equal(found[0].Properties.Threshold, 1);
      }
    }
    const worker = alarms.filter((a) => a.Properties.MetricName === 'RunningTaskCount');
    assert.equal(worker.length, 1);
    assert.equal(worker[0].Properties.ComparisonOperator, 'LessThanThreshold');
    assert.equal(worker[0].Properties.Threshold, 1);
    assert.equal(worker[0].Properties.TreatMissingData, 'breaching');
    for (const a of alarms) assert.deepEqual(a.Properties.AlarmActions, [{ Ref: topicId }], `${a.Properties.AlarmDescription} notifies no one`);
    s.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    s.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'dr-team@example.com' });
    s.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('alarms: activity tasks timing out, missing heartbeats, waiting to be picked up or never started, per activity', () => {
    const alarms = Object.values(resourcesOfType(s.template, 'AWS::CloudWatch::Alarm'));
    const activityIds = Object.entries(resourcesOfType(s.template, 'AWS::StepFunctions::Activity'));
    assert.equal(activityIds.length, contract.activities.length);
    const onlyThis = (activityId: string) => JSON.stringify([{ Name: 'ActivityArn', Value: { Ref: activityId } }]);
    for (const [activityId, activity] of activityIds) {
      const name = activity.Properties.Name;
      const of = (metric: string) =>
        alarms.filter((a) => a.Properties.Namespace === 'AWS/States' && a.Properties.MetricName === metric && JSON.stringify(a.Properties.Dimensions) === onlyThis(activityId));
      for (const metric of ['ActivitiesTimedOut', 'ActivitiesHeartbeatTimedOut']) {
        const [a, more] = of(metric);
        assert.ok(a && !more, `one ${metric} alarm for ${name}`);
        assert.equal(a.Properties.Statistic, 'Sum');
        assert.equal(a.Properties.Threshold, 1);
        assert.equal(a.Properties.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
      }
      const [sched] = of('ActivityScheduleTime');
      assert.ok(sched, `no ActivityScheduleTime alarm for ${name}`);
      assert.equal(sched.Properties.Statistic, 'Maximum');
      assert.equal(sched.Properties.Threshold, 120_000, 'the default 120 s, in milliseconds');
      // On AWS a task nobody takes never times out (its timeout counts from when it is taken)
      // and has no schedule time: the description must not send the reader to ActivitiesTimedOut.
      assert.doesNotMatch(sched.Properties.AlarmDescription, /shows as ActivitiesTimedOut/);
      assert.match(sched.Properties.AlarmDescription, new RegExp(`shows in ${ACTIVITY_TASKS_NOT_STARTED.alarmIdPrefix}-`));

      // Tasks scheduled and not started: ActivitiesScheduled - ActivitiesStarted of this
      // activity, summed over the window, missing data as 0, at least 1.
      const notStarted = alarms.filter(
        (a) =>
          (a.Properties.Metrics ?? []).some((m: any) => m.MetricStat?.Metric?.MetricName === 'ActivitiesScheduled' && JSON.stringify(m.MetricStat.Metric.Dimensions) === onlyThis(activityId)),
      );
      assert.equal(notStarted.length, 1, `one not-started alarm for ${name}`);
      const p = notStarted[0].Properties;
      const byId = Object.fromEntries(p.Metrics.map((m: any) => [m.Id, m]));
      assert.equal(p.Metrics.length, 3, `${name}: two metrics and the expression`);
      for (const [id, metricName] of [['scheduled', 'ActivitiesScheduled'], ['started', 'ActivitiesStarted']]) {
        const m = byId[id];
        assert.ok(m, `${name}: no metric ${id}`);
        assert.equal(m.ReturnData, false);
        assert.deepEqual(
          { ns: m.MetricStat.Metric.Namespace, name: m.MetricStat.Metric.MetricName, dims: JSON.stringify(m.MetricStat.Metric.Dimensions), stat: m.MetricStat.Stat, period: m.MetricStat.Period },
          { ns: 'AWS/States', name: metricName, dims: onlyThis(activityId), stat: 'Sum', period: 600 },
        );
      }
      const [expr] = p.Metrics.filter((m: any) => m.Expression);
      assert.equal(expr.Expression, 'FILL(scheduled, 0) - FILL(started, 0)');
      assert.notEqual(expr.ReturnData, false, 'the expression is what the alarm watches');
      assert.equal(p.Threshold, 1);
      assert.equal(p.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
      assert.equal(p.EvaluationPeriods, 1);
      assert.equal(p.TreatMissingData, 'notBreaching', 'no data means no task was scheduled');
      // Fires within 15 minutes of the task being scheduled: one window plus CloudWatch's delay.
      assert.ok(600 * p.EvaluationPeriods <= 10 * 60, 'window too long to alarm within 15 minutes');
    }
  });

  it('alarms: the gate activity\'s timeouts speak of operators and lost tokens, not of dead workers', () => {
    const alarms = Object.values(resourcesOfType(s.template, 'AWS::CloudWatch::Alarm'));
    const activities = resourcesOfType(s.template, 'AWS::StepFunctions::Activity');
    const idOf = (name: string) => Object.entries(activities).find(([, a]) => a.Properties.Name === `${contract.activityPrefix}-${name}`)![0];
    const description = (activity: string, metric: string) => {
      const found = alarms.filter(
        (a) => a.Properties.MetricName === metric && JSON.stringify(a.Properties.Dimensions) === JSON.stringify([{ Name: 'ActivityArn', Value: { Ref: idOf(activity) } }]),
      );
      assert.equal(found.length, 1, `${metric} alarm of ${activity}`);
      return found[0].Properties.AlarmDescription as string;
    };
    const gateTimedOut = description(OPERATOR_ACTIVITY, 'ActivitiesTimedOut');
    assert.match(gateTimedOut, /not answered within its timeout/);
    assert.match(gateTimedOut, /DrsWaves\.GateTimedOut/);
    assert.match(gateTimedOut, /Not a worker fault/);
    const gateHeartbeat = description(OPERATOR_ACTIVITY, 'ActivitiesHeartbeatTimedOut');
    assert.match(gateHeartbeat, /token was lost/);
    assert.match(gateHeartbeat, /heartbeats the gate tokens recorded in the history table/);
    assert.match(gateHeartbeat, /opens the gate again/);
    for (const text of [gateTimedOut, gateHeartbeat]) assert.doesNotMatch(text, /died or hung/);
    // The worker's activities keep the worker texts.
    for (const a of contract.activities.filter((x) => x.name !== OPERATOR_ACTIVITY)) {
      assert.match(description(a.name, 'ActivitiesHeartbeatTimedOut'), /the worker holding it died or hung/, a.name);
      assert.match(description(a.name, 'ActivitiesTimedOut'), /a worker took it and did not answer/, a.name);
    }
  });

  it('alarms reach people: the topic policy lets this account\'s CloudWatch alarms publish, the key lets them encrypt, TLS stays enforced', () => {
    const topicId = Object.keys(resourcesOfType(s.template, 'AWS::SNS::Topic'))[0];
    const policies = Object.values(resourcesOfType(s.template, 'AWS::SNS::TopicPolicy')).filter((p) => JSON.stringify(p.Properties.Topics) === JSON.stringify([{ Ref: topicId }]));
    assert.equal(policies.length, 1, 'one policy on the alarm topic');
    const statements: any[] = policies[0].Properties.PolicyDocument.Statement;
    const sourceConditions = {
      StringEquals: { 'aws:SourceAccount': '111122223333' },
      ArnLike: { 'aws:SourceArn': 'arn:aws:cloudwatch:eu-west-1:111122223333:alarm:*' },
    };
    const publish = statements.filter((st) => st.Effect === 'Allow' && JSON.stringify(st.Principal) === JSON.stringify({ Service: 'cloudwatch.amazonaws.com' }));
    assert.equal(publish.length, 1, 'no statement lets CloudWatch alarms publish');
    assert.equal(publish[0].Action, 'sns:Publish');
    assert.deepEqual(publish[0].Resource, { Ref: topicId });
    assert.deepEqual(publish[0].Condition, sourceConditions);
    // The TLS deny is still there.
    assert.ok(statements.some((st) => st.Effect === 'Deny' && st.Condition?.Bool?.['aws:SecureTransport'] === 'false'));

    const [topic] = Object.values(resourcesOfType(s.template, 'AWS::SNS::Topic'));
    const keyId = topic.Properties.KmsMasterKeyId['Fn::GetAtt'][0];
    const key = resourcesOfType(s.template, 'AWS::KMS::Key')[keyId];
    const keyStatements: any[] = key.Properties.KeyPolicy.Statement.filter((st: any) => JSON.stringify(st.Principal) === JSON.stringify({ Service: 'cloudwatch.amazonaws.com' }));
    assert.equal(keyStatements.length, 1, 'the key policy names CloudWatch once, scoped');
    assert.equal(keyStatements[0].Effect, 'Allow');
    assert.deepEqual(asArray(keyStatements[0].Action).sort(), ['kms:Decrypt', 'kms:GenerateDataKey*']);
    assert.deepEqual(keyStatements[0].Condition, sourceConditions);
  });

  it('alarms: drill schedules (target errors, dropped starts, dead-letter failures) and the dead-letter queue', () => {
    const alarms = Object.values(resourcesOfType(s.template, 'AWS::CloudWatch::Alarm'));
    for (const metric of ['TargetErrorCount', 'InvocationDroppedCount', 'InvocationsFailedToBeSentToDeadLetterCount']) {
      const found = alarms.filter((a) => a.Properties.Namespace === 'AWS/Scheduler' && a.Properties.MetricName === metric);
      assert.equal(found.length, 1, metric);
      assert.deepEqual(found[0].Properties.Dimensions, [{ Name: 'ScheduleGroup', Value: 'drs-waves-drills' }]);
      assert.equal(found[0].Properties.Threshold, 1);
    }
    const queueId = Object.keys(resourcesOfType(s.template, 'AWS::SQS::Queue'))[0];
    const dlq = alarms.filter((a) => a.Properties.Namespace === 'AWS/SQS' && a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible');
    assert.equal(dlq.length, 1);
    assert.deepEqual(dlq[0].Properties.Dimensions, [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }]);
    // Encrypted and TLS-only, like the topic.
    s.template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    s.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it("alarms: the finish task's metrics (succeeded with failures, clean-up pending) per plan, both modes summed", () => {
    const alarms = Object.values(resourcesOfType(s.template, 'AWS::CloudWatch::Alarm'));
    for (const plan of ['alpha', 'beta']) {
      for (const metricName of [FINISH_METRICS.succeededWithFailures, FINISH_METRICS.cleanupPending]) {
        const found = alarms.filter((a) =>
          (a.Properties.Metrics ?? []).some((m: any) => m.MetricStat?.Metric?.MetricName === metricName && JSON.stringify(m.MetricStat.Metric.Dimensions).includes(`"Value":"${plan}"`)),
        );
        assert.equal(found.length, 1, `${metricName} alarm for ${plan}`);
        const metrics = found[0].Properties.Metrics;
        const stats = metrics.filter((m: any) => m.MetricStat);
        assert.deepEqual(
          stats
            .map((m: any) => m.MetricStat.Metric)
            .map((m: any) => ({ ns: m.Namespace, dims: [...m.Dimensions].sort((a: any, b: any) => b.Name.localeCompare(a.Name)) }))
            .sort((a: any, b: any) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
          FINISH_METRICS.modes.map((mode) => ({ ns: 'DrsWaves', dims: [{ Name: 'Plan', Value: plan }, { Name: 'Mode', Value: mode }] })),
        );
        assert.match(metrics.find((m: any) => m.Expression).Expression, /^SUM\(\[/);
        assert.equal(found[0].Properties.Threshold, 1);
        assert.equal(found[0].Properties.TreatMissingData, 'notBreaching');
      }
    }
  });

  it('executions that fail, time out or are stopped notify the alarm topic through EventBridge, per plan, with a dead-letter queue', () => {
    const rules = Object.values(resourcesOfType(s.template, 'AWS::Events::Rule'));
    const topicId = Object.keys(resourcesOfType(s.template, 'AWS::SNS::Topic'))[0];
    const queueId = Object.keys(resourcesOfType(s.template, 'AWS::SQS::Queue'))[0];
    const machines = Object.entries(resourcesOfType(s.template, 'AWS::StepFunctions::StateMachine'));
    assert.equal(rules.length, machines.length);
    for (const [smId] of machines) {
      const rule = rules.find((r) => JSON.stringify(r.Properties.EventPattern.detail.stateMachineArn) === JSON.stringify([{ 'Fn::GetAtt': [smId, 'Arn'] }]));
      assert.ok(rule, `no rule for ${smId}`);
      assert.deepEqual(rule.Properties.EventPattern.source, ['aws.states']);
      assert.deepEqual(rule.Properties.EventPattern['detail-type'], ['Step Functions Execution Status Change']);
      assert.deepEqual([...rule.Properties.EventPattern.detail.status].sort(), [...NOTIFIED_EXECUTION_STATUSES].sort());
      assert.deepEqual([...NOTIFIED_EXECUTION_STATUSES].sort(), ['ABORTED', 'FAILED', 'TIMED_OUT']);
      const [target] = rule.Properties.Targets;
      assert.deepEqual(target.Arn, { Ref: topicId });
      assert.deepEqual(target.DeadLetterConfig, { Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } });
      assert.deepEqual(target.InputTransformer.InputPathsMap['detail-executionArn'], '$.detail.executionArn');
    }
    // EventBridge publishes with a role of its own: the topic policy trusts no service for it.
    const roleId = logicalIdOfRoleFor(s.template, 'events.amazonaws.com');
    const actions = allowed(statementsOfRole(s.template, roleId));
    assert.deepEqual(actions.map((a) => a.action).sort(), ['kms:decrypt', 'kms:generatedatakey*', 'sns:publish']);
    const [topicPolicy] = Object.values(resourcesOfType(s.template, 'AWS::SNS::TopicPolicy'));
    assert.ok(!JSON.stringify(topicPolicy.Properties).includes('events.amazonaws.com'));
  });

  it('dashboard: executions and wave durations per plan; the wave duration metric filter on the worker logs', () => {
    const [dash] = Object.values(resourcesOfType(s.template, 'AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dash.Properties.DashboardBody);
    for (const plan of ['alpha', 'beta']) {
      assert.ok(body.includes(`${plan}: executions`), `no executions widget for ${plan}`);
      assert.ok(body.includes(`${plan}: wave durations`), `no wave duration widget for ${plan}`);
    }
    s.template.hasResourceProperties('AWS::Logs::MetricFilter', {
      MetricTransformations: [Match.objectLike({ MetricNamespace: 'DrsWaves', MetricName: 'WaveDurationSeconds', MetricValue: '$.duration_seconds' })],
    });
  });

  it('new VPC: private subnets with NAT, flow logs, the free gateway endpoints and no interface endpoints by default; worker egress only HTTPS', () => {
    s.template.resourceCountIs('AWS::EC2::NatGateway', 2);
    s.template.resourceCountIs('AWS::EC2::FlowLog', 1);
    const endpoints = Object.values(resourcesOfType(s.template, 'AWS::EC2::VPCEndpoint'));
    assert.deepEqual(endpoints.map((e) => e.Properties.VpcEndpointType).sort(), ['Gateway', 'Gateway']);
    assert.deepEqual(endpoints.map((e) => JSON.stringify(e.Properties.ServiceName).match(/\.(dynamodb|s3)"/)?.[1]).sort(), ['dynamodb', 's3']);
    s.template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('drs-waves worker'),
      SecurityGroupEgress: [{ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Description: Match.anyValue() }],
    });
    const ingress = Object.values(resourcesOfType(s.template, 'AWS::EC2::SecurityGroup')).filter((g) => g.Properties.SecurityGroupIngress);
    assert.deepEqual(ingress, [], 'nothing accepts inbound traffic');
  });

  it('two workers by default, in worker subnets of two availability zones (ECS spreads the tasks over them)', () => {
    const [service] = Object.values(resourcesOfType(s.template, 'AWS::ECS::Service'));
    assert.equal(service.Properties.DesiredCount, 2);
    const subnets = resourcesOfType(s.template, 'AWS::EC2::Subnet');
    const workerSubnets = service.Properties.NetworkConfiguration.AwsvpcConfiguration.Subnets.map((r: any) => subnets[r.Ref]);
    assert.ok(workerSubnets.every((x: any) => x && x.Properties.MapPublicIpOnLaunch === false), 'the worker runs in private subnets');
    assert.deepEqual([...new Set(workerSubnets.map((x: any) => x.Properties.AvailabilityZone))].sort(), ['eu-west-1a', 'eu-west-1b']);
  });

  it('tags from the configuration are on the resources', () => {
    s.template.hasResourceProperties('AWS::DynamoDB::Table', { Tags: Match.arrayWith([{ Key: 'owner', Value: 'dr-team' }]) });
    s.template.hasResourceProperties('AWS::ECS::Cluster', { Tags: Match.arrayWith([{ Key: 'project', Value: 'drs-waves' }]) });
  });
});

describe('stack options', () => {
  it('plans lists a subset; deletion protection off; X86_64; existing VPC with every endpoint; ERROR logging; no worker settings', () => {
    const s = synth(
      fixtureConfig({
        plans: ['beta'],
        schedules: {},
        deletionProtection: false,
        worker: { architecture: 'X86_64', desiredCount: 0, cpu: 1024, memory: 2048 },
        drs: {},
        network: {
          vpcId: 'vpc-0123456789abcdef0',
          privateSubnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
          privateSubnetRouteTableIds: ['rtb-0123456789abcdef0', 'rtb-0fedcba9876543210'],
          availabilityZones: ['eu-west-1a', 'eu-west-1b'],
          endpoints: { dynamodb: true, s3: true, stepFunctions: true, drs: true, logs: true, ecrApi: true, ecrDocker: true },
        },
        stateMachineLogging: { level: 'ERROR', includeExecutionData: true, retentionDays: 14 },
      }),
    );
    const names = Object.values(resourcesOfType(s.template, 'AWS::StepFunctions::StateMachine')).map((m) => m.Properties.StateMachineName);
    assert.deepEqual(names, ['drs-waves-beta']);
    s.template.resourceCountIs('AWS::Scheduler::Schedule', 0);
    s.template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 0);
    s.template.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
    const [protection] = Object.values(resourcesOfType(s.template, 'Custom::DeletionProtection'));
    assert.match(JSON.stringify(protection.Properties.Create), /describeTable/, 'no protection to turn off on a new table');
    assert.match(JSON.stringify(protection.Properties.Update), /\\"DeletionProtectionEnabled\\":false/, 'turning it off later is an update');
    s.template.hasResourceProperties('AWS::ECS::TaskDefinition', { RuntimePlatform: { CpuArchitecture: 'X86_64' } });
    s.template.resourceCountIs('AWS::EC2::VPC', 0);
    s.template.resourceCountIs('AWS::EC2::NatGateway', 0);
    s.template.hasResourceProperties('AWS::ECS::Service', {
      DesiredCount: 0,
      NetworkConfiguration: { AwsvpcConfiguration: { Subnets: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'] } },
    });
    const endpoints = Object.values(resourcesOfType(s.template, 'AWS::EC2::VPCEndpoint'));
    const service = (e: any) => JSON.stringify(e.Properties.ServiceName).match(/\.(drs|ecr\.api|ecr\.dkr|logs|states|dynamodb|s3)"/)?.[1];
    const interfaces = endpoints.filter((e) => e.Properties.VpcEndpointType === 'Interface');
    assert.deepEqual(interfaces.map(service).sort(), ['drs', 'ecr.api', 'ecr.dkr', 'logs', 'states']);
    for (const e of interfaces) {
      assert.equal(e.Properties.PrivateDnsEnabled, true);
      assert.deepEqual(e.Properties.SubnetIds, ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210']);
    }
    // Gateway endpoints in an existing VPC: on the worker subnets' route tables, nothing else.
    const gateways = endpoints.filter((e) => e.Properties.VpcEndpointType === 'Gateway');
    assert.deepEqual(gateways.map(service).sort(), ['dynamodb', 's3']);
    for (const g of gateways) assert.deepEqual(g.Properties.RouteTableIds, ['rtb-0123456789abcdef0', 'rtb-0fedcba9876543210']);
    s.template.allResourcesProperties('AWS::StepFunctions::StateMachine', { LoggingConfiguration: { Level: 'ERROR', IncludeExecutionData: true } });
    // No running task wanted: no alarm that would fire for ever.
    assert.equal(Object.values(resourcesOfType(s.template, 'AWS::CloudWatch::Alarm')).filter((a) => a.Properties.MetricName === 'RunningTaskCount').length, 0);
    // Only the worker may reach the endpoints.
    const [epSg] = Object.values(resourcesOfType(s.template, 'AWS::EC2::SecurityGroupIngress'));
    assert.equal(epSg.Properties.FromPort, 443);
    assert.ok(epSg.Properties.SourceSecurityGroupId, 'endpoint ingress is from the worker security group');
    // Worker settings left unset: the worker's own defaults apply, nothing restated here.
    const [td] = Object.values(resourcesOfType(s.template, 'AWS::ECS::TaskDefinition'));
    const envNames = td.Properties.ContainerDefinitions[0].Environment.map((e: any) => e.Name);
    for (const name of ['DRS_WAVES_MAX_SERVERS_PER_JOB', 'DRS_WAVES_JANITOR_INTERVAL_SECONDS', 'RUST_LOG']) {
      assert.ok(!envNames.includes(name), `${name} set although not configured`);
    }
    // The report bucket is the stack's own (created by default).
    assert.ok(envNames.includes('DRS_WAVES_REPORT_BUCKET'));
    const workerPolicy = JSON.stringify(statementsOfRole(s.template, workerTaskRoleId(s.template)));
    assert.ok(!workerPolicy.includes('PassLaunchTemplateRolesToEc2'));
  });

  it('a single-AZ worker is warned about at synth, naming the setting; two AZs or no worker are not', () => {
    const singleAz = (x: Synth) => Annotations.fromStack(x.stack).findWarning('*', Match.stringLikeRegexp('single-AZ worker'));
    const warningOf = (x: Synth) => {
      const found = singleAz(x);
      assert.equal(found.length, 1, 'one single-AZ warning');
      assert.match(found[0].id, /WorkerService/, 'on the worker service');
      return String(found[0].entry.data);
    };
    // The default fixture (new VPC, two AZs): none.
    assert.deepEqual(singleAz(synth(fixtureConfig(), undefined, false)), []);
    // A new VPC with network.maxAzs 1.
    const newVpc = synth(fixtureConfig({ network: { maxAzs: 1, natGateways: 1 } }), undefined, false);
    const [service] = Object.values(resourcesOfType(newVpc.template, 'AWS::ECS::Service'));
    assert.equal(service.Properties.NetworkConfiguration.AwsvpcConfiguration.Subnets.length, 1);
    const w = warningOf(newVpc);
    assert.match(w, /network\.maxAzs \(1\)/);
    assert.match(w, /all 2 worker tasks run there/);
    // A new VPC with one network.availabilityZones entry.
    assert.match(warningOf(synth(fixtureConfig({ network: { availabilityZones: ['eu-west-1a'], natGateways: 1 } }), undefined, false)), /network\.availabilityZones \(\["eu-west-1a"\]\)/);
    const existing = (subnets: string[], azs: string[], desiredCount = 2) =>
      synth(
        fixtureConfig({
          worker: { desiredCount },
          network: {
            vpcId: 'vpc-0123456789abcdef0',
            privateSubnetIds: subnets,
            availabilityZones: azs,
            endpoints: { dynamodb: false, s3: false, stepFunctions: false, drs: false, logs: false, ecrApi: false, ecrDocker: false },
          },
        }),
        undefined,
        false,
      );
    // An existing VPC with one subnet, and with two subnets in the same AZ.
    assert.match(warningOf(existing(['subnet-0123456789abcdef0'], ['eu-west-1a'])), /network\.privateSubnetIds \(1 subnet\(s\), network\.availabilityZones \["eu-west-1a"\]\)/);
    assert.match(
      warningOf(existing(['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'], ['eu-west-1b', 'eu-west-1b'], 1)),
      /network\.privateSubnetIds \(2 subnet\(s\).*the worker task runs there/,
    );
    // Two AZs, or no worker task at all: nothing to warn of.
    assert.deepEqual(singleAz(existing(['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'], ['eu-west-1a', 'eu-west-1b'])), []);
    assert.deepEqual(singleAz(existing(['subnet-0123456789abcdef0'], ['eu-west-1a'], 0)), []);
  });

  it('existing VPC that has its endpoints already: none created, no endpoint security group, no route tables needed', () => {
    const shared = loadConfig(path.join(FIXTURES, 'config.existing-vpc.json'));
    const s = synth({ ...shared, plans: ['alpha'], schedules: {} }, fixtureStatemachines(), false);
    s.template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    s.template.resourceCountIs('AWS::EC2::VPC', 0);
    s.template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
    s.template.resourceCountIs('AWS::EC2::SecurityGroup', 1);
  });

  it('six fleet-size plans stay far under the 1 MB template limit (definitions are S3 assets)', () => {
    const fleet = fs.readFileSync(path.join(REAL_STATEMACHINES, 'fleet.asl.json'), 'utf8');
    const files: Record<string, string> = {};
    const plans = [1, 2, 3, 4, 5, 6].map((i) => `fleet${i}`);
    for (const p of plans) files[`${p}.asl.json`] = fleet;
    const s = synth(fixtureConfig({ plans, schedules: {} }), fixtureStatemachines(files), false);
    const size = Buffer.byteLength(JSON.stringify(s.template.toJSON()));
    assert.ok(6 * Buffer.byteLength(fleet) > 1024 * 1024, 'six inlined fleet definitions would pass 1 MB');
    assert.ok(size < 512 * 1024, `template is ${size} bytes`);
    s.template.resourceCountIs('AWS::StepFunctions::StateMachine', 6);
  });

  it('a plan using a placeholder the contract does not know fails synth naming plan and placeholder', () => {
    const dir = fixtureStatemachines({
      'gamma.asl.json': JSON.stringify({ StartAt: 'A', States: { A: { Type: 'Task', Resource: '${RebootActivityArn}', End: true } } }),
    });
    assert.throws(
      () => synth(fixtureConfig({ plans: ['alpha', 'beta', 'gamma'] }), dir),
      (e: Error) => e.name === 'PlanError' && /plan "gamma"/.test(e.message) && e.message.includes('${RebootActivityArn}'),
    );
  });

  it('a schedule for a plan that is not deployed, or a listed plan that does not exist, fails synth', () => {
    assert.throws(() => synth(fixtureConfig({ plans: ['beta'] })), /config schedules\.alpha: plan "alpha" is not deployed \(deployed: beta\)/);
    assert.throws(() => synth(fixtureConfig({ plans: ['alpha', 'delta'] })), /config plans: "delta" not found in .* \(available: accounts, alpha, beta, regions\)/);
  });

  it('no generated plans at all fails synth with a clear message', () => {
    const dir = fixtureStatemachines();
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.asl.json')) fs.rmSync(path.join(dir, f));
    assert.throws(() => synth(fixtureConfig({ schedules: {} }), dir), /config plans: "alpha", "beta" not found in .* \(available: none\)/);
  });
});

describe('the committed configuration', () => {
  it('deploys nothing by default: synth fails, saying what to configure', () => {
    const config = loadConfig(path.join(CDK_DIR, 'config.json'));
    assert.equal(config.plans, undefined);
    assert.deepEqual(config.schedules, {}, 'no drill is scheduled by default');
    assert.equal(config.alarmEmail, undefined, 'no example address is subscribed');
    assert.throws(
      () => buildApp({ statemachinesDir: REAL_STATEMACHINES, nag: false, appProps: { outdir: tempDir('drs-waves-out-') } }),
      (e: Error) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.match(e.message, /config\.json: invalid configuration/);
        assert.match(e.message, /plans: no plans are listed, and none is deployed by default/);
        assert.match(e.message, /"plans": \["<plan>", \.\.\.\]/);
        assert.match(e.message, /env\.region/);
        for (const p of discoverPlans(REAL_STATEMACHINES)) assert.ok(e.message.includes(p), `does not name ${p}`);
        return true;
      },
    );
  });

  it('with a plan list, synthesizes one state machine per generated plan, every placeholder filled', () => {
    const raw = JSON.parse(fs.readFileSync(path.join(CDK_DIR, 'config.json'), 'utf8'));
    const plans = discoverPlans(REAL_STATEMACHINES);
    const s = synth(parseConfig({ ...raw, plans }, 'config.json + plans'), REAL_STATEMACHINES, false);
    const machines = Object.values(resourcesOfType(s.template, 'AWS::StepFunctions::StateMachine'));
    assert.deepEqual(machines.map((m) => m.Properties.StateMachineName).sort(), plans.map((p) => `drs-waves-${p}`).sort());
    for (const m of machines) {
      const def = fs.readFileSync(fileAssetSource(s, m.Properties.DefinitionS3Location.Key), 'utf8');
      for (const p of findPlaceholders(def)) {
        assert.ok(m.Properties.DefinitionSubstitutions[p], `${m.Properties.StateMachineName}: \${${p}} not filled`);
      }
    }
  });
});

describe('report bucket', () => {
  /** The fixture without its existing bucket: the stack creates one. */
  const created = (reports?: Record<string, unknown>) => {
    const base = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'config.fixture.json'), 'utf8'));
    delete base.worker.reportBucket;
    return synth(parseConfig({ ...base, ...(reports ? { reports } : {}) }, 'config.fixture.json'), fixtureStatemachines(), false);
  };

  it('created by default: versioned, Object Lock in governance mode for 365 days, no public access, TLS only, retained on delete', () => {
    const s = created();
    const buckets = resourcesOfType(s.template, 'AWS::S3::Bucket');
    assert.equal(Object.keys(buckets).length, 1);
    const [[id, bucket]] = Object.entries(buckets);
    assert.equal(bucket.Properties.VersioningConfiguration.Status, 'Enabled');
    assert.equal(bucket.Properties.ObjectLockEnabled, true);
    assert.deepEqual(bucket.Properties.ObjectLockConfiguration, {
      ObjectLockEnabled: 'Enabled',
      Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 365 } },
    });
    assert.deepEqual(bucket.Properties.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    const raw = s.template.toJSON().Resources[id];
    assert.equal(raw.DeletionPolicy, 'Retain');
    assert.equal(raw.UpdateReplacePolicy, 'Retain');
    // TLS only: a bucket policy denies every request without aws:SecureTransport.
    const [policy] = Object.values(resourcesOfType(s.template, 'AWS::S3::BucketPolicy'));
    assert.deepEqual(policy.Properties.Bucket, { Ref: id });
    const deny = policy.Properties.PolicyDocument.Statement.find((st: any) => st.Effect === 'Deny');
    assert.deepEqual(deny.Condition, { Bool: { 'aws:SecureTransport': 'false' } });
    assert.equal(deny.Action, 's3:*');
    assert.equal(deny.Principal.AWS, '*');
    // The worker is told the bucket's name and may only PutObject there.
    const [td] = Object.values(resourcesOfType(s.template, 'AWS::ECS::TaskDefinition'));
    const env = Object.fromEntries(td.Properties.ContainerDefinitions[0].Environment.map((e: any) => [e.Name, e.Value]));
    assert.deepEqual(env.DRS_WAVES_REPORT_BUCKET, { Ref: id });
    const statements = statementsOfRole(s.template, workerTaskRoleId(s.template));
    const s3 = allowed(statements).filter((a) => a.action.startsWith('s3:'));
    assert.deepEqual(s3.map((a) => a.action), ['s3:putobject']);
    assert.deepEqual(asArray(s3[0].statement.Resource), [{ 'Fn::Join': ['', [{ 'Fn::GetAtt': [id, 'Arn'] }, '/*']] }]);
    s.template.hasOutput('ReportBucketName', { Value: { Ref: id } });
  });

  it('retention and mode come from the configuration', () => {
    const s = created({ objectLockMode: 'COMPLIANCE', retentionDays: 2557 });
    const [bucket] = Object.values(resourcesOfType(s.template, 'AWS::S3::Bucket'));
    assert.deepEqual(bucket.Properties.ObjectLockConfiguration.Rule, { DefaultRetention: { Mode: 'COMPLIANCE', Days: 2557 } });
  });

  it('none with an existing bucket (worker.reportBucket) or when turned off', () => {
    const existing = synth(fixtureConfig(), fixtureStatemachines(), false);
    existing.template.resourceCountIs('AWS::S3::Bucket', 0);
    const off = created({ createBucket: false });
    off.template.resourceCountIs('AWS::S3::Bucket', 0);
    const [td] = Object.values(resourcesOfType(off.template, 'AWS::ECS::TaskDefinition'));
    const envNames = td.Properties.ContainerDefinitions[0].Environment.map((e: any) => e.Name);
    assert.ok(!envNames.includes('DRS_WAVES_REPORT_BUCKET'));
    const policy = JSON.stringify(statementsOfRole(off.template, workerTaskRoleId(off.template)));
    assert.ok(!policy.includes('s3:PutObject') && !policy.includes('DescribeStateMachineForExecution'));
  });
});

/** The Service Authorization Reference as cfn-lint ships it, when the project venv is there. */
function sarActions(service: string): Record<string, { Resources?: string[] }> | undefined {
  const venv = process.env.DRS_WAVES_VENV ?? path.join(CDK_DIR, '..', '.venv');
  const lib = path.join(venv, 'lib');
  if (!fs.existsSync(lib)) return undefined;
  for (const py of fs.readdirSync(lib)) {
    const f = path.join(lib, py, 'site-packages', 'cfnlint', 'data', 'AdditionalSpecs', 'Policies.json');
    if (fs.existsSync(f)) return JSON.parse(fs.readFileSync(f, 'utf8'))[service]?.Actions;
  }
  return undefined;
}
