/**
 * The drs-waves deployment: history table, activities, one state machine per plan, the worker
 * on ECS Fargate, drill schedules, alarms and a dashboard.
 *
 * Everything the worker and the state machines must agree on (activity names and placeholders,
 * table keys, job tags) comes from the contract file; everything an operator chooses comes from
 * the configuration. This file only wires them together.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Annotations, ArnFormat, Aws, CfnOutput, Duration, IgnoreMode, RemovalPolicy, Size, Stack, StackProps, Tags, Validations } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as snsSubs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { DrsWavesConfig, EndpointName, ENDPOINT_NAMES, ENDPOINTS } from './config';
import { Contract, OPERATOR_ACTIVITY } from './contract';
import { PlanDefinition } from './plans';
import { acknowledgeWildcardResources } from './nag';
import { ACTION_WILDCARD_REASONS, actionStatements, mergeActionTargets } from './plan-actions';
import { OPERATOR_WILDCARD_REASONS, operatorStatements } from './operator-policy';
import { assumedRoleArns, ownCredentialRegions } from './wave-accounts';
import { WORKER_WILDCARD_REASONS, workerStatements } from './worker-policy';

/** What a scheduled drill passes to StartExecution (contract: ExecutionInput, DRILL). */
export const DRILL_INPUT = JSON.stringify({ mode: 'DRILL' });

/** Graceful shutdown takes up to 100 s (the worker's contract); Fargate allows at most 120 s. */
export const WORKER_STOP_TIMEOUT_SECONDS = 120;

/**
 * The top-level folders of the Cargo workspace's members (`members = [...]` in Cargo.toml):
 * `tests/drs-sim` gives `tests`. The worker image's build needs every member's manifest.
 */
export function workspaceMemberRoots(repoRoot: string): string[] {
  const manifest = fs.readFileSync(path.join(repoRoot, 'Cargo.toml'), 'utf8');
  const m = /^\s*members\s*=\s*\[([^\]]*)\]/m.exec(manifest);
  if (!m) throw new Error(`${path.join(repoRoot, 'Cargo.toml')}: no [workspace] members list`);
  const members = [...m[1].matchAll(/"([^"]+)"/g)].map((x) => x[1]);
  return [...new Set(members.map((p) => p.split('/')[0]))].sort();
}

/**
 * The worker image's build context is the repository root, of which only the Cargo workspace
 * is needed: everything else is left out by a whitelist, so new top-level directories (venvs,
 * caches) never slow down synth or land in the image. The whitelist follows the workspace's
 * members; the root .dockerignore holds the same list for a plain `docker build` (a test keeps
 * the two equal), and CDK merges both.
 */
export function dockerContextExcludes(repoRoot: string): string[] {
  return [
    '*',
    '!Cargo.toml',
    '!Cargo.lock',
    ...workspaceMemberRoots(repoRoot).map((r) => `!${r}`),
    '**/target',
    '**/node_modules',
    '**/.venv*',
  ];
}

/**
 * The worker is expected to log one JSON line per finished wave (tracing-subscriber's JSON
 * layout with flattened fields, as `DRS_WAVES_LOG_FORMAT=json` gives):
 * `{"message":"wave finished","plan":"billing","wave":"db","status":"SUCCEEDED","duration_seconds":742,...}`.
 * This metric filter turns it into the WaveDurationSeconds metric of the dashboard.
 */
export const WAVE_FINISHED_LOG = {
  message: 'wave finished',
  filterPattern: '{ ($.message = "wave finished") && ($.duration_seconds >= 0) }',
  valueField: '$.duration_seconds',
  dimensions: { Plan: '$.plan', Wave: '$.wave' },
  namespace: 'DrsWaves',
  metricName: 'WaveDurationSeconds',
} as const;

/**
 * Metrics the worker's finish task emits as CloudWatch embedded-metric-format log lines on its
 * log group (CloudWatch Logs extracts them; no agent needed). Each is a Count of 1 per
 * execution, with the dimension set [Plan, Mode]. Change both sides together.
 */
export const FINISH_METRICS = {
  namespace: 'DrsWaves',
  modes: ['DRILL', 'RECOVERY'],
  /** Ended SUCCEEDED_WITH_FAILURES, or SUCCEEDED with failed optional servers. */
  succeededWithFailures: 'ExecutionsSucceededWithFailures',
  /** A drill's clean-up could not finish and is left PENDING. */
  cleanupPending: 'CleanupPending',
} as const;

/**
 * The worker container's health check. The start period covers the first long poll (up to
 * 60 s); three failures 30 s apart mark the task unhealthy and ECS replaces it.
 */
export const WORKER_HEALTH_CHECK: ecs.HealthCheck = {
  command: ['CMD', '/usr/local/bin/drs-worker', 'health'],
  interval: Duration.seconds(30),
  timeout: Duration.seconds(5),
  retries: 3,
  startPeriod: Duration.seconds(60),
};

/**
 * The alarm on activity tasks that no worker takes, one per activity.
 *
 * On AWS such a task produces neither ActivitiesTimedOut (its TimeoutSeconds counts from when a
 * worker takes it) nor an ActivityScheduleTime data point (written when it is taken); only
 * ActivitiesScheduled and ActivitiesStarted count. The alarm takes, per 10-minute window, the
 * tasks scheduled minus the tasks started (missing data as 0: no data point means no task), and
 * fires at 1 or more. A stuck task is in the window it was scheduled in, so the alarm fires
 * within the window plus CloudWatch's metric delay: under 15 minutes.
 *
 * Why this and not something else:
 * - "Nothing started although something was scheduled" (IF(started == 0, ...)) would miss a
 *   task left behind in a window where others were started (a worker that died right after
 *   taking them), which the difference catches.
 * - A window per datapoint has no memory: a task stuck for an hour counts only in its first
 *   window. That is enough to raise the alarm once, which is what is needed; a sliding or
 *   running sum (RUNNING_SUM over the evaluation range) depends on how CloudWatch bounds the
 *   range it evaluates, which cannot be checked here.
 * - The cost is a task scheduled at the very end of a window and started just after it, which
 *   counts once as not started. With polls open and waiting that gap is milliseconds, so it is
 *   rare, and the description tells the reader how to recognise it.
 * - Not a metric the worker emits: the failure to catch is "no worker is taking tasks" (none
 *   running, none polling this activity, all wedged), exactly when no worker emits anything.
 *   Step Functions counts scheduled and started tasks itself, whatever the workers do.
 */
