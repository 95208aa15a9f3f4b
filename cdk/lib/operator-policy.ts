/**
 * The operator's IAM statements: what the `drs-waves` CLI (cli/) calls, on this deployment's
 * resources only. They become one customer managed policy (`OperatorPolicyArn` output), which
 * config.json's `operators` attaches to existing roles and groups.
 *
 * What the CLI calls, read from cli/src (aws.rs, resolve.rs, commands.rs, follow.rs, gate.rs),
 * the reads it shares with the worker (aws/src: sfn.rs, SdkDrs in drs/) and the history crate
 * it uses (history/src: get_execution,
 * answer_gate, request_cancel, recent_executions):
 * - Step Functions: ListStateMachines (`plans`, finding a plan by name), DescribeStateMachine
 *   (`start`: the plan in the definition, for its preview), ListExecutions (`plans`, `status`,
 *   `PLAN:latest`, an execution named by its name), StartExecution (`start`),
 *   DescribeExecution and GetExecutionHistory (`follow`, `status`, every command naming an
 *   execution), SendTaskSuccess and SendTaskFailure (`approve`, `decide`, `stop`, and `cancel`
 *   answering a pending gate). The CLI never calls StopExecution (a cancel is a request in the
 *   history that the execution's next task acts on), but the policy grants it all the same, for
 *   the console or the AWS CLI (OPERATOR_CONSOLE_ACTIONS below).
 * - StopExecution, on this deployment's executions only: the way out when a gate cannot be
 *   answered. A cancel waits for the next start or check task, and a gate is answered only with
 *   its recorded token through the history's conditional write, so an execution stuck at a gate
 *   whose token is lost, whose record will not take the write, or whose deadline is far off
 *   (with no worker running to fail it) has no other end than its own timeout. Stopping it ends
 *   it at once (no Catch runs); the janitor of every worker then records the end, releases the
 *   plan's run lock and cleans up a drill as its plan says, and the ABORTED notification names
 *   the execution. Without it an operator holding only this policy could not stop the execution
 *   from the console either.
 * - DynamoDB, the history table: GetItem (the EXECUTION item), UpdateItem (the conditional
 *   writes that answer a gate or request a cancel, appending the operator action), Query on the
 *   plan index (`history`) and, for `report`, on the table. No PutItem, DeleteItem or Scan.
 *   (Not narrowed to the EXECUTION items with dynamodb:LeadingKeys: the key layout, `EXEC#...`,
 *   is the worker's, not the contract's, and a change of it would break `approve` on the day
 *   it is needed, unseen by any test here.)
 * - DRS: DescribeJobs (`follow`, the launch progress of a wave's jobs; `decide retry`, whether
 *   anything is left to launch again).
 * - `report` (and the drs-waves-report binary): the report library gathers its facts with
 *   report/src/gather.rs (SdkEvidenceApis and the history seam): DescribeExecution and
 *   DescribeStateMachineForExecution (the targets compiled into the machine that ran); DRS
 *   DescribeJobs, DescribeJobLogItems (why a server failed), DescribeRecoveryInstances and
 *   DescribeSourceServers (hostnames), all reads; GetItem of the execution, wave, server and health
 *   items, Query of the execution's items (its jobs) on the table and of the plan index (the
 *   RTO forecast from past executions). Nothing of the report bucket: the CLI writes the report
 *   to a local directory.
 * - STS GetCallerIdentity (who every operator action is recorded as): IAM needs no permission
 *   for it (STS documentation: "No permissions are required to perform this operation", and
 *   even an explicit deny does not stop it), so no statement.
 *
 * Sources for the resource types, as in worker-policy.ts: the Service Authorization Reference
 * (SAR) for Step Functions lists ListStateMachines without a resource type; DescribeStateMachine,
 * ListExecutions and StartExecution take the stateMachine; DescribeExecution and
 * GetExecutionHistory the execution; SendTaskSuccess and SendTaskFailure no resource type (the
 * task token names the task) and no condition key of their own; DescribeStateMachineForExecution
 * takes the execution. SAR for DRS: DescribeJobs, DescribeRecoveryInstances and
 * DescribeSourceServers have no resource type, DescribeJobLogItems takes the job. SAR for DynamoDB: GetItem and UpdateItem take the table, Query the table or an
 * index.
 *
 * A new CLI call needs its statement here; a missing one shows as the CLI's one-line
 * "AccessDenied: <action>" error.
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';

export interface OperatorPolicyProps {
  /** ARNs of this deployment's state machines (one per plan). */
  readonly stateMachineArns: readonly string[];
  /** Their names, for the executions' ARNs (execution:<name>:*). */
  readonly stateMachineNames: readonly string[];
  readonly tableArn: string;
  /** The history table's indexes (the CLI queries the plan index; both are granted alike). */
  readonly indexNames: readonly string[];
}

/**
 * Actions granted for the console (or the AWS CLI) rather than for the drs-waves CLI, which never
 * calls them; test/operator.test.ts allows exactly these beyond the CLI's own calls.
 */
export const OPERATOR_CONSOLE_ACTIONS = ['states:StopExecution'];

/** What the CLI does to the history table (the history crate, through the CLI). */
export const OPERATOR_DYNAMODB_ITEM_ACTIONS = ['dynamodb:GetItem', 'dynamodb:UpdateItem'];

/**
 * Why each operator statement that names a wildcard resource needs it. The IAM5 findings of
 * the operator policy are acknowledged from this table (nag.ts), so a new wildcard without a
 * reason fails synth.
 */
