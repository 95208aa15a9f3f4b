/**
 * The actions around a plan's waves (`before:` / `after:`, issue #24), as drs-codegen compiles
 * them: Task states of Step Functions' own service integrations in the machine (and in its
 * Parallel states' branches). The state machine's role gets exactly what they name: the child
 * machines (startExecution.sync:2 also needs DescribeExecution/StopExecution on their
 * executions and the managed EventBridge rule), the Lambda functions, the SSM Automation
 * documents and the SNS topics; and for the health checks (`alarm:`) the CloudWatch alarms the
 * DescribeAlarms states read.
 */
import { Aws } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { PlanError } from './plan-error';
import { SNS_TOPIC_ARN } from './plans';

export const START_EXECUTION_SYNC = 'arn:aws:states:::states:startExecution.sync:2';
export const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
export const SNS_PUBLISH = 'arn:aws:states:::sns:publish';
export const SSM_START = 'arn:aws:states:::aws-sdk:ssm:startAutomationExecution';
export const SSM_GET = 'arn:aws:states:::aws-sdk:ssm:getAutomationExecution';
export const DESCRIBE_ALARMS = 'arn:aws:states:::aws-sdk:cloudwatch:describeAlarms';

/** The rule Step Functions manages for `.sync` child executions. */
export const SYNC_RULE = 'StepFunctionsGetEventsForStepFunctionsExecutionRule';

const STATE_MACHINE_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_.-]{1,80}$/;
const FUNCTION_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?$/;
const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?$/;
const DOCUMENT_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
/** CloudWatch's AlarmName (1-255 characters), without IAM's wildcards (they would widen the grant). */
const ALARM_NAME = /^[^*?\u0000-\u001f]{1,255}$/;

export interface ActionTargets {
  readonly stateMachines: readonly string[];
  readonly functions: readonly string[];
  readonly documents: readonly string[];
  readonly topics: readonly string[];
  /** The CloudWatch alarms the health checks read (names). */
  readonly alarms: readonly string[];
}

/** Every action target of a compiled machine, each list sorted and without duplicates. */
export function findActionTargets(plan: string, file: string, asl: unknown): ActionTargets {
  const sets = {
    stateMachines: new Set<string>(),
    functions: new Set<string>(),
    documents: new Set<string>(),
    topics: new Set<string>(),
    alarms: new Set<string>(),
  };
  const at = (state: string) => `plan ${JSON.stringify(plan)}: ${file}: state ${JSON.stringify(state)}`;
  const take = (state: string, params: Record<string, unknown>, key: string, test: (v: string) => boolean, into: Set<string>) => {
    if (`${key}.$` in params) throw new PlanError(`${at(state)}: ${key}.$ takes the target from the execution's state, so the role cannot be granted on it: name it in the plan`);
    const v = params[key];
    if (typeof v !== 'string' || !test(v)) throw new PlanError(`${at(state)}: ${key} ${JSON.stringify(v)} is not what drs-codegen writes: regenerate the machine`);
    into.add(v);
  };
  const visitStates = (states: unknown): void => {
    if (typeof states !== 'object' || states === null) return;
    for (const [name, s] of Object.entries(states as Record<string, unknown>)) {
      if (typeof s !== 'object' || s === null) continue;
      const st = s as Record<string, unknown>;
      for (const b of Array.isArray(st.Branches) ? st.Branches : []) visitStates((b as Record<string, unknown>)?.States);
      if (st.Type !== 'Task') continue;
      const params = (typeof st.Parameters === 'object' && st.Parameters !== null ? st.Parameters : {}) as Record<string, unknown>;
      switch (st.Resource) {
        case START_EXECUTION_SYNC:
          take(name, params, 'StateMachineArn', (v) => STATE_MACHINE_ARN.test(v), sets.stateMachines);
          break;
        case LAMBDA_INVOKE:
          take(name, params, 'FunctionName', (v) => FUNCTION_ARN.test(v) || FUNCTION_NAME.test(v), sets.functions);
          break;
        case SNS_PUBLISH:
          take(name, params, 'TopicArn', (v) => SNS_TOPIC_ARN.test(v), sets.topics);
          break;
        case SSM_START:
          take(name, params, 'DocumentName', (v) => DOCUMENT_NAME.test(v) || v.startsWith('arn:aws'), sets.documents);
          break;
        case DESCRIBE_ALARMS: {
          const names = params.AlarmNames;
          if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === 'string' && ALARM_NAME.test(n))) {
            throw new PlanError(`${at(name)}: AlarmNames ${JSON.stringify(names)} is not what drs-codegen writes: regenerate the machine`);
          }
          for (const n of names) sets.alarms.add(n as string);
          break;
        }
        default:
      }
    }
  };
  visitStates((asl as Record<string, unknown> | null)?.States);
  const sorted = (s: Set<string>) => [...s].sort();
  return {
    stateMachines: sorted(sets.stateMachines),
    functions: sorted(sets.functions),
    documents: sorted(sets.documents),
    topics: sorted(sets.topics),
    alarms: sorted(sets.alarms),
  };
}