export const ACTIVITY_TASKS_NOT_STARTED = {
  alarmIdPrefix: 'ActivityTasksNotStarted',
  window: Duration.minutes(10),
  expression: 'FILL(scheduled, 0) - FILL(started, 0)',
} as const;

/**
 * The synth warning for a worker whose subnets are all in one availability zone, naming the
 * setting that makes it so; undefined when the subnets span two or more AZs or no worker runs.
 */
export function singleAzWarning(config: DrsWavesConfig, workerSubnetAzs: readonly string[]): string | undefined {
  const azs = [...new Set(workerSubnetAzs)];
  if (config.worker.desiredCount === 0 || azs.length >= 2) return undefined;
  const net = config.network;
  const setting = net.vpcId
    ? `network.privateSubnetIds (${net.privateSubnetIds?.length ?? 0} subnet(s), network.availabilityZones ${JSON.stringify(azs)})`
    : net.availabilityZones
      ? `network.availabilityZones (${JSON.stringify(net.availabilityZones)})`
      : `network.maxAzs (${net.maxAzs})`;
  const tasks = config.worker.desiredCount === 1 ? 'the worker task runs' : `all ${config.worker.desiredCount} worker tasks run`;
  return (
    `drs-waves: single-AZ worker: ${setting} puts the worker subnets in one availability zone (${azs.join(', ') || 'unknown'}), so ${tasks} there ` +
    'and an outage of that AZ stalls every running execution, a recovery included, until it is over. Give the worker subnets in at least two AZs ' +
    '(network.maxAzs >= 2 for a new VPC, privateSubnetIds in two AZs for an existing one).'
  );
}

/** Construct ID prefix of the singleton function behind every AwsCustomResource of a stack. */
const AWS_CUSTOM_RESOURCE_ID_PREFIX = 'AWS679f53fac002430cb0da5b7982bd2287';

/** Execution statuses that notify the alarm topic: the last two never reach Record failure. */
export const NOTIFIED_EXECUTION_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;

/**
 * The worker settings config.json may set, as the worker's environment variables. Unset ones
 * are left out, so the worker's own defaults (worker/README.md) apply and are stated once.
 */
export function workerSettingsEnvironment(config: DrsWavesConfig): Record<string, string> {
  const settings: Record<string, string | number | undefined> = {
    DRS_WAVES_MAX_SERVERS_PER_JOB: config.drs.maxServersPerJob,
    DRS_WAVES_MAX_ACTIVE_SERVERS: config.drs.maxActiveServers,
    DRS_WAVES_MAX_CONCURRENT_JOBS: config.drs.maxConcurrentJobs,
    DRS_WAVES_JANITOR_INTERVAL_SECONDS: config.worker.janitorIntervalSeconds,
    RUST_LOG: config.worker.logLevel,
  };
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(settings)) if (v !== undefined) env[k] = String(v);
  return env;
}

export interface DrsWavesStackProps extends StackProps {
  readonly config: DrsWavesConfig;
  readonly contract: Contract;
  /** The plans to deploy, already checked (placeholders known). */
  readonly plans: readonly PlanDefinition[];
  /** Repository root: the worker image's Docker build context. */
  readonly repoRoot: string;
}

export class DrsWavesStack extends Stack {
  readonly table: dynamodb.Table;
  readonly activities: Readonly<Record<string, sfn.Activity>>;
  readonly stateMachines: Readonly<Record<string, sfn.CfnStateMachine>>;
  readonly workerService: ecs.FargateService;
  readonly workerTaskRole: iam.IRole;
  readonly workerPolicy: iam.Policy;
  /** What the drs-waves CLI needs on this deployment (output OperatorPolicyArn). */
  readonly operatorPolicy: iam.ManagedPolicy;
  /** Where the worker writes execution reports: the bucket the stack creates, if it does. */
  readonly reportBucket?: s3.Bucket;
  readonly alarmTopic: sns.Topic;

