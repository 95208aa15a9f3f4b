import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { loadConfig } from '../lib/config';
import { loadContract } from '../lib/contract';
import { DRILL_INPUT, WORKER_STOP_TIMEOUT_SECONDS } from '../lib/drs-waves-stack';
import { discoverPlans, findPlaceholders } from '../lib/plans';
import { CDK_DIR } from '../lib/app';
import {
  asArray,
  fixtureConfig,
  fixtureStatemachines,
  REAL_STATEMACHINES,
  resourcesOfType,
  statementsOfRole,
  Synth,
  synth,
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
      DeletionPolicy: 'Retain',
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
        DeletionProtectionEnabled: true,
      },
    });
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

  it('one state machine per plan, every placeholder filled with its activity', () => {
    const machines = resourcesOfType(s.template, 'AWS::StepFunctions::StateMachine');
    const byName: Record<string, any> = Object.fromEntries(Object.values(machines).map((m) => [m.Properties.StateMachineName, m]));
    assert.deepEqual(Object.keys(byName).sort(), ['drs-waves-alpha', 'drs-waves-beta']);

    const activities = resourcesOfType(s.template, 'AWS::StepFunctions::Activity');
    const placeholderOf = Object.fromEntries(contract.activities.map((a) => [a.placeholder, `${contract.activityPrefix}-${a.name}`]));
    for (const [name, m] of Object.entries(byName)) {
      const def: string = m.Properties.DefinitionString;
      assert.equal(typeof def, 'string', `${name}: definition is not inline`);
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
    const alphaId = Object.entries(resourcesOfType(s.template, 'AWS::StepFunctions::StateMachine')).find(
      ([, m]) => m.Properties.StateMachineName === 'drs-waves-alpha',
    )![0];
    assert.deepEqual(p.Target.Arn, { 'Fn::GetAtt': [alphaId, 'Arn'] });
  });

  it('the scheduler role may StartExecution only on the scheduled state machines, and nothing else', () => {
    const roleId = logicalIdOfRoleFor(s.template, 'scheduler.amazonaws.com');
    const statements = statementsOfRole(s.template, roleId);
    const actions = allowed(statements);
    assert.deepEqual([...new Set(actions.map((a) => a.action))], ['states:startexecution']);
    const alphaId = Object.entries(resourcesOfType(s.template, 'AWS::StepFunctions::StateMachine')).find(
      ([, m]) => m.Properties.StateMachineName === 'drs-waves-alpha',
    )![0];
    for (const { statement } of actions) {
      assert.deepEqual(asArray(statement.Resource), [{ 'Fn::GetAtt': [alphaId, 'Arn'] }]);
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

    const describe = actions.filter((a) => a.action === 'states:describeexecution');
    assert.equal(describe.length, 1);
    assert.deepEqual(asArray(describe[0].statement.Resource).sort(), [
      'arn:aws:states:eu-west-1:111122223333:execution:drs-waves-alpha:*',
      'arn:aws:states:eu-west-1:111122223333:execution:drs-waves-beta:*',
    ]);
  });

  it('worker: DynamoDB only on the history table and its two indexes', () => {
    const statements = statementsOfRole(s.template, workerTaskRoleId(s.template));
    const ddb = allowed(statements).filter((a) => a.action.startsWith('dynamodb:'));
    assert.deepEqual(
      [...new Set(ddb.map((a) => a.action))].sort(),
      ['dynamodb:conditioncheckitem', 'dynamodb:deleteitem', 'dynamodb:getitem', 'dynamodb:putitem', 'dynamodb:query', 'dynamodb:updateitem'],
    );
    const tableId = Object.keys(resourcesOfType(s.template, 'AWS::DynamoDB::Table'))[0];
    const tableArn = { 'Fn::GetAtt': [tableId, 'Arn'] };
    const index = (name: string) => ({ 'Fn::Join': ['', [tableArn, `/index/${name}`]] });
    const sorted = (v: unknown[]) => v.map((x) => JSON.stringify(x)).sort();
    for (const { statement } of ddb) {
      assert.deepEqual(sorted(asArray(statement.Resource)), sorted([tableArn, index('status-index'), index('plan-index')]));
    }
  });

  it('worker: the DRS actions it needs, scoped by resource type; StartRecovery only with the execution job tag', () => {
    const statements = statementsOfRole(s.template, workerTaskRoleId(s.template));
    const drs = allowed(statements).filter((a) => a.action.startsWith('drs:'));
    assert.deepEqual([...new Set(drs.map((a) => a.action))].sort(), [
      'drs:createrecoveryinstancefordrs',
      'drs:describejoblogitems',
      'drs:describejobs',
      'drs:describerecoveryinstances',
      'drs:describesourceservers',
      'drs:listtagsforresource',
      'drs:startrecovery',
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
    assert.deepEqual(asArray(one('drs:describejoblogitems').Resource), ['arn:aws:drs:eu-west-1:111122223333:job/*']);
    assert.deepEqual(one('drs:tagresource').Condition, { StringEquals: { 'drs:CreateAction': ['StartRecovery', 'CreateRecoveryInstanceForDrs'] } });
  });

  it('worker: every mutating EC2 action is conditioned (DRS-managed tag, via DRS, or create action)', () => {
    const statements = statementsOfRole(s.template, workerTaskRoleId(s.template));
    for (const { action, statement } of allowed(statements).filter((a) => a.action.startsWith('ec2:') && !a.action.startsWith('ec2:describe'))) {
      assert.ok(statement.Condition, `${action} (${statement.Sid}) has no condition`);
      assert.ok(!asArray(statement.Resource).includes('*'), `${action} (${statement.Sid}) is on *`);
    }
    const passRole = allowed(statements).filter((a) => a.action === 'iam:passrole');
    assert.equal(passRole.length, 1);
    assert.deepEqual(passRole[0].statement.Condition, { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } });
    for (const r of asArray<string>(passRole[0].statement.Resource)) {
      assert.match(r, /^arn:aws:iam::111122223333:role\/service-role\/AWSElasticDisasterRecovery/);
    }
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
    assert.deepEqual(Object.keys(env).sort(), ['AWS_REGION', 'DRS_WAVES_ACTIVITY_ARNS', 'DRS_WAVES_LOG_FORMAT', 'DRS_WAVES_MAX_TASKS', 'DRS_WAVES_TABLE']);
    assert.equal(env.DRS_WAVES_LOG_FORMAT, 'json');
    assert.equal(env.DRS_WAVES_MAX_TASKS, '8');
    const tableId = Object.keys(resourcesOfType(s.template, 'AWS::DynamoDB::Table'))[0];
    assert.deepEqual(env.DRS_WAVES_TABLE, { Ref: tableId });
    // name=arn pairs for every contract activity, comma-separated.
    const joined = JSON.stringify(env.DRS_WAVES_ACTIVITY_ARNS);
    for (const a of contract.activities) assert.ok(joined.includes(`${a.name}=`), `no ${a.name}= in DRS_WAVES_ACTIVITY_ARNS`);
    assert.equal(c.LogConfiguration.LogDriver, 'awslogs');

    s.template.hasResourceProperties('AWS::ECS::Service', {
      DesiredCount: 1,
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
    s.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    s.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'dr-team@example.com' });
    s.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
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

  it('new VPC: private subnets with NAT, flow logs, gateway endpoints; worker egress only HTTPS', () => {
    s.template.resourceCountIs('AWS::EC2::NatGateway', 2);
    s.template.resourceCountIs('AWS::EC2::FlowLog', 1);
    s.template.resourceCountIs('AWS::EC2::VPCEndpoint', 2);
    s.template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('drs-waves worker'),
      SecurityGroupEgress: [{ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Description: Match.anyValue() }],
    });
    const ingress = Object.values(resourcesOfType(s.template, 'AWS::EC2::SecurityGroup')).filter((g) => g.Properties.SecurityGroupIngress);
    assert.deepEqual(ingress, [], 'nothing accepts inbound traffic');
  });

  it('tags from the configuration are on the resources', () => {
    s.template.hasResourceProperties('AWS::DynamoDB::Table', { Tags: Match.arrayWith([{ Key: 'owner', Value: 'dr-team' }]) });
    s.template.hasResourceProperties('AWS::ECS::Cluster', { Tags: Match.arrayWith([{ Key: 'project', Value: 'drs-waves' }]) });
  });
});

describe('stack options', () => {
  it('plans lists a subset; deletion protection off; X86_64; existing VPC with endpoints; ERROR logging', () => {
    const s = synth(
      fixtureConfig({
        plans: ['beta'],
        schedules: {},
        deletionProtection: false,
        worker: { architecture: 'X86_64', desiredCount: 0, cpu: 1024, memory: 2048 },
        network: {
          vpcId: 'vpc-0123456789abcdef0',
          privateSubnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
          availabilityZones: ['eu-west-1a', 'eu-west-1b'],
          interfaceEndpoints: true,
        },
        stateMachineLogging: { level: 'ERROR', includeExecutionData: true, retentionDays: 14 },
      }),
    );
    const names = Object.values(resourcesOfType(s.template, 'AWS::StepFunctions::StateMachine')).map((m) => m.Properties.StateMachineName);
    assert.deepEqual(names, ['drs-waves-beta']);
    s.template.resourceCountIs('AWS::Scheduler::Schedule', 0);
    s.template.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
    s.template.hasResourceProperties('AWS::ECS::TaskDefinition', { RuntimePlatform: { CpuArchitecture: 'X86_64' } });
    s.template.resourceCountIs('AWS::EC2::VPC', 0);
    s.template.resourceCountIs('AWS::EC2::NatGateway', 0);
    s.template.hasResourceProperties('AWS::ECS::Service', {
      DesiredCount: 0,
      NetworkConfiguration: { AwsvpcConfiguration: { Subnets: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'] } },
    });
    const endpoints = Object.values(resourcesOfType(s.template, 'AWS::EC2::VPCEndpoint')).map((e) => JSON.stringify(e.Properties.ServiceName));
    for (const svc of ['states', 'drs', 'logs', 'ecr.api', 'ecr.dkr']) {
      assert.ok(endpoints.some((e) => e.includes(`.${svc}`)), `no ${svc} endpoint in ${endpoints.join(', ')}`);
    }
    s.template.allResourcesProperties('AWS::StepFunctions::StateMachine', { LoggingConfiguration: { Level: 'ERROR', IncludeExecutionData: true } });
    // No running task wanted: no alarm that would fire for ever.
    assert.equal(Object.values(resourcesOfType(s.template, 'AWS::CloudWatch::Alarm')).filter((a) => a.Properties.MetricName === 'RunningTaskCount').length, 0);
    // Only the worker may reach the endpoints.
    const [epSg] = Object.values(resourcesOfType(s.template, 'AWS::EC2::SecurityGroupIngress'));
    assert.equal(epSg.Properties.FromPort, 443);
    assert.ok(epSg.Properties.SourceSecurityGroupId, 'endpoint ingress is from the worker security group');
  });

  it('a plan using a placeholder the contract does not know fails synth naming plan and placeholder', () => {
    const dir = fixtureStatemachines({
      'gamma.asl.json': JSON.stringify({ StartAt: 'A', States: { A: { Type: 'Task', Resource: '${RebootActivityArn}', End: true } } }),
    });
    assert.throws(
      () => synth(fixtureConfig(), dir),
      (e: Error) => e.name === 'PlanError' && /plan "gamma"/.test(e.message) && e.message.includes('${RebootActivityArn}'),
    );
  });

  it('a schedule for a plan that is not deployed, or a listed plan that does not exist, fails synth', () => {
    assert.throws(() => synth(fixtureConfig({ plans: ['beta'] })), /config schedules\.alpha: plan "alpha" is not deployed \(deployed: beta\)/);
    assert.throws(() => synth(fixtureConfig({ plans: ['alpha', 'delta'] })), /config plans: "delta" not found in .* \(available: alpha, beta\)/);
  });

  it('no generated plans at all fails synth with a clear message', () => {
    const dir = fixtureStatemachines();
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.asl.json')) fs.rmSync(path.join(dir, f));
    assert.throws(() => synth(fixtureConfig({ schedules: {} }), dir), /no <plan>\.asl\.json found/);
  });
});

describe('the committed configuration with the generated plans in statemachines/', () => {
  it('synthesizes one state machine per generated plan, every placeholder filled', () => {
    const config = loadConfig(path.join(CDK_DIR, 'config.json'));
    const s = synth(config, REAL_STATEMACHINES);
    const machines = Object.values(resourcesOfType(s.template, 'AWS::StepFunctions::StateMachine'));
    const expected = (config.plans ?? discoverPlans(REAL_STATEMACHINES)).map((p) => `drs-waves-${p}`).sort();
    assert.deepEqual(machines.map((m) => m.Properties.StateMachineName).sort(), expected);
    for (const m of machines) {
      for (const p of findPlaceholders(m.Properties.DefinitionString)) {
        assert.ok(m.Properties.DefinitionSubstitutions[p], `${m.Properties.StateMachineName}: \${${p}} not filled`);
      }
    }
    for (const [plan] of Object.entries(config.schedules)) {
      assert.ok(expected.includes(`drs-waves-${plan}`), `schedule for undeployed plan ${plan}`);
    }
  });
});