/** Why each wildcard in [`actionStatements`] is needed (cdk-nag IAM5), by Sid. */
export const ACTION_WILDCARD_REASONS: Readonly<Record<string, string>> = {
  ActionChildExecutions:
    'startExecution.sync:2 describes and stops the child execution it started; execution names are generated per run, so the resource is each named child machine\'s executions (execution:<machine>:*), no other machine\'s.',
  ActionLambdaInvoke: 'the named functions with any version or alias (<function>:*), as the plan may name a qualified function; no other function.',
  ActionSsmStart: 'the named Automation documents at any version (automation-definition/<document>:*); no other document.',
  ActionSsmGet: 'GetAutomationExecution reads the run StartAutomationExecution just started; its ID is known only at run time (automation-execution/*), and the action is read-only.',
};

/** The state machine role's statements for these targets (none when there are none). */
export function actionStatements(t: ActionTargets): iam.PolicyStatement[] {
  const out: iam.PolicyStatement[] = [];
  const arn = (service: string, resource: string) => `arn:${Aws.PARTITION}:${service}:${Aws.REGION}:${Aws.ACCOUNT_ID}:${resource}`;
  if (t.stateMachines.length > 0) {
    out.push(new iam.PolicyStatement({ sid: 'ActionChildMachines', actions: ['states:StartExecution'], resources: [...t.stateMachines] }));
    out.push(
      new iam.PolicyStatement({
        sid: 'ActionChildExecutions',
        actions: ['states:DescribeExecution', 'states:StopExecution'],
        resources: t.stateMachines.map((m) => `${m.replace(':stateMachine:', ':execution:')}:*`),
      }),
    );
    out.push(
      new iam.PolicyStatement({
        sid: 'ActionSyncRule',
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [arn('events', `rule/${SYNC_RULE}`)],
      }),
    );
  }
  if (t.functions.length > 0) {
    const fns = t.functions.map((f) => (f.startsWith('arn:') ? f : arn('lambda', `function:${f}`)));
    out.push(new iam.PolicyStatement({ sid: 'ActionLambdaInvoke', actions: ['lambda:InvokeFunction'], resources: fns.flatMap((f) => [f, `${f}:*`]) }));
  }
  if (t.documents.length > 0) {
    const docs = t.documents.map((d) => (d.startsWith('arn:') ? d.replace(':document/', ':automation-definition/') : arn('ssm', `automation-definition/${d}`)));
    out.push(new iam.PolicyStatement({ sid: 'ActionSsmStart', actions: ['ssm:StartAutomationExecution'], resources: docs.map((d) => `${d}:*`) }));
    out.push(new iam.PolicyStatement({ sid: 'ActionSsmGet', actions: ['ssm:GetAutomationExecution'], resources: [arn('ssm', 'automation-execution/*')] }));
  }
  if (t.topics.length > 0) {
    out.push(new iam.PolicyStatement({ sid: 'ActionNotify', actions: ['sns:Publish'], resources: [...t.topics] }));
  }
  if (t.alarms.length > 0) {
    // Metric alarms only: DescribeAlarms returns composite alarms only to a caller allowed on
    // * (CloudWatch API reference, DescribeAlarms), which this role never is.
    out.push(
      new iam.PolicyStatement({ sid: 'HealthAlarms', actions: ['cloudwatch:DescribeAlarms'], resources: t.alarms.map((a) => arn('cloudwatch', `alarm:${a}`)) }),
    );
  }
  return out;
}

/** The union of several plans' targets. */
export function mergeActionTargets(all: readonly ActionTargets[]): ActionTargets {
  const u = (pick: (t: ActionTargets) => readonly string[]) => [...new Set(all.flatMap(pick))].sort();
  return {
    stateMachines: u((t) => t.stateMachines),
    functions: u((t) => t.functions),
    documents: u((t) => t.documents),
    topics: u((t) => t.topics),
    alarms: u((t) => t.alarms),
  };
}
