/**
 * The worker's IAM statements: what `drs-worker` calls, and what DRS calls on its behalf when
 * it starts a recovery.
 *
 * Sources, so the next reader can check them rather than trust them:
 * - Service Authorization Reference (SAR) for Step Functions: SendTaskSuccess, SendTaskFailure
 *   and SendTaskHeartbeat have no resource type (the task token names the task) and no
 *   condition key of their own, so they can only be granted on `*`; cfn-lint's copy of the SAR
 *   (cfnlint/data/AdditionalSpecs/Policies.json) agrees. GetActivityTask takes the activity,
 *   DescribeExecution the execution.
 * - SAR for Elastic Disaster Recovery: StartRecovery and CreateRecoveryInstanceForDrs take a
 *   source server, TerminateRecoveryInstances a recovery instance, DescribeJobLogItems a job;
 *   DescribeJobs, DescribeSourceServers, DescribeRecoveryInstances, ListTagsForResource and
 *   TagResource have no resource type. StartRecovery lists as dependent actions
 *   drs:CreateRecoveryInstanceForDrs, drs:ListTagsForResource, iam:PassRole and a set of EC2
 *   actions: DRS launches the recovery instances with the caller's permissions.
 * - DRS user guide, "Grant permission to tag resources during creation": tags given to a
 *   creating call are authorised as drs:TagResource, narrowed with drs:CreateAction.
 * - The AWS managed policy AWSElasticDisasterRecoveryConsoleFullAccess (v8, AWS Managed Policy
 *   Reference; statements ConsoleFullAccess3, 8 to 20 and 22 to 27, and 30), the policy AWS
 *   ships for principals that start recoveries: its EC2 statements show how far those dependent
 *   actions can be narrowed (DRS-managed tag `AWSElasticDisasterRecoveryManaged`,
 *   `aws:ViaAWSService`, ec2:CreateAction). The EC2 statements below are that policy's, limited
 *   to the actions StartRecovery and TerminateRecoveryInstances depend on, each naming the
 *   managed statement it follows. Left out: the console-only reads (ConsoleFullAccess2, 4 to 7,
 *   28, 29), GetConsoleOutput/GetConsoleScreenshot (13, 21) and "launch into an existing
 *   instance" (21, tag AWSDRS=AllowLaunchingIntoThisInstance); see cdk/README.md.
 * - SAR for Amazon EC2 (cfn-lint's copy agrees): CreateVolume authorises the snapshot it
 *   restores from as well as the new volume, and CreateSecurityGroup the VPC as well as the new
 *   group, so each needs a statement per resource type (ConsoleFullAccess15 and 30, 16 and 17);
 *   the Get/Describe reads of ConsoleFullAccess3 have no resource type.
 * - SAR for Amazon SNS: Publish takes a topic resource (arn:...:sns:<region>:<account>:<topic>),
 *   so the grant names each topic a deployed plan's gates notify (`wave.approval.notify`,
 *   `wave.decisionNotify` in the await-operator tasks' Parameters, found by plans.ts), no
 *   wildcard; no statement when no plan names one. A topic encrypted with a customer managed
 *   KMS key also needs its key policy to let the worker's role use the key (kms:GenerateDataKey*,
 *   kms:Decrypt): that key is the topic owner's, not this stack's.
 * - What the worker calls (worker/src/sfn.rs, aws/src: drs.rs, sns.rs, s3.rs; history/src): GetActivityTask,
 *   SendTask*, DescribeExecution, StopExecution (a recovery preempts a drill of its plan);
 *   DescribeSourceServers, DescribeRecoverySnapshots (a recovery from a point in time),
 *   DescribeJobs, DescribeJobLogItems (a failed server's reason), StartRecovery,
 *   DescribeSourceNetworks and StartSourceNetworkRecovery (a plan's recoverNetwork actions),
 *   DescribeRecoveryInstances (which of a drill's instances still exist), TerminateRecoveryInstances; GetItem, PutItem, UpdateItem,
 *   DeleteItem, Query (no transactions); PutObject on the report bucket when one is configured;
 *   SNS Publish when a gate opens whose wave names a topic (tasks/operator.rs). Nothing else is
 *   granted: a new call needs its statement here (the first drill after deploying shows a
 *   missing one as AccessDenied in the worker log).
 * - "Only DRS acting for the worker": AWS offers no condition that names DRS. aws:CalledVia is
 *   filled in only for the few services the IAM documentation lists (DRS is not one of them),
 *   and EC2 has no key for the calling service. The closest is aws:ViaAWSService = true (an
 *   AWS service acting with the worker's credentials through a forward access session, which
 *   is how DRS makes StartRecovery's EC2 calls): the instance, volume, snapshot and security
 *   group statements carry it, as the managed policy's do, so the worker's own credentials
 *   cannot call those directly; together with the DRS-managed tag it leaves only DRS's
 *   resources.
 * - Waves in other accounts and regions (a plan's `account`, issue #23): the worker assumes the
 *   role a wave names (SAR for STS: AssumeRole takes the role ARN) and calls DRS with the
 *   role's credentials, so DRS and EC2 in that account are the role's permissions
 *   (cdk/role-template/, the same DRS and EC2 statements as here, checked equal by a test), not
 *   these. A wave that names a region and no role uses these statements in that region: every
 *   region-scoped DRS/EC2 ARN below is repeated for each such region.
 * - Except the launch template statements: AWSElasticDisasterRecoveryConsoleFullAccess allows
 *   ec2:CreateLaunchTemplate (ConsoleFullAccess11), CreateLaunchTemplateVersion,
 *   ModifyLaunchTemplate, DeleteLaunchTemplateVersions, CreateTags, DeleteTags
 *   (ConsoleFullAccess10) and CreateTags on create (ConsoleFullAccess27) with the tag
 *   conditions only, without aws:ViaAWSService. Those are the calls DRS makes on the launch
 *   template when StartRecovery applies the launch settings, and AWS documents no guarantee
 *   that they arrive as a forward access session; a condition the managed policy does not
 *   have could fail a real launch (LAUNCH_FAILED) where the managed policy works. So they
 *   are the managed policy's, tag conditions and all: the worker's own credentials could edit
 *   a DRS-managed launch template (no other), which DRS's own console users may too.
 */
