/**
 * Actions around waves (issue #24): the state machine role may run exactly the child
 * machines, functions, Automation documents and topics the deployed machines name, and
 * cdk-nag stays clean.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { DESCRIBE_ALARMS, findActionTargets, START_EXECUTION_SYNC, SYNC_RULE } from '../lib/plan-actions';
import { PlanError } from '../lib/plan-error';
import { asArray, fixtureConfig, fixtureStatemachines, REAL_STATEMACHINES, resourcesOfType, statementsOfRole, synth } from './helpers';

const EXAMPLE = 'storefront-actions';
const exampleAsl = () => fs.readFileSync(path.join(REAL_STATEMACHINES, `${EXAMPLE}.asl.json`), 'utf8');

function smStatements(plans: string[]): any[] {
  const s = synth(fixtureConfig({ plans }), fixtureStatemachines({ [`${EXAMPLE}.asl.json`]: exampleAsl() }), true);
  const roles = resourcesOfType(s.template, 'AWS::IAM::Role');
  const id = Object.keys(roles).find((k) => String(roles[k].Properties?.Description ?? '').includes('runs the plan state machines'));
  assert.ok(id, 'no state machine role');
  return statementsOfRole(s.template, id);
}

const bySid = (statements: any[], sid: string) => statements.find((st) => st.Sid === sid);

describe('plan actions', () => {
  it('finds every target of the example, in branches too, each once', () => {
    const t = findActionTargets(EXAMPLE, 'x.asl.json', JSON.parse(exampleAsl()));
    assert.deepEqual(t.stateMachines, ['arn:aws:states:us-east-1:000000000000:stateMachine:storefront-db-failover']);
    assert.deepEqual(t.functions, ['storefront-warm-cache']);
    assert.deepEqual(t.documents, ['storefront-configure-web']);
    assert.deepEqual(t.topics, ['arn:aws:sns:us-east-1:000000000000:storefront-recovery']);
    assert.deepEqual(t.alarms, ['storefront-app-5xx']);
    const branch = { States: { P: { Type: 'Parallel', Branches: [{ States: { A: { Type: 'Task', Resource: START_EXECUTION_SYNC, Parameters: { StateMachineArn: 'arn:aws:states:eu-west-1:111122223333:stateMachine:child' } } } }] } } };
    assert.deepEqual(findActionTargets('p', 'f', branch).stateMachines, ['arn:aws:states:eu-west-1:111122223333:stateMachine:child']);
  });

  it('refuses a target taken from the state or malformed', () => {
    const one = (params: object) => ({ States: { A: { Type: 'Task', Resource: START_EXECUTION_SYNC, Parameters: params } } });
    assert.throws(() => findActionTargets('p', 'f', one({ 'StateMachineArn.$': '$.x' })), PlanError);
    assert.throws(() => findActionTargets('p', 'f', one({ StateMachineArn: '*' })), /is not what drs-codegen writes/);
    const alarms = (names: unknown) => ({ States: { A: { Type: 'Task', Resource: DESCRIBE_ALARMS, Parameters: { AlarmNames: names } } } });
    assert.throws(() => findActionTargets('p', 'f', alarms(['app-*'])), /AlarmNames .* is not what drs-codegen writes/);
    assert.throws(() => findActionTargets('p', 'f', alarms([])), PlanError);
  });

  it('grants exactly the named targets to the state machine role', () => {
    const statements = smStatements(['alpha', EXAMPLE]);
    assert.deepEqual(asArray(bySid(statements, 'ActionChildMachines').Resource), ['arn:aws:states:us-east-1:000000000000:stateMachine:storefront-db-failover']);
    assert.deepEqual(asArray(bySid(statements, 'ActionChildMachines').Action), ['states:StartExecution']);
    assert.deepEqual(asArray(bySid(statements, 'ActionChildExecutions').Resource), ['arn:aws:states:us-east-1:000000000000:execution:storefront-db-failover:*']);
    const rule = JSON.stringify(bySid(statements, 'ActionSyncRule'));
    assert.ok(rule.includes(`rule/${SYNC_RULE}`), rule);
    assert.deepEqual(asArray(bySid(statements, 'ActionSyncRule').Action).sort(), ['events:DescribeRule', 'events:PutRule', 'events:PutTargets']);
    const lambda = JSON.stringify(bySid(statements, 'ActionLambdaInvoke').Resource);
    assert.ok(lambda.includes('function:storefront-warm-cache') && lambda.includes('function:storefront-warm-cache:*'), lambda);
    assert.deepEqual(asArray(bySid(statements, 'ActionLambdaInvoke').Action), ['lambda:InvokeFunction']);
    assert.ok(JSON.stringify(bySid(statements, 'ActionSsmStart').Resource).includes('automation-definition/storefront-configure-web:*'));
    assert.deepEqual(asArray(bySid(statements, 'ActionNotify').Resource), ['arn:aws:sns:us-east-1:000000000000:storefront-recovery']);
    const alarms = bySid(statements, 'HealthAlarms');
    assert.deepEqual(asArray(alarms.Action), ['cloudwatch:DescribeAlarms']);
    const alarmArns = JSON.stringify(alarms.Resource);
    assert.ok(alarmArns.includes(':alarm:storefront-app-5xx') && !alarmArns.includes('*'), alarmArns);
  });

  it('plans without actions grant none of it', () => {
    const statements = smStatements(['alpha', 'beta']);
    assert.equal(statements.filter((st) => /^(Action|HealthAlarms)/.test(String(st.Sid ?? ''))).length, 0);
  });
});