  constructor(scope: Construct, id: string, props: DrsWavesStackProps) {
    super(scope, id, props);
    const { config, contract, plans } = props;
    const prefix = config.namePrefix ?? contract.activityPrefix;

    // Dashboards are left out: cfn-lint's resource schemas do not accept Tags on them yet.
    for (const [k, v] of Object.entries(config.tags)) Tags.of(this).add(k, v, { excludeResourceTypes: ['AWS::CloudWatch::Dashboard'] });

    // ---- History table -------------------------------------------------------------------
    const ht = contract.historyTable;
    this.table = new dynamodb.Table(this, 'HistoryTable', {
      tableName: config.historyTableName ?? ht.defaultName,
      partitionKey: { name: ht.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: ht.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      // AWS managed key: encrypted at rest with the key visible and audited in this account,
      // and the worker needs no kms:* permission. The records hold plan, wave and job IDs,
      // nothing that calls for a key policy of our own.
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Set last, by HistoryTableDeletionProtection below: see there.
      deletionProtection: false,
      // The history outlives the stack: deleting the stack must not delete the audit trail. Not
      // plain RETAIN: the table has a fixed name (the worker and CLI default to it), and a first
      // deploy that rolls back would leave it behind, so that every later deploy failed with
      // "already exists". RETAIN_ON_UPDATE_OR_DELETE deletes it only when its own creation is
      // rolled back, when it cannot hold any history yet.
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
    for (const index of ht.indexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: index.sortKey, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }

    // ---- Activities (one per task kind, shared by all plans) ------------------------------
    const activities: Record<string, sfn.Activity> = {};
    const substitutions: Record<string, string> = {};
    for (const a of contract.activities) {
      const activity = new sfn.Activity(this, `Activity-${a.name}`, { activityName: `${prefix}-${a.name}` });
      activities[a.name] = activity;
      substitutions[a.placeholder] = activity.activityArn;
    }
    this.activities = activities;

    // ---- Alarm topic ------------------------------------------------------------------------
    // CloudWatch publishes alarm notifications as the service principal, and only this
    // account's alarms may: the confused-deputy conditions AWS documents for alarm actions.
    const cloudWatchAlarms = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    const onlyThisAccountsAlarms = {
      StringEquals: { 'aws:SourceAccount': this.account },
      ArnLike: { 'aws:SourceArn': this.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
    };
    // A key of our own: CloudWatch alarms cannot publish to a topic encrypted with the AWS
    // managed SNS key, whose policy does not let cloudwatch.amazonaws.com use it.
    const alarmKey = new kms.Key(this, 'AlarmTopicKey', {
      description: `${prefix}: encrypts the alarm notification topic`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    // Publishing to an encrypted topic needs a data key from the topic's key, in the
    // publisher's name: so CloudWatch needs the key too, scoped like the topic statement below.
    alarmKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsEncryptNotifications',
        principals: [cloudWatchAlarms],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: onlyThisAccountsAlarms,
      }),
    );
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `${prefix} alarms`,
      masterKey: alarmKey,
      enforceSSL: true,
    });
    // enforceSSL gives the topic a policy (its TLS deny), and a topic policy replaces SNS's
    // default one: without this statement no alarm could publish ("no resource-based policy
    // allows the SNS:Publish action"). EventBridge needs none: it publishes with a role of its
    // own (ExecutionNotificationRole below), which an identity policy allows.
    this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [cloudWatchAlarms],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: onlyThisAccountsAlarms,
      }),
    );
    if (config.alarmEmail) {
      this.alarmTopic.addSubscription(new snsSubs.EmailSubscription(config.alarmEmail));
    }
    const alarmAction = new cwActions.SnsAction(this.alarmTopic);

    // ---- State machines -------------------------------------------------------------------
    const smRole = new iam.Role(this, 'StateMachineRole', {
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description: `${prefix}: runs the plan state machines (logs and X-Ray only; activity tasks need no IAM)`,
    });
    const smPolicy = new iam.Policy(this, 'StateMachinePolicy', {
      roles: [smRole],
      statements: [
        // CloudWatch Logs vended log delivery and X-Ray take no resource ARNs (SAR: no
        // resource types), so these are `*` by necessity.
        new iam.PolicyStatement({
          sid: 'DeliverExecutionLogs',
          actions: [
            'logs:CreateLogDelivery',
            'logs:GetLogDelivery',
            'logs:UpdateLogDelivery',
            'logs:DeleteLogDelivery',
            'logs:ListLogDeliveries',
            'logs:PutResourcePolicy',
            'logs:DescribeResourcePolicies',
            'logs:DescribeLogGroups',
          ],
          resources: ['*'],
        }),
        new iam.PolicyStatement({
          sid: 'XRayTracing',
          actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets'],
          resources: ['*'],
        }),
      ],
    });
    Validations.of(smPolicy).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Step Functions log delivery (logs:*LogDelivery, PutResourcePolicy, Describe*) and X-Ray ' +
          'segment/sampling actions have no resource types in the Service Authorization Reference, so IAM accepts only "*" for them.',
      },
    );

    // The plans' actions (before/after a wave): exactly the child machines, functions,
    // Automation documents and topics the deployed machines name (plan-actions.ts).
    const actionGrants = actionStatements(mergeActionTargets(plans.map((p) => p.actionTargets)));
    if (actionGrants.length > 0) {
      smPolicy.addStatements(...actionGrants);
      acknowledgeWildcardResources(smPolicy, actionGrants, ACTION_WILDCARD_REASONS);
    }

    // ---- Dead letters -----------------------------------------------------------------------
    // What EventBridge (execution notifications) and EventBridge Scheduler (drill starts) could
    // not deliver after their retries lands here; a message here raises an alarm.
    const deadLetters = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(deadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter queue of the drill schedules and the execution notification rules; ' +
        'a dead-letter queue behind it would only move the same undeliverable events once more. Its depth is alarmed.',
    });
    const alarm = (id: string, props: cw.AlarmProps, ok = false): cw.Alarm => {
      const a = new cw.Alarm(this, id, { treatMissingData: cw.TreatMissingData.NOT_BREACHING, ...props });
      a.addAlarmAction(alarmAction);
      if (ok) a.addOkAction(alarmAction);
      return a;
    };
    alarm('DeadLettersWaiting', {
      alarmDescription:
        'drs-waves: an execution notification or a scheduled drill start could not be delivered and is in the dead-letter queue. ' +
        'Read the message (its attributes name the error), then purge it.',
      metric: deadLetters.metricApproximateNumberOfMessagesVisible({ statistic: cw.Stats.MAXIMUM, period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });

    // EventBridge publishes the execution notifications with this role (not through the topic
    // policy), so the topic and its key trust no service principal for them.
    const notifyRole = new iam.Role(this, 'ExecutionNotificationRole', {
      assumedBy: new iam.ServicePrincipal('events.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description: `${prefix}: EventBridge publishes failed, timed-out and aborted executions to the alarm topic`,
    });
    Validations.of(notifyRole).acknowledge({
      id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      reason:
        'Publishing to a KMS-encrypted SNS topic needs a data key: GenerateDataKey* (the CDK grant for topic publishers) on the alarm topic\'s own key only, no other key.',
    });

    const stateMachines: Record<string, sfn.CfnStateMachine> = {};
    const stateMachineNames: string[] = [];
    const dashboardRows: cw.IWidget[][] = [];
    for (const plan of plans) {
      const smName = `${prefix}-${plan.name}`;
      stateMachineNames.push(smName);
      const logGroup = new logs.LogGroup(this, `StateMachineLogs-${plan.name}`, {
        // The /aws/vendedlogs/ prefix keeps log delivery from growing the account's CloudWatch
        // Logs resource policy with every state machine.
        logGroupName: `/aws/vendedlogs/states/${smName}`,
        retention: config.stateMachineLogging.retentionDays as logs.RetentionDays,
        // Fixed name, so not plain RETAIN (see the history table): kept on stack deletion,
        // removed when a first deploy rolls back.
        removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
      });
      const used: Record<string, string> = {};
      for (const p of plan.placeholders) used[p] = substitutions[p];
      // The definition goes to the CDK asset bucket and CloudFormation reads it from there
      // (with the deploy role; the state machine's role needs no S3 access): inlined, about four
      // fleet-size plans would pass CloudFormation's 1 MB template limit.
      const definition = new s3assets.Asset(this, `Definition-${plan.name}`, { path: plan.file });
      const sm = new sfn.CfnStateMachine(this, `StateMachine-${plan.name}`, {
        stateMachineName: smName,
        stateMachineType: 'STANDARD',
        roleArn: smRole.roleArn,
        definitionS3Location: { bucket: definition.s3BucketName, key: definition.s3ObjectKey },
        definitionSubstitutions: used,
        loggingConfiguration: {
          level: config.stateMachineLogging.level,
          includeExecutionData: config.stateMachineLogging.includeExecutionData,
          destinations: [{ cloudWatchLogsLogGroup: { logGroupArn: logGroup.logGroupArn } }],
        },
        tracingConfiguration: { enabled: true },
      });
      // CreateStateMachine checks that the role may deliver logs: the policy must exist first.
      sm.node.addDependency(smPolicy);
      if (config.stateMachineLogging.level !== 'ALL') {
        Validations.of(sm).acknowledge({
          id: 'AwsSolutions-SF1',
          reason: `stateMachineLogging.level is ${config.stateMachineLogging.level} in the deployment configuration: the operator chose to log errors only.`,
        });
      }
      stateMachines[plan.name] = sm;

      const metric = (metricName: string, statistic = cw.Stats.SUM) =>
        new cw.Metric({ namespace: 'AWS/States', metricName, dimensionsMap: { StateMachineArn: sm.attrArn }, statistic, period: Duration.minutes(5) });
      for (const [metricName, what] of [
        ['ExecutionsFailed', 'failed'],
        ['ExecutionsTimedOut', 'timed out'],
        ['ExecutionsAborted', 'was aborted'],
      ] as const) {
        alarm(`${metricName}-${plan.name}`, {
          alarmDescription: `drs-waves plan ${plan.name}: an execution ${what}. Open the execution in the Step Functions console; the history table has per-wave detail.`,
          metric: metric(metricName),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        });
      }

      // Metrics of the finish task (embedded metric format on the worker's log group), both
      // modes summed: a drill that "succeeded" with failed optional servers, and a drill whose
      // clean-up is left pending, deserve a look as much as a failed execution.
      for (const [metricName, what] of [
        [FINISH_METRICS.succeededWithFailures, 'SUCCEEDED with failed optional servers or waves (SUCCEEDED_WITH_FAILURES): the plan is not as healthy as its status'],
        [FINISH_METRICS.cleanupPending, "left its drill clean-up PENDING: recovery instances may still run (and cost). Check the history table's clean-up record"],
      ] as const) {
        const usingMetrics: Record<string, cw.IMetric> = {};
        for (const mode of FINISH_METRICS.modes) {
          usingMetrics[mode.toLowerCase()] = new cw.Metric({
            namespace: FINISH_METRICS.namespace,
            metricName,
            dimensionsMap: { Plan: plan.name, Mode: mode },
            statistic: cw.Stats.SUM,
            period: Duration.minutes(5),
          });
        }
        alarm(`${metricName}-${plan.name}`, {
          alarmDescription: `drs-waves plan ${plan.name}: an execution ${what}.`,
          metric: new cw.MathExpression({ expression: `SUM([${Object.keys(usingMetrics).join(', ')}])`, usingMetrics, period: Duration.minutes(5), label: metricName }),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        });
      }

      // StopExecution and the machine's own timeout end an execution without running any
      // Catch, so Record failure never sees them: EventBridge tells the alarm topic instead,
      // once per execution and with its name (the AWS/States alarms above only count).
      const ended = new events.Rule(this, `ExecutionEnded-${plan.name}`, {
        description: `drs-waves plan ${plan.name}: an execution ended ${NOTIFIED_EXECUTION_STATUSES.join(', ')}`,
        eventPattern: {
          source: ['aws.states'],
          detailType: ['Step Functions Execution Status Change'],
          detail: { stateMachineArn: [sm.attrArn], status: [...NOTIFIED_EXECUTION_STATUSES] },
        },
      });
      const field = (p: string) => events.EventField.fromPath(p);
      ended.addTarget(
        new eventTargets.SnsTopic(this.alarmTopic, {
          role: notifyRole,
          deadLetterQueue: deadLetters,
          maxEventAge: Duration.hours(6),
          message: events.RuleTargetInput.fromText(
            // detail.startDate/stopDate are epoch milliseconds; the event's own time reads better.
            `drs-waves plan ${plan.name}: execution ${field('$.detail.name')} ended ${field('$.detail.status')} at ${field('$.time')}. ` +
              'TIMED_OUT and ABORTED executions never reach Record failure: the worker\'s janitor releases the plan\'s run lock ' +
              'and cleans up a drill; check the history table. Execution: ' +
              `https://${Aws.REGION}.console.aws.amazon.com/states/home?region=${Aws.REGION}#/v2/executions/details/${field('$.detail.executionArn')}`,
          ),
        }),
      );

      const waveDuration = new cw.MathExpression({
        expression: `SEARCH('{${WAVE_FINISHED_LOG.namespace},Plan,Wave} MetricName="${WAVE_FINISHED_LOG.metricName}" Plan="${plan.name}"', 'Maximum', 3600)`,
        label: '',
        period: Duration.hours(1),
      });
      dashboardRows.push([
        new cw.GraphWidget({
          title: `${plan.name}: executions`,
          width: 8,
          left: ['ExecutionsStarted', 'ExecutionsSucceeded', 'ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted'].map((m) =>
            metric(m).with({ period: Duration.hours(1), label: m.replace('Executions', '') }),
          ),
        }),
        new cw.GraphWidget({
          title: `${plan.name}: execution time (ms)`,
          width: 8,
          left: [metric('ExecutionTime', cw.Stats.AVERAGE).with({ period: Duration.hours(1), label: 'average' }), metric('ExecutionTime', cw.Stats.MAXIMUM).with({ period: Duration.hours(1), label: 'max' })],
        }),
        new cw.GraphWidget({ title: `${plan.name}: wave durations (s)`, width: 8, left: [waveDuration] }),
      ]);
    }
    this.stateMachines = stateMachines;

    // ---- Scheduled drills -------------------------------------------------------------------
    const scheduled = Object.entries(config.schedules);
    if (scheduled.length > 0) {
      // A group of our own, so that EventBridge Scheduler's metrics (per schedule group) are
      // this deployment's drills only.
      const group = new scheduler.CfnScheduleGroup(this, 'DrillScheduleGroup', { name: `${prefix}-drills` });
      const schedulerRole = new iam.Role(this, 'DrillSchedulerRole', {
        assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
          conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
        }),
        description: `${prefix}: EventBridge Scheduler starts scheduled drills`,
      });
      new iam.Policy(this, 'DrillSchedulerPolicy', {
        roles: [schedulerRole],
        statements: [
          new iam.PolicyStatement({
            sid: 'StartScheduledDrills',
            actions: ['states:StartExecution'],
            resources: scheduled.map(([plan]) => stateMachines[plan].attrArn),
          }),
          // Scheduler writes a start it gave up on to the dead-letter queue with this role.
          new iam.PolicyStatement({
            sid: 'DeadLetterUndeliveredStarts',
            actions: ['sqs:SendMessage'],
            resources: [deadLetters.queueArn],
          }),
        ],
      });
      for (const [plan, schedule] of scheduled) {
        const s = new scheduler.CfnSchedule(this, `DrillSchedule-${plan}`, {
          name: `${prefix}-${plan}-drill`,
          groupName: group.name,
          description: `drs-waves: scheduled DRILL of plan ${plan}`,
          scheduleExpression: `cron(${schedule.cron})`,
          scheduleExpressionTimezone: schedule.timezone,
          flexibleTimeWindow: { mode: 'OFF' },
          state: schedule.enabled ? 'ENABLED' : 'DISABLED',
          target: {
            arn: stateMachines[plan].attrArn,
            roleArn: schedulerRole.roleArn,
            input: DRILL_INPUT,
            // A drill that could not start within an hour is better skipped than started late
            // into business hours; the next occurrence will run. A skipped start goes to the
            // dead-letter queue (and raises its alarm) instead of vanishing.
            retryPolicy: { maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 3 },
            deadLetterConfig: { arn: deadLetters.queueArn },
          },
        });
        s.node.addDependency(group);
      }
      const schedulerMetric = (metricName: string) =>
        new cw.Metric({ namespace: 'AWS/Scheduler', metricName, dimensionsMap: { ScheduleGroup: group.name! }, statistic: cw.Stats.SUM, period: Duration.minutes(5) });
      for (const [metricName, what] of [
        ['TargetErrorCount', 'StartExecution answered a scheduled drill with an error (retried; check the role, the state machine and the execution quota)'],
        ['InvocationDroppedCount', 'a scheduled drill was not started: Scheduler gave up after its retries'],
        ['InvocationsFailedToBeSentToDeadLetterCount', 'a scheduled drill was not started and could not even be written to the dead-letter queue'],
      ] as const) {
        alarm(`Scheduler${metricName}`, {
          alarmDescription: `drs-waves: ${what}.`,
          metric: schedulerMetric(metricName),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        });
      }
    }

    // ---- Network ----------------------------------------------------------------------------
    const net = config.network;
    let vpc: ec2.IVpc;
    if (net.vpcId) {
      vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
        vpcId: net.vpcId,
        availabilityZones: [...net.availabilityZones!],
        privateSubnetIds: [...net.privateSubnetIds!],
        ...(net.privateSubnetRouteTableIds ? { privateSubnetRouteTableIds: [...net.privateSubnetRouteTableIds] } : {}),
      });
      if (!net.privateSubnetRouteTableIds) {
        Annotations.of(vpc).acknowledgeWarning(
          '@aws-cdk/aws-ec2:noSubnetRouteTableId',
          'No gateway endpoint is created in this existing VPC, so its route tables are never needed here.',
        );
      }
    } else {
      const newVpc = new ec2.Vpc(this, 'Vpc', {
        ...(net.availabilityZones ? { availabilityZones: [...net.availabilityZones] } : { maxAzs: net.maxAzs }),
        natGateways: net.natGateways,
        subnetConfiguration: [
          { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
          { name: 'worker', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 24 },
        ],
      });
      const flowLogs = new logs.LogGroup(this, 'VpcFlowLogs', {
        retention: config.worker.logRetentionDays as logs.RetentionDays,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      newVpc.addFlowLog('FlowLog', { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: ec2.FlowLogTrafficType.REJECT });
      vpc = newVpc;
    }
    const workerSubnets: ec2.SubnetSelection = net.vpcId ? { subnets: vpc.privateSubnets } : { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    const workerSg = new ec2.SecurityGroup(this, 'WorkerSecurityGroup', {
      vpc,
      description: 'drs-waves worker: no inbound; HTTPS out to the AWS APIs',
      allowAllOutbound: false,
    });
    workerSg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'AWS APIs (Step Functions, DRS, DynamoDB, Logs, ECR)');
    // The deployed plans' HTTP and TCP health checks probe the recovered servers (in whatever
    // VPC the DRS launch settings choose) from the worker: those ports only.
    for (const port of [...new Set(plans.flatMap((p) => p.healthPorts))].sort((a, b) => a - b)) {
      if (port === 443) continue;
      workerSg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(port), `health checks of the deployed plans (port ${port})`);
    }

    // Endpoints, each one a choice (config.ts ENDPOINTS): gateway endpoints are free and keep
    // DynamoDB and image-layer (S3) traffic off the NAT, or make them reachable at all from
    // isolated subnets; interface endpoints cost by the hour, are created with private DNS, and
    // would collide with an endpoint (or central private hosted zone) the VPC already has.
    const wanted = ENDPOINT_NAMES.filter((e) => net.endpoints[e]);
    const gatewayServices: Partial<Record<EndpointName, [string, ec2.GatewayVpcEndpointAwsService]>> = {
      dynamodb: ['DynamoDb', ec2.GatewayVpcEndpointAwsService.DYNAMODB],
      s3: ['S3', ec2.GatewayVpcEndpointAwsService.S3],
    };
    const interfaceServices: Partial<Record<EndpointName, [string, ec2.InterfaceVpcEndpointAwsService]>> = {
      stepFunctions: ['StepFunctions', ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS],
      drs: ['Drs', new ec2.InterfaceVpcEndpointAwsService('drs')],
      logs: ['Logs', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
      ecrApi: ['EcrApi', ec2.InterfaceVpcEndpointAwsService.ECR],
      ecrDocker: ['EcrDocker', ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER],
    };
    // Only the worker talks to the interface endpoints: no VPC-wide ingress (and no need to
    // know the CIDR of an existing VPC).
    const endpointSg = wanted.some((e) => ENDPOINTS[e].kind === 'interface')
      ? new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
          vpc,
          description: 'drs-waves interface endpoints: HTTPS from the worker only',
          allowAllOutbound: false,
        })
      : undefined;
    endpointSg?.addIngressRule(workerSg, ec2.Port.tcp(443), 'drs-waves worker');
    for (const e of wanted) {
      const gateway = gatewayServices[e];
      const iface = interfaceServices[e];
      if (gateway) {
        // A new VPC: every subnet's route table; an existing one: the worker subnets' only.
        vpc.addGatewayEndpoint(gateway[0], { service: gateway[1], ...(net.vpcId ? { subnets: [workerSubnets] } : {}) });
      } else if (iface) {
        vpc.addInterfaceEndpoint(`${iface[0]}Endpoint`, {
          service: iface[1],
          // An interface endpoint takes at most one subnet per availability zone.
          subnets: { ...workerSubnets, onePerAz: true },
          privateDnsEnabled: true,
          securityGroups: [endpointSg!],
          open: false,
        });
      }
    }

    // ---- Worker -----------------------------------------------------------------------------
    const cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    const workerLogs = new logs.LogGroup(this, 'WorkerLogs', {
      retention: config.worker.logRetentionDays as logs.RetentionDays,
      // Kept on stack deletion (it records what every recovery did); a rolled-back first deploy
      // leaves no orphan behind.
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
    const arm = config.worker.architecture === 'ARM64';
    const taskDefinition = new ecs.FargateTaskDefinition(this, 'WorkerTask', {
      cpu: config.worker.cpu,
      memoryLimitMiB: config.worker.memory,
      runtimePlatform: {
        cpuArchitecture: arm ? ecs.CpuArchitecture.ARM64 : ecs.CpuArchitecture.X86_64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    // The evidence of every execution, where it cannot be quietly rewritten: versioned, Object
    // Lock with a default retention (so the worker's PutObject needs nothing more), no public
    // access, TLS only, kept when the stack is deleted.
    let reportBucketName: string | undefined = config.worker.reportBucket;
    let reportBucketArn: string | undefined = config.worker.reportBucket
      ? this.formatArn({ service: 's3', region: '', account: '', resource: config.worker.reportBucket })
      : undefined;
    if (config.reports.createBucket) {
      const days = Duration.days(config.reports.retentionDays);
      this.reportBucket = new s3.Bucket(this, 'ReportBucket', {
        versioned: true,
        objectLockEnabled: true,
        objectLockDefaultRetention:
          config.reports.objectLockMode === 'COMPLIANCE' ? s3.ObjectLockRetention.compliance(days) : s3.ObjectLockRetention.governance(days),
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
        encryption: s3.BucketEncryption.S3_MANAGED,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      Validations.of(this.reportBucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason:
          'Only the worker writes reports (s3:PutObject, nothing else); Object Lock keeps every version for its retention, so an access log adds no protection. Enable CloudTrail S3 data events to audit reads.',
      });
      reportBucketName = this.reportBucket.bucketName;
      reportBucketArn = this.reportBucket.bucketArn;
      new CfnOutput(this, 'ReportBucketName', { value: this.reportBucket.bucketName });
    }
    const activityArnsEnv = contract.activities.map((a) => `${a.name}=${activities[a.name].activityArn}`).join(',');
    taskDefinition.addContainer('worker', {
      image: ecs.ContainerImage.fromAsset(props.repoRoot, {
        file: path.join('worker', 'Dockerfile'),
        exclude: dockerContextExcludes(props.repoRoot),
        ignoreMode: IgnoreMode.DOCKER,
        platform: arm ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64,
      }),
      essential: true,
      // The image runs as this user too; stating it here keeps the task non-root whatever image
      // is pushed. The worker writes nothing to disk.
      user: '10001:10001',
      readonlyRootFilesystem: true,
      stopTimeout: Duration.seconds(WORKER_STOP_TIMEOUT_SECONDS),
      // A worker whose polls have stopped succeeding (hung, or cut off from Step Functions) is
      // replaced by ECS instead of sitting RUNNING while executions stall. `drs-worker health`
      // asks the worker's loopback health port when its last successful GetActivityTask was.
      // Exec form: the image has no shell to speak of. The state is served on 127.0.0.1, not
      // written to a file, because the root file system is read-only.
      healthCheck: WORKER_HEALTH_CHECK,
      environment: {
        AWS_REGION: Aws.REGION,
        DRS_WAVES_TABLE: this.table.tableName,
        DRS_WAVES_ACTIVITY_ARNS: activityArnsEnv,
        DRS_WAVES_LOG_FORMAT: 'json',
        DRS_WAVES_MAX_TASKS: String(config.worker.maxTasks),
        DRS_WAVES_POLLERS_PER_ACTIVITY: String(config.worker.pollersPerActivity),
        ...workerSettingsEnvironment(config),
        ...(reportBucketName ? { DRS_WAVES_REPORT_BUCKET: reportBucketName } : {}),
      },
      logging: ecs.LogDrivers.awsLogs({
        logGroup: workerLogs,
        streamPrefix: 'worker',
        // A CloudWatch Logs hiccup must not stall a recovery: drop log lines rather than block.
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(25),
      }),
    });
    this.workerTaskRole = taskDefinition.taskRole;
    const statements = workerStatements(this, {
      activityArns: contract.activities.map((a) => activities[a.name].activityArn),
      stateMachineNames,
      tableArn: this.table.tableArn,
      indexNames: ht.indexes.map((i) => i.name),
      executionTagKey: contract.jobTags.execution,
      networkTagKey: contract.jobTags.networkof,
      instanceRoles: config.drs.instanceRoles,
      reportBucketArn,
      // The topics the plans' gates notify, as plans.ts found and checked them.
      notifyTopicArns: plans.flatMap((p) => p.notifyTopics),
      // The accounts and regions the plans' waves recover into (wave-accounts.ts).
      waveRoleArns: assumedRoleArns(plans.flatMap((p) => p.waveAccounts)),
      waveRegions: ownCredentialRegions(plans.flatMap((p) => p.waveAccounts)),
    });
    this.workerPolicy = new iam.Policy(this, 'WorkerPolicy', { roles: [taskDefinition.taskRole], statements });
    acknowledgeWildcardResources(this.workerPolicy, statements, WORKER_WILDCARD_REASONS);
    Validations.of(taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment holds only the table name, activity ARNs, region, report bucket name, log settings and limits: ' +
        'identifiers and numbers, not secrets. The worker takes its AWS credentials from the task role.',
    });
    if (taskDefinition.executionRole) {
      Validations.of(taskDefinition.executionRole).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'CDK-generated execution role: ecr:GetAuthorizationToken has no resource type in the Service Authorization ' +
          'Reference, so IAM accepts only "*"; image pulls and log writes are scoped to the asset repository and the worker log group.',
      });
    }

    this.workerService = new ecs.FargateService(this, 'WorkerService', {
      cluster,
      taskDefinition,
      desiredCount: config.worker.desiredCount,
      vpcSubnets: workerSubnets,
      securityGroups: [workerSg],
      assignPublicIp: false,
      // Start the new task before stopping the old one: the old one drains for up to 120 s.
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      enableECSManagedTags: true,
      propagateTags: ecs.PropagatedTagSource.SERVICE,
    });
    // ECS spreads the worker's tasks over the AZs of its subnets; with one AZ they all run in
    // it, and losing that AZ stalls every running execution (a recovery included) until it is
    // back. Allowed (a small account may choose it), but said at every synth.
    const singleAz = singleAzWarning(config, vpc.selectSubnets(workerSubnets).availabilityZones);
    if (singleAz) Annotations.of(this.workerService).addWarning(singleAz);

    const runningTasks = new cw.Metric({
      namespace: 'ECS/ContainerInsights',
      metricName: 'RunningTaskCount',
      dimensionsMap: { ClusterName: cluster.clusterName, ServiceName: this.workerService.serviceName },
      statistic: cw.Stats.MINIMUM,
      period: Duration.minutes(1),
    });
    if (config.worker.desiredCount > 0) {
      const noWorker = new cw.Alarm(this, 'WorkerNotRunning', {
        alarmDescription: 'drs-waves: no worker task is running, so no activity task is being answered and every running execution is stalled.',
        metric: runningTasks,
        threshold: 1,
        evaluationPeriods: 5,
        datapointsToAlarm: 5,
        comparisonOperator: cw.ComparisonOperator.LESS_THAN_THRESHOLD,
        // No data from Container Insights means no task reported: that is the failure itself.
        treatMissingData: cw.TreatMissingData.BREACHING,
      });
      noWorker.addAlarmAction(alarmAction);
      noWorker.addOkAction(alarmAction);
    }

    // ---- Activity alarms --------------------------------------------------------------------
    // Per activity (all plans share them). For the worker's activities, a task that times out, or
    // whose heartbeats stop, is retried by the machine but means a worker died or hung; a task
    // that waits long to be picked up means the workers are short of polls or task slots. The
    // gates' activity (OPERATOR_ACTIVITY) is answered by people, so its timeouts say so.
    for (const a of contract.activities) {
      const activityMetric = (metricName: string, statistic: string, period = Duration.minutes(5)) =>
        new cw.Metric({ namespace: 'AWS/States', metricName, dimensionsMap: { ActivityArn: activities[a.name].activityArn }, statistic, period });
      const isGate = a.name === OPERATOR_ACTIVITY;
      const timeoutTexts: readonly (readonly [string, string])[] = isGate
        ? [
            [
              'ActivitiesTimedOut',
              `drs-waves: an approval gate or failure decision (${a.name}) was not answered within its timeout: no operator approved, ` +
                'stopped or decided in time, and the execution fails with DrsWaves.GateTimedOut naming the gate. Not a worker fault: ' +
                'the gate\'s task was taken and its token recorded. Ask the operators why, and start the plan again if it must run.',
            ],
            [
              'ActivitiesHeartbeatTimedOut',
              `drs-waves: a gate's (${a.name}) task token was lost: no worker heartbeated it (every running worker heartbeats the gate ` +
                'tokens recorded in the history table), so Step Functions timed the task out and opens the gate again, with a new token ' +
                'for the operators to answer. Once is a token the worker never recorded (a dropped poll answer, a worker killed first); ' +
                'repeated, no worker is heartbeating gates: check RunningTaskCount and the worker log.',
            ],
          ]
        : [
            [
              'ActivitiesTimedOut',
              `drs-waves: a ${a.name} activity task timed out: a worker took it and did not answer within the task's TimeoutSeconds ` +
                '(the worker died, hung, or could not send its answer). The machine retries it. Check the worker\'s log and its RunningTaskCount.',
            ],
            [
              'ActivitiesHeartbeatTimedOut',
              `drs-waves: a ${a.name} activity task missed its heartbeat: the worker holding it died or hung. The machine retries it. ` +
                "Check the worker's log and its RunningTaskCount.",
            ],
          ];
      for (const [metricName, description] of timeoutTexts) {
        alarm(`${metricName}-${a.name}`, {
          alarmDescription: description,
          metric: activityMetric(metricName, cw.Stats.SUM),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        });
      }
      alarm(`ActivityScheduleTime-${a.name}`, {
        alarmDescription:
          `drs-waves: a ${a.name} activity task waited more than ${config.alarms.activityScheduleSeconds} s before a worker took it: ` +
          'the workers are short of polls (worker.pollersPerActivity) or every task slot (worker.maxTasks) was busy. ' +
          `This metric exists only once a worker takes the task; a task that no worker takes shows in ${ACTIVITY_TASKS_NOT_STARTED.alarmIdPrefix}-${a.name}.`,
        metric: activityMetric('ActivityScheduleTime', cw.Stats.MAXIMUM),
        // The metric is in milliseconds.
        threshold: config.alarms.activityScheduleSeconds * 1000,
        evaluationPeriods: 1,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
      });
      // A task that no worker takes leaves no trace but ActivitiesScheduled: on AWS its
      // TimeoutSeconds counts from when a worker takes it, so it never times out, and
      // ActivityScheduleTime is written only when it is taken. This alarm compares the tasks
      // scheduled with the tasks started in one window (see ACTIVITY_TASKS_NOT_STARTED).
      const window = ACTIVITY_TASKS_NOT_STARTED.window;
      alarm(`${ACTIVITY_TASKS_NOT_STARTED.alarmIdPrefix}-${a.name}`, {
        alarmDescription:
          `drs-waves: ${a.name} activity tasks were scheduled and not started by any worker within ${window.toMinutes()} minutes: ` +
          'the executions waiting on them are stalled. Check that a worker is running (RunningTaskCount, the worker log) and that its ' +
          `DRS_WAVES_ACTIVITY_ARNS names this activity. (A task scheduled in the last moments of a window and started in the next counts ` +
          'once as not started: if the execution has moved on, that was it.)',
        metric: new cw.MathExpression({
          expression: ACTIVITY_TASKS_NOT_STARTED.expression,
          usingMetrics: {
            scheduled: activityMetric('ActivitiesScheduled', cw.Stats.SUM, window),
            started: activityMetric('ActivitiesStarted', cw.Stats.SUM, window),
          },
          period: window,
          label: `${a.name} tasks scheduled and not started`,
        }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      });
    }

    new logs.MetricFilter(this, 'WaveDurationMetric', {
      logGroup: workerLogs,
      filterPattern: logs.FilterPattern.literal(WAVE_FINISHED_LOG.filterPattern),
      metricNamespace: WAVE_FINISHED_LOG.namespace,
      metricName: WAVE_FINISHED_LOG.metricName,
      metricValue: WAVE_FINISHED_LOG.valueField,
      dimensions: { ...WAVE_FINISHED_LOG.dimensions },
      unit: cw.Unit.SECONDS,
    });

    // ---- Dashboard --------------------------------------------------------------------------
    const activityMetric = (name: string, metricName: string) =>
      new cw.Metric({
        namespace: 'AWS/States',
        metricName,
        dimensionsMap: { ActivityArn: activities[name].activityArn },
        statistic: cw.Stats.AVERAGE,
        period: Duration.minutes(15),
        label: `${name} ${metricName}`,
      });
    const dashboard = new cw.Dashboard(this, 'Dashboard', { dashboardName: `${prefix}-${Aws.REGION}` });
    dashboard.addWidgets(
      new cw.TextWidget({
        markdown:
          `# drs-waves (${prefix})\n` +
          'Executions per plan (Step Functions metrics), wave durations (from the worker\'s "wave finished" log line), ' +
          'activity task times and the worker service. Per-wave detail is in the history table.',
        width: 24,
        height: 2,
      }),
    );
    for (const row of dashboardRows) dashboard.addWidgets(...row);
    dashboard.addWidgets(
      new cw.GraphWidget({
        title: 'Activity run time (ms)',
        width: 8,
        left: contract.activities.map((a) => activityMetric(a.name, 'ActivityRunTime')),
      }),
      new cw.GraphWidget({
        title: 'Activity schedule-to-start (ms): high means no free worker',
        width: 8,
        left: contract.activities.map((a) => activityMetric(a.name, 'ActivityScheduleTime')),
      }),
      new cw.GraphWidget({
        title: 'Worker tasks running',
        width: 8,
        left: [runningTasks.with({ label: 'running (min)' })],
      }),
    );

    // ---- Operators --------------------------------------------------------------------------
    // What the drs-waves CLI calls, on this deployment's state machines, executions and history
    // table only (operator-policy.ts). A managed policy, so that existing roles and groups (the
    // config's operators) and IAM Identity Center permission sets (by policyName) can take it.
    const operatorStatementList = operatorStatements(this, {
      stateMachineArns: Object.values(stateMachines).map((sm) => sm.attrArn),
      stateMachineNames,
      tableArn: this.table.tableArn,
      indexNames: ht.indexes.map((i) => i.name),
    });
    this.operatorPolicy = new iam.ManagedPolicy(this, 'DrsWavesOperatorPolicy', {
      ...(config.operators.policyName ? { managedPolicyName: config.operators.policyName } : {}),
      description: `${prefix}: the drs-waves CLI (plans, start, follow, approve, decide, stop, cancel, status, history, report) on this deployment only`,
      statements: operatorStatementList,
      roles: config.operators.roles.map((r) => iam.Role.fromRoleName(this, `OperatorRole-${r}`, r)),
      groups: config.operators.groups.map((g) => iam.Group.fromGroupName(this, `OperatorGroup-${g}`, g)),
    });
    acknowledgeWildcardResources(this.operatorPolicy, operatorStatementList, OPERATOR_WILDCARD_REASONS);

    // ---- History table deletion protection, last ----------------------------------------------
    // DynamoDB refuses DeleteTable while deletion protection is on. A table created with it could
    // not be deleted when a first deploy rolls back (RETAIN_ON_UPDATE_OR_DELETE tries to), the
    // rollback would fail and leave the table behind, and every later deploy would fail with
    // "already exists". So the table is created without it, and this custom resource, which
    // depends on every other resource of the stack, turns it on (config.deletionProtection)
    // once everything else has been created: a rollback before that point deletes a table that
    // is not protected yet. Later changes of the setting go through onUpdate. (The template says
    // false for the table, so drift detection reports the property; that is this, not a drift.)
    const setProtection = (enabled: boolean): cr.AwsSdkCall => ({
      service: 'DynamoDB',
      action: 'updateTable',
      parameters: { TableName: this.table.tableName, DeletionProtectionEnabled: enabled },
      physicalResourceId: cr.PhysicalResourceId.of(`${this.table.tableName}-deletion-protection`),
    });
    // The function's own log group (CDK would make one it never deletes): one call per deploy.
    const protectionLogs = new logs.LogGroup(this, 'HistoryTableDeletionProtectionLogs', {
      retention: config.worker.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const protection = new cr.AwsCustomResource(this, 'HistoryTableDeletionProtection', {
      logGroup: protectionLogs,
      resourceType: 'Custom::DeletionProtection',
      // A new table has none: turning it "off" there would be a call that changes nothing.
      onCreate: config.deletionProtection
        ? setProtection(true)
        : {
            service: 'DynamoDB',
            action: 'describeTable',
            parameters: { TableName: this.table.tableName },
            physicalResourceId: cr.PhysicalResourceId.of(`${this.table.tableName}-deletion-protection`),
          },
      onUpdate: setProtection(config.deletionProtection),
      // Nothing on delete: the table is retained, protected as it was.
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [this.table.tableArn] }),
      installLatestAwsSdk: false,
    });
    // The function CDK runs its AWS SDK custom resources with: a singleton of the stack.
    const sdkFunction = this.node.children.find((c) => c.node.id.startsWith(AWS_CUSTOM_RESOURCE_ID_PREFIX));
    for (const child of this.node.children) {
      if (child === protection || child === sdkFunction) continue;
      protection.node.addDependency(child);
    }
    if (sdkFunction) {
      Validations.of(sdkFunction).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          "CDK's AWS SDK custom-resource function (sets the history table's deletion protection once, at the end of a deploy) logs with " +
          'the AWS managed basic execution role, which grants only CloudWatch Logs writes; its one action, dynamodb:UpdateTable, is on the history table only.',
      });
    }

    // ---- Outputs ----------------------------------------------------------------------------
    new CfnOutput(this, 'HistoryTableName', { value: this.table.tableName });
    new CfnOutput(this, 'WorkerActivityArns', {
      value: activityArnsEnv,
      description: 'DRS_WAVES_ACTIVITY_ARNS for a worker run outside ECS',
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn });
    new CfnOutput(this, 'OperatorPolicyArn', {
      value: this.operatorPolicy.managedPolicyArn,
      description: 'Managed policy with what the drs-waves CLI needs on this deployment; attach it to operator roles, groups or permission sets',
      exportName: `${this.stackName}-OperatorPolicyArn`,
    });
    new CfnOutput(this, 'WorkerTaskRoleArn', {
      value: this.workerTaskRole.roleArn,
      description: "The worker's role: the WorkerRoleArn of cdk/role-template/ in each target account, and the key policy of a KMS-encrypted gate topic",
    });
    for (const [plan, sm] of Object.entries(stateMachines)) {
      new CfnOutput(this, `StateMachineArn-${plan}`, { value: sm.attrArn, description: `State machine of plan ${plan}` });
    }

  }
}