import { Stack, ArnFormat, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';

/** Tag DRS puts on everything it creates for a recovery (launch templates, instances, volumes...). */
export const DRS_MANAGED_TAG = 'AWSElasticDisasterRecoveryManaged';

/** Roles created when DRS is initialised, which it passes to the instances it launches. */
export const DRS_SERVICE_ROLES = ['AWSElasticDisasterRecoveryConversionServerRole', 'AWSElasticDisasterRecoveryRecoveryInstanceRole'];

export interface WorkerPolicyProps {
  readonly activityArns: readonly string[];
  /** Names of the state machines whose executions may hold a plan's run lock. */
  readonly stateMachineNames: readonly string[];
  readonly tableArn: string;
  readonly indexNames: readonly string[];
  /** The job tag key carrying the execution ARN; StartRecovery is allowed only with it. */
  readonly executionTagKey?: string;
  /** The tag a network recovery job carries (`drs-waves:network-of`): the retried start-network task finds its job by it. */
  readonly networkTagKey?: string;
  /**
   * Roles of the instance profiles named by the DRS launch templates (names, path/names or
   * ARNs): DRS passes them to EC2 with the worker's permissions.
   */
  readonly instanceRoles?: readonly string[];
  /** ARN of the S3 bucket the worker writes execution reports to (created by the stack or existing). */
  readonly reportBucketArn?: string;
  /** SNS topics the deployed plans' approval gates and decisions notify (checked ARNs). */
  readonly notifyTopicArns?: readonly string[];
  /** Roles the deployed plans' waves name (`account.roleArn`, checked ARNs): sts:AssumeRole on exactly these. */
  readonly waveRoleArns?: readonly string[];
  /**
   * Regions other than the stack's where a wave names no role, so the worker calls DRS there
   * with its own credentials: its DRS and EC2 statements cover them too.
   */
  readonly waveRegions?: readonly string[];
}

/**
 * The regions of the region-scoped DRS/EC2 ARNs: undefined for the stack's own (formatArn's
 * default, a token when the stack has no env), then each other region once. A region equal
 * to a known stack region adds nothing.
 */
function regionsOf(stack: Stack, others: readonly string[]): (string | undefined)[] {
  const own = Token.isUnresolved(stack.region) ? undefined : stack.region;
  return [undefined, ...[...new Set(others)].filter((r) => r !== own).sort()];
}

/**
 * What the worker does to the history table (history.rs). A transaction would need nothing
 * more (TransactWriteItems is not an IAM action: DynamoDB authorises each item as the PutItem,
 * UpdateItem or DeleteItem it is) except dynamodb:ConditionCheckItem for a condition-only item.
 */
export const WORKER_DYNAMODB_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query'];

/**
 * The EC2 reads StartRecovery depends on: those of AWSElasticDisasterRecoveryConsoleFullAccess
 * v8, statement ConsoleFullAccess3, all of them. What DRS reads while it resolves the launch
 * settings (default EBS encryption and its key, instance type offerings in the subnet's AZ, the
 * launch template's key pair, capacity reservations and dedicated hosts) before it launches.
 * Read-only; none has a resource type in the SAR but DescribeInstanceAttribute (an instance),
 * which stays on "*" with the others, as in ConsoleFullAccess3.
 *
 * Like ConsoleFullAccess3 they carry no aws:ViaAWSService: a read cannot change anything, and
 * whether DRS's pre-launch reads arrive as a forward access session is not documented, so a
 * condition the managed policy lacks could only turn a launch into LAUNCH_FAILED.
 */
export const EC2_READS_FOR_DRS = [
  'ec2:DescribeAccountAttributes',
  'ec2:DescribeAvailabilityZones',
  'ec2:DescribeCapacityReservations',
  'ec2:DescribeHosts',
  'ec2:DescribeImages',
  'ec2:DescribeInstanceAttribute',
  'ec2:DescribeInstanceStatus',
  'ec2:DescribeInstanceTypeOfferings',
  'ec2:DescribeInstanceTypes',
  'ec2:DescribeInstances',
  'ec2:DescribeKeyPairs',
  'ec2:DescribeLaunchTemplateVersions',
  'ec2:DescribeLaunchTemplates',
  'ec2:DescribeSecurityGroups',
  'ec2:DescribeSnapshots',
  'ec2:DescribeSubnets',
  'ec2:DescribeVolumes',
  'ec2:GetEbsDefaultKmsKeyId',
  'ec2:GetEbsEncryptionByDefault',
];

/**
 * Why each worker statement that names a wildcard resource needs it. cdk-nag's IAM5 findings
 * are acknowledged from this table (nag.ts), so a new wildcard without a reason fails synth.
 */
export const WORKER_WILDCARD_REASONS: Readonly<Record<string, string>> = {
  AnswerActivityTasks:
    'states:SendTaskSuccess/SendTaskFailure/SendTaskHeartbeat have no resource type in the Service Authorization Reference (the task token identifies the task), so IAM accepts only "*".',
  CheckRunLockHolder:
    'states:DescribeExecution takes an execution ARN and executions are named at start time; the grant covers only executions of this deployment\'s own state machines (execution:<name>:*), read to tell whether a run lock\'s holder still runs.',
  PreemptDrills:
    'states:StopExecution takes an execution ARN, named at start time; only executions of this deployment\'s own state machines (execution:<name>:*): a RECOVERY stops a running DRILL of its plan (preemption).',
  DrsRecoverySnapshots:
    'drs:DescribeRecoverySnapshots takes a source server, and a wave\'s servers are resolved at run time: any source server of this account in the stack\'s region and the regions its waves name without a role (read-only), to launch each from its snapshot at a point in time.',
  DrsDescribe:
    'drs:DescribeJobs, DescribeSourceServers, DescribeRecoveryInstances, DescribeSourceNetworks and ListTagsForResource (a dependent action of StartRecovery) have no resource type in the Service Authorization Reference, so IAM accepts only "*"; all are read-only.',
  DrsStartSourceNetworkRecovery:
    'drs:StartSourceNetworkRecovery takes a source network, and a plan names its networks, but the stack grants every source network of this account in the stack\'s region and the regions its waves name without a role (the plans are read at synth, the networks may be replaced); the call is allowed only with the network job tag on the request.',
  DrsJobLog:
    'drs:DescribeJobLogItems takes a job ARN, and job IDs exist only once StartRecovery has run, so the grant is every job in this account in the stack\'s region and the regions its waves name without a role (read-only: the reason a server failed to launch).',
  DrsStartRecovery:
    'The source servers of a wave are resolved at run time (by tag against DescribeSourceServers), so any source server of this account in the stack\'s region and the regions its waves name without a role; the call is allowed only with the execution job tag on the request.',
  DrsCreateRecoveryInstance:
    'drs:CreateRecoveryInstanceForDrs is a dependent action of drs:StartRecovery (Service Authorization Reference) on the same source servers, which are chosen at run time.',
  DrsTagOnCreateOnly:
    'drs:TagResource has no resource type in the Service Authorization Reference; the drs:CreateAction condition limits it to tags given while StartRecovery/CreateRecoveryInstanceForDrs create the job or instance (DRS user guide: tag on create), never to re-tagging existing resources.',
  DrsFailbackLaunch:
    'drs:StartFailbackLaunch takes recovery-instance ARNs, made by the RECOVERY a FAILBACK brings home and known only at run time; the call is allowed only with the execution job tag on the request.',
  DrsStopFailback:
    'drs:StopFailback takes a recovery-instance ARN, made by the RECOVERY a FAILBACK brings home and known only at run time; the worker stops the failback of the instances that came home when the plan says failback.stopAndTerminate.',
  DrsTerminateDrillInstances:
    'drs:TerminateRecoveryInstances takes recovery-instance ARNs, which are created by each drill at run time; the worker terminates a drill\'s instances when the plan asks for clean-up.',
  Ec2DescribeForDrs:
    'EC2 Describe* and GetEbsEncryptionByDefault/GetEbsDefaultKmsKeyId, the reads DRS makes for drs:StartRecovery (the whole of AWSElasticDisasterRecoveryConsoleFullAccess\'s ConsoleFullAccess3), have no resource type in the Service Authorization Reference, so IAM accepts only "*" (DescribeInstanceAttribute aside: it takes an instance, and is granted on "*" with the others as ConsoleFullAccess3 grants it); all are read-only.',
  Ec2CreateDrsLaunchTemplate:
    'ec2:CreateLaunchTemplate is a dependent action of drs:StartRecovery on a template created at run time; allowed only with the AWSElasticDisasterRecoveryManaged request tag, exactly as AWSElasticDisasterRecoveryConsoleFullAccess (ConsoleFullAccess11) allows it, which requires no aws:ViaAWSService for it.',
  Ec2MaintainDrsLaunchTemplates:
    'Launch template version, modify and tag actions are dependent actions of drs:StartRecovery on templates DRS creates at run time; only on templates tagged AWSElasticDisasterRecoveryManaged, exactly as AWSElasticDisasterRecoveryConsoleFullAccess (ConsoleFullAccess10) allows them, which requires no aws:ViaAWSService for them.',
  Ec2TagLaunchTemplateOnCreate:
    'ec2:CreateTags on a launch template only while it is created (ec2:CreateAction=CreateLaunchTemplate), exactly as AWSElasticDisasterRecoveryConsoleFullAccess (ConsoleFullAccess27) allows it.',
  Ec2TagOnCreateViaDrs:
    'ec2:CreateTags is a dependent action of drs:StartRecovery; only while DRS creates the resource (ec2:CreateAction) and only through DRS (aws:ViaAWSService), as in AWSElasticDisasterRecoveryConsoleFullAccess.',
  Ec2RunDrsInstancesViaDrs:
    'ec2:RunInstances is a dependent action of drs:StartRecovery; instances must carry the AWSElasticDisasterRecoveryManaged tag and be launched through DRS (aws:ViaAWSService), as in AWSElasticDisasterRecoveryConsoleFullAccess.',
  Ec2RunInstancesResourcesViaDrs:
    'RunInstances also authorises the subnet, security group, volume, image, network interface and launch template it uses, chosen by the DRS launch settings at run time; only through DRS (aws:ViaAWSService), as in AWSElasticDisasterRecoveryConsoleFullAccess.',
  Ec2DrsInstancesViaDrs:
    'Instance start/stop/terminate/modify and volume attach/detach are dependent actions of drs:StartRecovery; only on instances tagged AWSElasticDisasterRecoveryManaged and only through DRS (aws:ViaAWSService).',
  Ec2CreateDrsVolumesViaDrs:
    'ec2:CreateVolume is a dependent action of drs:StartRecovery; only with the AWSElasticDisasterRecoveryManaged request tag and only through DRS (aws:ViaAWSService).',
  Ec2CreateVolumesFromDrsSnapshotsViaDrs:
    'ec2:CreateVolume from a snapshot is authorised on the snapshot too (Service Authorization Reference); DRS restores the recovery volumes from its own snapshots, created at run time: only snapshots tagged AWSElasticDisasterRecoveryManaged and only through DRS (aws:ViaAWSService), exactly as AWSElasticDisasterRecoveryConsoleFullAccess (ConsoleFullAccess30) allows it. Snapshot ARNs have no account field.',
  Ec2CreateSecurityGroupsInVpcsViaDrs:
    'ec2:CreateSecurityGroup is authorised on the VPC too (Service Authorization Reference), and the VPC is the one the DRS launch settings choose at run time; only through DRS (aws:ViaAWSService), which AWSElasticDisasterRecoveryConsoleFullAccess (ConsoleFullAccess16) does not state but its ConsoleFullAccess17 requires of the same request, so nothing the managed policy allows is refused.',
  Ec2CreateDrsSecurityGroupsViaDrs:
    'ec2:CreateSecurityGroup is a dependent action of drs:StartRecovery on a group created at run time; only with the AWSElasticDisasterRecoveryManaged request tag and only through DRS (aws:ViaAWSService), exactly as AWSElasticDisasterRecoveryConsoleFullAccess (ConsoleFullAccess17) allows it.',
  Ec2DrsVolumesViaDrs:
    'Volume delete/attach/snapshot are dependent actions of drs:StartRecovery; only on volumes tagged AWSElasticDisasterRecoveryManaged and only through DRS (aws:ViaAWSService).',
  Ec2DetachVolumesViaDrs:
    'ec2:DetachVolume is a dependent action of drs:StartRecovery; only through DRS (aws:ViaAWSService), as in AWSElasticDisasterRecoveryConsoleFullAccess.',
  Ec2CreateDrsSnapshotsViaDrs:
    'ec2:CreateSnapshot is a dependent action of drs:StartRecovery; only with the AWSElasticDisasterRecoveryManaged request tag and only through DRS (aws:ViaAWSService). Snapshot ARNs have no account field.',
  Ec2DeleteDrsSnapshotsViaDrs:
    'ec2:DeleteSnapshot is a dependent action of drs:StartRecovery; only on snapshots tagged AWSElasticDisasterRecoveryManaged and only through DRS (aws:ViaAWSService). Snapshot ARNs have no account field.',
  Ec2DrsSecurityGroupsViaDrs:
    'Security group rule changes are dependent actions of drs:StartRecovery; only on groups tagged AWSElasticDisasterRecoveryManaged and only through DRS (aws:ViaAWSService).',
  WriteReports:
    'Report objects are named per execution at run time, so the grant is every key of the one configured report bucket (s3:PutObject only: no read, list or delete; Object Lock applies the bucket\'s default retention, so no s3:PutObjectRetention).',
  DescribeExecutionsForReports:
    'states:DescribeStateMachineForExecution takes an execution ARN, named at start time; only executions of this deployment\'s own state machines (execution:<name>:*), read for the report (the targets compiled into the machine that ran).',
};

export function workerStatements(stack: Stack, props: WorkerPolicyProps): iam.PolicyStatement[] {
  // One ARN per region the worker calls DRS in with its own credentials: the stack's, then
  // those of waves that name a region and no role (ownCredentialRegions in wave-accounts.ts).
  const regions = regionsOf(stack, props.waveRegions ?? []);
  const arn = (service: string, resource: string, resourceName: string, account?: string) =>
    regions.map((region) =>
      stack.formatArn({ service, resource, resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME, ...(region ? { region } : {}), ...(account !== undefined ? { account } : {}) }),
    );
  const ec2 = (resource: string) => arn('ec2', resource, '*');
  const drs = (resource: string) => arn('drs', resource, '*');
  const viaDrs = { Bool: { 'aws:ViaAWSService': 'true' } };
  const drsManaged = { Null: { [`aws:ResourceTag/${DRS_MANAGED_TAG}`]: 'false' } };
  const drsManagedRequest = { Null: { [`aws:RequestTag/${DRS_MANAGED_TAG}`]: 'false' } };
  const ownExecutions = props.stateMachineNames.map((name) =>
    stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${name}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
  );

  const statements: iam.PolicyStatement[] = [
    // --- Step Functions -----------------------------------------------------------------
    new iam.PolicyStatement({
      sid: 'PollOwnActivities',
      actions: ['states:GetActivityTask'],
      resources: [...props.activityArns],
    }),
    new iam.PolicyStatement({
      sid: 'AnswerActivityTasks',
      actions: ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'],
      resources: ['*'],
    }),
    new iam.PolicyStatement({
      sid: 'CheckRunLockHolder',
      actions: ['states:DescribeExecution'],
      resources: ownExecutions,
    }),
    new iam.PolicyStatement({
      sid: 'PreemptDrills',
      actions: ['states:StopExecution'],
      resources: ownExecutions,
    }),

    // --- DynamoDB: the history table and its indexes, nothing else ------------------------
    new iam.PolicyStatement({
      sid: 'HistoryTable',
      actions: WORKER_DYNAMODB_ACTIONS,
      resources: [props.tableArn, ...props.indexNames.map((i) => `${props.tableArn}/index/${i}`)],
    }),

    // --- DRS --------------------------------------------------------------------------------
    new iam.PolicyStatement({
      sid: 'DrsDescribe',
      actions: ['drs:DescribeJobs', 'drs:DescribeSourceServers', 'drs:DescribeRecoveryInstances', 'drs:DescribeSourceNetworks', 'drs:ListTagsForResource'],
      resources: ['*'],
    }),
    new iam.PolicyStatement({
      sid: 'DrsJobLog',
      actions: ['drs:DescribeJobLogItems'],
      resources: drs('job'),
    }),
    new iam.PolicyStatement({
      sid: 'DrsRecoverySnapshots',
      actions: ['drs:DescribeRecoverySnapshots'],
      resources: drs('source-server'),
    }),
    new iam.PolicyStatement({
      sid: 'DrsStartRecovery',
      actions: ['drs:StartRecovery'],
      resources: drs('source-server'),
      // A job without the execution tag could not be found again by a retried start task,
      // and StartRecovery has no client token: refuse to launch one.
      ...(props.executionTagKey ? { conditions: { Null: { [`aws:RequestTag/${props.executionTagKey}`]: 'false' } } } : {}),
    }),
    new iam.PolicyStatement({
      sid: 'DrsCreateRecoveryInstance',
      actions: ['drs:CreateRecoveryInstanceForDrs'],
      resources: drs('source-server'),
    }),
    new iam.PolicyStatement({
      sid: 'DrsTagOnCreateOnly',
      actions: ['drs:TagResource'],
      resources: ['*'],
      conditions: { StringEquals: { 'drs:CreateAction': ['StartRecovery', 'CreateRecoveryInstanceForDrs', 'StartSourceNetworkRecovery', 'StartFailbackLaunch'] } },
    }),
    // A plan's recoverNetwork actions (issue #24). SAR: StartSourceNetworkRecovery authorises
    // drs:StartSourceNetworkRecovery and, for its tags, drs:TagResource (above). What DRS then
    // does to deploy or update each network's CloudFormation stack (the stack and the VPC,
    // subnets, route tables, gateways and security groups in it) is not listed as dependent
    // actions of the call, and drs-sim simulates the job, not the stack: only a drill in a real
    // account shows whether DRS makes those calls as its service-linked role or with the
    // worker's credentials. If the job's log names a refused cloudformation: or ec2: action,
    // grant it here (with aws:ViaAWSService, as the launch statements below do).
    new iam.PolicyStatement({
      sid: 'DrsStartSourceNetworkRecovery',
      actions: ['drs:StartSourceNetworkRecovery'],
      resources: drs('source-network'),
      // A network job without its tag could not be found again by a retried start task.
      ...(props.networkTagKey ? { conditions: { Null: { [`aws:RequestTag/${props.networkTagKey}`]: 'false' } } } : {}),
    }),
    new iam.PolicyStatement({
      sid: 'DrsTerminateDrillInstances',
      actions: ['drs:TerminateRecoveryInstances'],
      resources: drs('recovery-instance'),
    }),
    // A FAILBACK (issue #27): StartFailbackLaunch and StopFailback take recovery instances
    // (SAR), the RECOVERY's, known only at run time; StartFailbackLaunch is allowed only with
    // the execution job tag on the request, as StartRecovery is.
    new iam.PolicyStatement({
      sid: 'DrsFailbackLaunch',
      actions: ['drs:StartFailbackLaunch'],
      resources: drs('recovery-instance'),
      ...(props.executionTagKey ? { conditions: { Null: { [`aws:RequestTag/${props.executionTagKey}`]: 'false' } } } : {}),
    }),
    new iam.PolicyStatement({
      sid: 'DrsStopFailback',
      actions: ['drs:StopFailback'],
      resources: drs('recovery-instance'),
    }),

    // --- What DRS does with the worker's permissions while launching ---------------------------
    new iam.PolicyStatement({
      sid: 'Ec2DescribeForDrs',
      actions: EC2_READS_FOR_DRS,
      resources: ['*'],
    }),
    new iam.PolicyStatement({
      sid: 'PassDrsRolesToEc2',
      actions: ['iam:PassRole'],
      resources: DRS_SERVICE_ROLES.map((r) => stack.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: `service-role/${r}`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME })),
      conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
    }),
    // Launch templates whose IAM instance profile holds a role of the operator's own: DRS
    // passes it to EC2 with the worker's permissions, and without this a launch fails.
    ...(props.instanceRoles && props.instanceRoles.length > 0
      ? [
          new iam.PolicyStatement({
            sid: 'PassLaunchTemplateRolesToEc2',
            actions: ['iam:PassRole'],
            resources: props.instanceRoles.map((r) => (r.startsWith('arn:') ? r : stack.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: r, arnFormat: ArnFormat.SLASH_RESOURCE_NAME }))),
            conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
          }),
        ]
      : []),
    // Launch templates: as AWSElasticDisasterRecoveryConsoleFullAccess has them, tag conditions
    // and no aws:ViaAWSService (see the header: a condition the managed policy lacks could fail
    // a real launch).
    new iam.PolicyStatement({
      sid: 'Ec2CreateDrsLaunchTemplate',
      actions: ['ec2:CreateLaunchTemplate'],
      resources: ec2('launch-template'),
      conditions: drsManagedRequest,
    }),
    new iam.PolicyStatement({
      sid: 'Ec2MaintainDrsLaunchTemplates',
      actions: ['ec2:CreateLaunchTemplateVersion', 'ec2:ModifyLaunchTemplate', 'ec2:DeleteLaunchTemplateVersions', 'ec2:CreateTags', 'ec2:DeleteTags'],
      resources: ec2('launch-template'),
      conditions: drsManaged,
    }),
    new iam.PolicyStatement({
      sid: 'Ec2TagLaunchTemplateOnCreate',
      actions: ['ec2:CreateTags'],
      resources: ec2('launch-template'),
      conditions: { StringEquals: { 'ec2:CreateAction': ['CreateLaunchTemplate'] } },
    }),
    new iam.PolicyStatement({
      sid: 'Ec2TagOnCreateViaDrs',
      actions: ['ec2:CreateTags'],
      resources: [...ec2('security-group'), ...ec2('volume'), ...arn('ec2', 'snapshot', '*', '*'), ...ec2('instance')],
      conditions: { StringEquals: { 'ec2:CreateAction': ['CreateSecurityGroup', 'CreateVolume', 'CreateSnapshot', 'RunInstances'] }, ...viaDrs },
    }),
    new iam.PolicyStatement({
      sid: 'Ec2RunDrsInstancesViaDrs',
      actions: ['ec2:RunInstances'],
      resources: ec2('instance'),
      conditions: { ...drsManagedRequest, ...viaDrs },
    }),
    new iam.PolicyStatement({
      sid: 'Ec2RunInstancesResourcesViaDrs',
      actions: ['ec2:RunInstances'],
      resources: [
        ...ec2('security-group'),
        ...ec2('volume'),
        ...ec2('subnet'),
        ...arn('ec2', 'image', '*', ''),
        ...ec2('network-interface'),
        ...ec2('launch-template'),
      ],
      conditions: viaDrs,
    }),
    new iam.PolicyStatement({
      sid: 'Ec2DrsInstancesViaDrs',
      actions: ['ec2:StartInstances', 'ec2:StopInstances', 'ec2:TerminateInstances', 'ec2:ModifyInstanceAttribute', 'ec2:AttachVolume', 'ec2:DetachVolume'],
      resources: ec2('instance'),
      conditions: { ...drsManaged, ...viaDrs },
    }),
    new iam.PolicyStatement({
      sid: 'Ec2CreateDrsVolumesViaDrs',
      actions: ['ec2:CreateVolume'],
      resources: ec2('volume'),
      conditions: { ...drsManagedRequest, ...viaDrs },
    }),
    // CreateVolume from a snapshot is authorised on the snapshot as well as on the new volume:
    // without this every volume DRS restores from its snapshots is refused and the server ends
    // LAUNCH_FAILED. ConsoleFullAccess30, conditions and all: the snapshot must be DRS's own
    // (its tag), and aws:ViaAWSService stays because the managed policy requires it and the
    // worker never creates a volume itself (only DRS does, as StartRecovery's dependent action).
    new iam.PolicyStatement({
      sid: 'Ec2CreateVolumesFromDrsSnapshotsViaDrs',
      actions: ['ec2:CreateVolume'],
      resources: arn('ec2', 'snapshot', '*', '*'),
      conditions: { ...drsManaged, ...viaDrs },
    }),
    new iam.PolicyStatement({
      sid: 'Ec2DrsVolumesViaDrs',
      actions: ['ec2:DeleteVolume', 'ec2:AttachVolume', 'ec2:CreateSnapshot'],
      resources: ec2('volume'),
      conditions: { ...drsManaged, ...viaDrs },
    }),
    new iam.PolicyStatement({
      sid: 'Ec2DetachVolumesViaDrs',
      actions: ['ec2:DetachVolume'],
      resources: ec2('volume'),
      conditions: viaDrs,
    }),
    new iam.PolicyStatement({
      sid: 'Ec2CreateDrsSnapshotsViaDrs',
      actions: ['ec2:CreateSnapshot'],
      resources: arn('ec2', 'snapshot', '*', '*'),
      conditions: { ...drsManagedRequest, ...viaDrs },
    }),
    new iam.PolicyStatement({
      sid: 'Ec2DeleteDrsSnapshotsViaDrs',
      actions: ['ec2:DeleteSnapshot'],
      resources: arn('ec2', 'snapshot', '*', '*'),
      conditions: { ...drsManaged, ...viaDrs },
    }),
    // CreateSecurityGroup is authorised on the VPC and on the new group (SAR). The CreateTags
    // statement above already expects CreateSecurityGroup as its ec2:CreateAction, but nothing
    // granted the action itself. ConsoleFullAccess17 (the group): the request tag and
    // aws:ViaAWSService, both kept as the managed policy has them. ConsoleFullAccess16 (the
    // VPC) has no condition; here it carries aws:ViaAWSService too, because the worker never
    // creates a security group itself (only DRS, as StartRecovery's dependent action), and
    // because it refuses nothing the managed policy allows: both resources are authorised in
    // the same request, whose aws:ViaAWSService ConsoleFullAccess17 already requires to be true.
    // The VPC is scoped to this account and the regions where DRS launches with these permissions.
    new iam.PolicyStatement({
      sid: 'Ec2CreateSecurityGroupsInVpcsViaDrs',
      actions: ['ec2:CreateSecurityGroup'],
      resources: ec2('vpc'),
      conditions: viaDrs,
    }),
    new iam.PolicyStatement({
      sid: 'Ec2CreateDrsSecurityGroupsViaDrs',
      actions: ['ec2:CreateSecurityGroup'],
      resources: ec2('security-group'),
      conditions: { ...drsManagedRequest, ...viaDrs },
    }),
    new iam.PolicyStatement({
      sid: 'Ec2DrsSecurityGroupsViaDrs',
      actions: ['ec2:RevokeSecurityGroupEgress', 'ec2:AuthorizeSecurityGroupIngress', 'ec2:AuthorizeSecurityGroupEgress'],
      resources: ec2('security-group'),
      conditions: { ...drsManaged, ...viaDrs },
    }),
  ];
  if (props.reportBucketArn) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'WriteReports',
        actions: ['s3:PutObject'],
        resources: [`${props.reportBucketArn}/*`],
      }),
      new iam.PolicyStatement({
        sid: 'DescribeExecutionsForReports',
        actions: ['states:DescribeStateMachineForExecution'],
        resources: ownExecutions,
      }),
    );
  }
  // Waves in other accounts: the worker assumes each role a deployed plan names (the role's
  // trust policy, cdk/role-template/, decides whether it may). Exactly those ARNs, never a
  // pattern, and no statement at all when no plan names a role.
  const roles = [...new Set(props.waveRoleArns ?? [])].sort();
  if (roles.length > 0) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'AssumeWaveRoles',
        actions: ['sts:AssumeRole'],
        resources: roles,
      }),
    );
  }
  const topics = [...new Set(props.notifyTopicArns ?? [])].sort();
  if (topics.length > 0) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'NotifyGateTopics',
        actions: ['sns:Publish'],
        resources: topics,
      }),
    );
  }
  return statements;
}