export const OPERATOR_WILDCARD_REASONS: Readonly<Record<string, string>> = {
  ListPlans:
    'states:ListStateMachines has no resource type in the Service Authorization Reference, so IAM accepts only "*"; it lists names and ARNs (the CLI keeps the <prefix>-<plan> machines) and reads nothing else.',
  FollowExecutions:
    'states:DescribeExecution and GetExecutionHistory take an execution ARN, and executions are named at start time; only executions of this deployment\'s own state machines (execution:<name>:*), read by follow, status and every command that names an execution.',
  AnswerGates:
    'states:SendTaskSuccess/SendTaskFailure have no resource type in the Service Authorization Reference (the task token identifies the task), so IAM accepts only "*"; the CLI sends them only with a gate token it first cleared in the history table with a conditional write.',
  FollowDrsJobs:
    'drs:DescribeJobs has no resource type in the Service Authorization Reference, so IAM accepts only "*"; read-only, the launch progress that drs-waves follow shows.',
  ReportDrsReads:
    'drs:DescribeRecoveryInstances and DescribeSourceServers have no resource type in the Service Authorization Reference, so IAM accepts only "*"; read-only, for drs-waves report (which instances a drill left, the servers\' hostnames).',
  StartRecoveryPoints:
    'drs:DescribeRecoverySnapshots takes a source server, and a plan\'s servers are resolved at run time (tags): any source server of this account and region, read-only, for drs-waves start\'s check of the launch points against the plan\'s rpoMinutes before a RECOVERY is confirmed.',
  ReportDrsJobLog:
    'drs:DescribeJobLogItems takes a job ARN, and job IDs exist only once a wave has launched: every job of this account and region, read-only, for why a server failed to launch in drs-waves report.',
  StopStuckExecutions:
    'states:StopExecution takes an execution ARN, named at start time; only executions of this deployment\'s own state machines (execution:<name>:*): an operator stops an execution waiting at a gate that cannot be answered (lost token, refused history write), from the console; the janitor then records the end, releases the run lock and cleans up a drill.',
  ReportMachineOfExecution:
    'states:DescribeStateMachineForExecution takes an execution ARN, named at start time; only executions of this deployment\'s own state machines (execution:<name>:*), read by drs-waves report for the targets compiled into the machine that ran.',
};

export function operatorStatements(stack: Stack, props: OperatorPolicyProps): iam.PolicyStatement[] {
  const ownExecutions = props.stateMachineNames.map((name) =>
    stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${name}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
  );
  const statements: iam.PolicyStatement[] = [
    new iam.PolicyStatement({
      sid: 'ListPlans',
      actions: ['states:ListStateMachines'],
      resources: ['*'],
    }),
    new iam.PolicyStatement({
      sid: 'AnswerGates',
      actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
      resources: ['*'],
    }),
    new iam.PolicyStatement({
      sid: 'HistoryItems',
      actions: OPERATOR_DYNAMODB_ITEM_ACTIONS,
      resources: [props.tableArn],
    }),
    new iam.PolicyStatement({
      sid: 'HistoryQueries',
      actions: ['dynamodb:Query'],
      resources: [props.tableArn, ...props.indexNames.map((i) => `${props.tableArn}/index/${i}`)],
    }),
    new iam.PolicyStatement({
      sid: 'FollowDrsJobs',
      actions: ['drs:DescribeJobs'],
      resources: ['*'],
    }),
    new iam.PolicyStatement({
      sid: 'ReportDrsReads',
      actions: ['drs:DescribeRecoveryInstances', 'drs:DescribeSourceServers'],
      resources: ['*'],
    }),
    new iam.PolicyStatement({
      sid: 'StartRecoveryPoints',
      actions: ['drs:DescribeRecoverySnapshots'],
      resources: [stack.formatArn({ service: 'drs', resource: 'source-server', resourceName: '*', arnFormat: ArnFormat.SLASH_RESOURCE_NAME })],
    }),
    new iam.PolicyStatement({
      sid: 'ReportDrsJobLog',
      actions: ['drs:DescribeJobLogItems'],
      resources: [stack.formatArn({ service: 'drs', resource: 'job', resourceName: '*', arnFormat: ArnFormat.SLASH_RESOURCE_NAME })],
    }),
  ];
  // With no plan deployed there is no machine to name (and a statement without resources is
  // invalid): the plan statements come only with plans.
  if (props.stateMachineArns.length > 0) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'ReadAndStartPlans',
        actions: ['states:DescribeStateMachine', 'states:ListExecutions', 'states:StartExecution'],
        resources: [...props.stateMachineArns],
      }),
      new iam.PolicyStatement({
        sid: 'FollowExecutions',
        actions: ['states:DescribeExecution', 'states:GetExecutionHistory'],
        resources: ownExecutions,
      }),
      // Not a call of the drs-waves CLI: the console's Stop execution, for a gate that cannot
      // be answered (see the header). Executions of the deployed plans' machines only.
      new iam.PolicyStatement({
        sid: 'StopStuckExecutions',
        actions: OPERATOR_CONSOLE_ACTIONS,
        resources: ownExecutions,
      }),
      new iam.PolicyStatement({
        sid: 'ReportMachineOfExecution',
        actions: ['states:DescribeStateMachineForExecution'],
        resources: ownExecutions,
      }),
    );
  }
  return statements;
}
