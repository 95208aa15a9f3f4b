/**
 * The drs-waves deployment: history table, activities, one state machine per plan, the worker
 * on ECS Fargate, drill schedules, alarms and a dashboard.
 *
 * Everything the worker and the state machines must agree on (activity names and placeholders,
 * table keys, job tags) comes from the contract file; everything an operator chooses comes from
 * the configuration. This file only wires them together.
 */
import * as path from 'node:path';
import { Annotations, Aws, CfnOutput, Duration, IgnoreMode, RemovalPolicy, Size, Stack, StackProps, Tags, Validations } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as snsSubs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { DrsWavesConfig } from './config';
import { Contract } from './contract';
import { PlanDefinition } from './plans';
import { acknowledgeWildcardResources } from './nag';
import { WORKER_WILDCARD_REASONS, workerStatements } from './worker-policy';

/** What a scheduled drill passes to StartExecution (contract: ExecutionInput, DRILL). */
export const DRILL_INPUT = JSON.stringify({ mode: 'DRILL' });

/** Graceful shutdown takes up to 100 s (the worker's contract); Fargate allows at most 120 s. */
export const WORKER_STOP_TIMEOUT_SECONDS = 120;

/**
 * The worker image's build context is the repository root, of which only the Cargo workspace
 * is needed: everything else is left out by a whitelist, so new top-level directories (venvs,
 * caches) never slow down synth or land in the image. The root .dockerignore holds the same
 * list for a plain `docker build`; CDK merges both.
 */
export const DOCKER_CONTEXT_EXCLUDES = [
  '*',
  '!Cargo.toml',
  '!Cargo.lock',
  '!codegen',
  '!worker',
  '!tests',
  '**/target',
  '**/node_modules',
  '**/.venv*',
];

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
      deletionProtection: config.deletionProtection,
      // The history outlives the stack: deleting the stack must not delete the audit trail.
      removalPolicy: RemovalPolicy.RETAIN,
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
    // A key of our own: CloudWatch alarms cannot publish to a topic encrypted with the AWS
    // managed SNS key, whose policy does not let cloudwatch.amazonaws.com use it.
    const alarmKey = new kms.Key(this, 'AlarmTopicKey', {
      description: `${prefix}: encrypts the alarm notification topic`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    alarmKey.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `${prefix} alarms`,
      masterKey: alarmKey,
      enforceSSL: true,
    });
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
        removalPolicy: RemovalPolicy.RETAIN,
      });
      const used: Record<string, string> = {};
      for (const p of plan.placeholders) used[p] = substitutions[p];
      const sm = new sfn.CfnStateMachine(this, `StateMachine-${plan.name}`, {
        stateMachineName: smName,
        stateMachineType: 'STANDARD',
        roleArn: smRole.roleArn,
        definitionString: plan.definition,
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
        const alarm = new cw.Alarm(this, `${metricName}-${plan.name}`, {
          alarmDescription: `drs-waves plan ${plan.name}: an execution ${what}. Open the execution in the Step Functions console; the history table has per-wave detail.`,
          metric: metric(metricName),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cw.TreatMissingData.NOT_BREACHING,
        });
        alarm.addAlarmAction(alarmAction);
      }

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
        ],
      });
      for (const [plan, schedule] of scheduled) {
        new scheduler.CfnSchedule(this, `DrillSchedule-${plan}`, {
          name: `${prefix}-${plan}-drill`,
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
            // into business hours; the next occurrence will run.
            retryPolicy: { maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 3 },
          },
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
      });
      Annotations.of(vpc).acknowledgeWarning(
        '@aws-cdk/aws-ec2:noSubnetRouteTableId',
        'The stack adds no routes to an existing VPC; its route tables are the owner\'s and are never read here.',
      );
    } else {
      const newVpc = new ec2.Vpc(this, 'Vpc', {
        ...(net.availabilityZones ? { availabilityZones: [...net.availabilityZones] } : { maxAzs: net.maxAzs }),
        natGateways: net.natGateways,
        subnetConfiguration: [
          { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
          { name: 'worker', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 24 },
        ],
        // Gateway endpoints are free and keep DynamoDB and image-layer (S3) traffic off the NAT.
        gatewayEndpoints: {
          DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
          S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        },
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

    if (net.interfaceEndpoints) {
      // Only the worker talks to the endpoints: no VPC-wide ingress (and no need to know the
      // CIDR of an existing VPC).
      const endpointSg = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
        vpc,
        description: 'drs-waves interface endpoints: HTTPS from the worker only',
        allowAllOutbound: false,
      });
      endpointSg.addIngressRule(workerSg, ec2.Port.tcp(443), 'drs-waves worker');
      const services: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
        StepFunctions: ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
        Drs: new ec2.InterfaceVpcEndpointAwsService('drs'),
        Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
        EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
        EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
      };
      for (const [name, service] of Object.entries(services)) {
        vpc.addInterfaceEndpoint(`${name}Endpoint`, { service, subnets: workerSubnets, privateDnsEnabled: true, securityGroups: [endpointSg], open: false });
      }
    }

    // ---- Worker -----------------------------------------------------------------------------
    const cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    const workerLogs = new logs.LogGroup(this, 'WorkerLogs', {
      retention: config.worker.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.RETAIN,
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
    const activityArnsEnv = contract.activities.map((a) => `${a.name}=${activities[a.name].activityArn}`).join(',');
    taskDefinition.addContainer('worker', {
      image: ecs.ContainerImage.fromAsset(props.repoRoot, {
        file: path.join('worker', 'Dockerfile'),
        exclude: DOCKER_CONTEXT_EXCLUDES,
        ignoreMode: IgnoreMode.DOCKER,
        platform: arm ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64,
      }),
      essential: true,
      // The image runs as this user too; stating it here keeps the task non-root whatever image
      // is pushed. The worker writes nothing to disk.
      user: '10001:10001',
      readonlyRootFilesystem: true,
      stopTimeout: Duration.seconds(WORKER_STOP_TIMEOUT_SECONDS),
      environment: {
        AWS_REGION: Aws.REGION,
        DRS_WAVES_TABLE: this.table.tableName,
        DRS_WAVES_ACTIVITY_ARNS: activityArnsEnv,
        DRS_WAVES_LOG_FORMAT: 'json',
        DRS_WAVES_MAX_TASKS: String(config.worker.maxTasks),
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
    });
    this.workerPolicy = new iam.Policy(this, 'WorkerPolicy', { roles: [taskDefinition.taskRole], statements });
    acknowledgeWildcardResources(this.workerPolicy, statements, WORKER_WILDCARD_REASONS);
    Validations.of(taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment holds only the table name, activity ARNs, region, log format and task limit: ' +
        'identifiers, not secrets. The worker takes its AWS credentials from the task role.',
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

    // ---- Outputs ----------------------------------------------------------------------------
    new CfnOutput(this, 'HistoryTableName', { value: this.table.tableName });
    new CfnOutput(this, 'WorkerActivityArns', {
      value: activityArnsEnv,
      description: 'DRS_WAVES_ACTIVITY_ARNS for a worker run outside ECS',
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn });
    for (const [plan, sm] of Object.entries(stateMachines)) {
      new CfnOutput(this, `StateMachineArn-${plan}`, { value: sm.attrArn, description: `State machine of plan ${plan}` });
    }

  }
}
