/**
 * The deployment's configuration (`cdk/config.json`, documented in cdk/README.md): which plans,
 * which schedules, the worker's size, alarm e-mail, tags, network.
 *
 * Validation is typed and strict: unknown keys are rejected (a misspelt `desiredCout` must not
 * silently deploy the default), and every problem is reported at once with its path, so
 * `cdk synth` fails before any resource exists.
 */
import * as fs from 'node:fs';

export type Architecture = 'ARM64' | 'X86_64';
export type StateMachineLogLevel = 'ALL' | 'ERROR';

export interface ScheduleConfig {
  /** EventBridge Scheduler cron fields: `minutes hours day-of-month month day-of-week year`. */
  readonly cron: string;
  /** IANA time zone the cron expression is read in. */
  readonly timezone: string;
  readonly enabled: boolean;
}

export interface WorkerConfig {
  /**
   * Running worker tasks. Two by default, spread by ECS over the worker subnets' availability
   * zones, so that losing one task or one AZ does not stall every running execution.
   */
  readonly desiredCount: number;
  readonly cpu: number;
  readonly memory: number;
  readonly architecture: Architecture;
  /**
   * Tasks the worker runs at once (DRS_WAVES_MAX_TASKS). An open poll holds no task permit, so
   * this need not exceed the number of polls.
   */
  readonly maxTasks: number;
  /**
   * Long polls (GetActivityTask) each worker task keeps open per activity
   * (DRS_WAVES_POLLERS_PER_ACTIVITY). A token handed to a poll that is then cut short blocks
   * further GetActivityTask calls for up to 60 s, so more than one poll per activity keeps tasks
   * flowing; AWS allows 1,000 per activity ARN across all workers.
   */
  readonly pollersPerActivity: number;
  readonly logRetentionDays: number;
  /** DRS_WAVES_JANITOR_INTERVAL_SECONDS; unset: the worker's default. */
  readonly janitorIntervalSeconds?: number;
  /** RUST_LOG (an env-filter directive such as `info` or `drs_worker=debug,info`); unset: the worker's default. */
  readonly logLevel?: string;
  /**
   * DRS_WAVES_REPORT_BUCKET: an existing S3 bucket the worker writes execution reports to,
   * instead of the one the stack creates (`reports`).
   */
  readonly reportBucket?: string;
}

export type ObjectLockMode = 'GOVERNANCE' | 'COMPLIANCE';

/**
 * The report bucket the stack creates (unless `worker.reportBucket` names an existing one):
 * versioned, S3 Object Lock with a default retention, no public access, TLS only, kept when the
 * stack is deleted. The finish and record-failure tasks write each execution's report there.
 */
export interface ReportsConfig {
  /** False: the stack creates none (no reports, or `worker.reportBucket` is used). */
  readonly createBucket: boolean;
  /**
   * GOVERNANCE: a report version cannot be overwritten or deleted during its retention except by
   * a principal allowed s3:BypassGovernanceRetention. COMPLIANCE: by no one, the root user
   * included, until the retention ends (choose it only knowing that).
   */
  readonly objectLockMode: ObjectLockMode;
  /** How long each report version is locked. */
  readonly retentionDays: number;
}

/**
 * Who gets the operator policy (the `drs-waves` CLI's permissions on this deployment): existing
 * IAM roles and groups, by name. The policy exists (output `OperatorPolicyArn`) either way.
 */
export interface OperatorsConfig {
  /** Role names (no path, no ARN: CloudFormation attaches managed policies by name). */
  readonly roles: readonly string[];
  /** Group names (no path). */
  readonly groups: readonly string[];
  /**
   * A fixed name for the managed policy (unset: CloudFormation makes one up). IAM Identity
   * Center permission sets refer to customer managed policies by name. IAM names are global to
   * the account: a second deployment (another region or prefix) needs another name.
   */
  readonly policyName?: string;
}

/**
 * The account's DRS quotas as the worker should respect them (the values AWS documents vary,
 * so they are settings), and the roles DRS may pass to the instances it launches.
 */
export interface DrsConfig {
  /** DRS_WAVES_MAX_SERVERS_PER_JOB; unset: the worker's default. */
  readonly maxServersPerJob?: number;
  /** DRS_WAVES_MAX_ACTIVE_SERVERS; unset: the worker's default. */
  readonly maxActiveServers?: number;
  /** DRS_WAVES_MAX_CONCURRENT_JOBS; unset: the worker's default. */
  readonly maxConcurrentJobs?: number;
  /**
   * Roles of the instance profiles that the DRS launch templates name. DRS launches with the
   * worker's permissions, so the worker needs iam:PassRole on them (to EC2 only).
   */
  readonly instanceRoles: readonly string[];
}

/** The VPC endpoints the stack can create; each one is a choice (see ENDPOINTS). */
export type EndpointName = 'dynamodb' | 's3' | 'stepFunctions' | 'drs' | 'logs' | 'ecrApi' | 'ecrDocker';

export const ENDPOINTS: Readonly<Record<EndpointName, { readonly kind: 'gateway' | 'interface'; readonly why: string }>> = {
  dynamodb: { kind: 'gateway', why: 'the history table' },
  s3: { kind: 'gateway', why: 'image layers (ECR keeps them in S3) and the report bucket' },
  stepFunctions: { kind: 'interface', why: 'GetActivityTask and SendTask*' },
  drs: { kind: 'interface', why: 'StartRecovery, DescribeJobs and the rest of DRS' },
  logs: { kind: 'interface', why: 'the awslogs driver shipping the worker log' },
  ecrApi: { kind: 'interface', why: 'the image pull (ECR API)' },
  ecrDocker: { kind: 'interface', why: 'the image pull (Docker registry API)' },
};
export const ENDPOINT_NAMES = Object.keys(ENDPOINTS) as EndpointName[];

export interface NetworkConfig {
  /** An existing VPC; when absent a VPC with private subnets and NAT is created. */
  readonly vpcId?: string;
  readonly privateSubnetIds?: readonly string[];
  /** Existing VPC: the route table of each private subnet, same order (needed for gateway endpoints). */
  readonly privateSubnetRouteTableIds?: readonly string[];
  readonly availabilityZones?: readonly string[];
  /** For a new VPC. */
  readonly maxAzs: number;
  readonly natGateways: number;
  /**
   * Which endpoints the stack creates. New VPC: the free gateway endpoints by default, interface
   * endpoints on request. Existing VPC: only its owner knows what it has, so every one is stated.
   */
  readonly endpoints: Readonly<Record<EndpointName, boolean>>;
}

export interface AlarmsConfig {
  /** An activity task that waited longer than this to be picked up raises the alarm. */
  readonly activityScheduleSeconds: number;
}

export interface StateMachineLoggingConfig {
  readonly level: StateMachineLogLevel;
  readonly includeExecutionData: boolean;
  readonly retentionDays: number;
}

export interface DrsWavesConfig {
  readonly stackName: string;
  readonly env?: { readonly account?: string; readonly region?: string };
  /** Prefix of activity and state machine names; default: the contract's activityPrefix. */
  readonly namePrefix?: string;
  /** Default: the contract's historyTable.defaultName. */
  readonly historyTableName?: string;
  /**
   * Plans to deploy (names of statemachines/<plan>.asl.json). No default: the repository's
   * example plans must never be deployed by accident, so an absent list fails synth.
   */
  readonly plans?: readonly string[];
  readonly schedules: Readonly<Record<string, ScheduleConfig>>;
  readonly worker: WorkerConfig;
  readonly drs: DrsConfig;
  readonly alarmEmail?: string;
  readonly alarms: AlarmsConfig;
  readonly tags: Readonly<Record<string, string>>;
  readonly deletionProtection: boolean;
  readonly network: NetworkConfig;
  readonly stateMachineLogging: StateMachineLoggingConfig;
  readonly reports: ReportsConfig;
  readonly operators: OperatorsConfig;
}

/** CloudWatch Logs accepts only these retention periods. */
export const RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Fargate's CPU units and, for each, the memory (MiB) it accepts. */
export function fargateMemoryFor(cpu: number): number[] | undefined {
  const range = (from: number, to: number, step: number) => {
    const out: number[] = [];
    for (let m = from; m <= to; m += step) out.push(m);
    return out;
  };
  switch (cpu) {
    case 256:
      return [512, 1024, 2048];
    case 512:
      return range(1024, 4096, 1024);
    case 1024:
      return range(2048, 8192, 1024);
    case 2048:
      return range(4096, 16384, 1024);
    case 4096:
      return range(8192, 30720, 1024);
    case 8192:
      return range(16384, 61440, 4096);
    case 16384:
      return range(32768, 122880, 8192);
    default:
      return undefined;
  }
}

export const DEFAULTS = {
  stackName: 'DrsWaves',
  worker: { desiredCount: 2, cpu: 512, memory: 1024, architecture: 'ARM64', maxTasks: 20, pollersPerActivity: 10, logRetentionDays: 90 },
  network: { maxAzs: 2, natGateways: 2 },
  /** New VPC: free gateway endpoints yes, interface endpoints (hourly cost; NAT covers them) no. */
  newVpcEndpoints: { dynamodb: true, s3: true, stepFunctions: false, drs: false, logs: false, ecrApi: false, ecrDocker: false },
  drs: { instanceRoles: [] as string[] },
  alarms: { activityScheduleSeconds: 120 },
  stateMachineLogging: { level: 'ALL', includeExecutionData: false, retentionDays: 90 },
  deletionProtection: true,
  reports: { objectLockMode: 'GOVERNANCE', retentionDays: 365 },
  operators: { roles: [] as string[], groups: [] as string[] },
} as const;

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super(`${source}: invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Collects problems instead of stopping at the first, so one synth shows them all. */
class Checker {
  readonly problems: string[] = [];

  fail(path: string, message: string): void {
    this.problems.push(`${path}: ${message}`);
  }

  object(path: string, v: unknown, allowed: readonly string[]): Record<string, Json> | undefined {
    if (v === undefined) return undefined;
    if (!isObject(v)) {
      this.fail(path, 'must be an object');
      return undefined;
    }
    for (const k of Object.keys(v)) {
      if (k === '$comment') continue;
      if (!allowed.includes(k)) this.fail(path ? `${path}.${k}` : k, `unknown key (allowed: ${allowed.join(', ')})`);
    }
    return v;
  }

  /** An object whose keys are names (plans, tag keys) rather than a fixed set. */
  record(path: string, v: unknown): Record<string, Json> | undefined {
    if (v === undefined) return undefined;
    if (!isObject(v)) {
      this.fail(path, 'must be an object');
      return undefined;
    }
    return v;
  }

  string(path: string, v: unknown, pattern?: RegExp, hint?: string): string | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length === 0) {
      this.fail(path, 'must be a non-empty string');
      return undefined;
    }
    if (pattern && !pattern.test(v)) {
      this.fail(path, `${JSON.stringify(v)} ${hint ?? `does not match ${pattern}`}`);
      return undefined;
    }
    return v;
  }

  boolean(path: string, v: unknown): boolean | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') {
      this.fail(path, 'must be true or false');
      return undefined;
    }
    return v;
  }

  integer(path: string, v: unknown, min: number, max: number): number | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(path, `must be an integer from ${min} to ${max}`);
      return undefined;
    }
    return v;
  }

  oneOf<T extends string | number>(path: string, v: unknown, allowed: readonly T[]): T | undefined {
    if (v === undefined) return undefined;
    if (!allowed.includes(v as T)) {
      this.fail(path, `${JSON.stringify(v)} is not one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
      return undefined;
    }
    return v as T;
  }

  /** `allowRepeats`: entries may repeat (zones or route tables shared by several subnets). */
  stringArray(path: string, v: unknown, pattern: RegExp, hint: string, allowRepeats = false): string[] | undefined {
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.length === 0) {
      this.fail(path, 'must be a non-empty array of strings');
      return undefined;
    }
    const out: string[] = [];
    v.forEach((item, i) => {
      const s = this.string(`${path}[${i}]`, item, pattern, hint);
      if (s !== undefined) {
        if (!allowRepeats && out.includes(s)) this.fail(`${path}[${i}]`, `${JSON.stringify(s)} is listed twice`);
        out.push(s);
      }
    });
    return out;
  }
}

const CRON_FIELD = /^[0-9A-Za-z*?,\-/#]+$/;
/** tracing-subscriber env-filter directives: targets, levels, `=`, `,` (no spans or field filters). */
const LOG_FILTER = /^[A-Za-z0-9_:.=,-]+$/;
/** S3 bucket names (general purpose): 3-63 lower-case letters, digits, dots and hyphens. */
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** IAM role and group names (no path): what AWS::IAM::ManagedPolicy's Roles and Groups take. */
const IAM_ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
const IAM_GROUP_NAME = /^[\w+=,.@-]{1,128}$/;
/** A customer managed policy name. */
const IAM_POLICY_NAME = /^[\w+=,.@-]{1,128}$/;
/** A role name, `path/name`, or a role ARN (any partition). */
const ROLE = /^(arn:aws[a-z-]*:iam::\d{12}:role\/)?([\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;

/** Checks EventBridge Scheduler's six-field cron (`cron(...)` around it is accepted too). */
export function normaliseCron(expr: string): { fields?: string; error?: string } {
  const inner = expr.trim().replace(/^cron\((.*)\)$/s, '$1').trim();
  const fields = inner.split(/\s+/);
  if (fields.length !== 6) {
    return {
      error:
        `${JSON.stringify(expr)} has ${fields.length} fields; EventBridge Scheduler cron has 6: ` +
        'minutes hours day-of-month month day-of-week year (e.g. "0 3 ? * SUN#1 *")',
    };
  }
  const bad = fields.find((f) => !CRON_FIELD.test(f));
  if (bad !== undefined) return { error: `${JSON.stringify(expr)}: field ${JSON.stringify(bad)} has characters cron does not use` };
  const [, , dom, , dow] = fields;
  if ((dom === '?') === (dow === '?')) {
    return { error: `${JSON.stringify(expr)}: exactly one of day-of-month and day-of-week must be "?"` };
  }
  return { fields: fields.join(' ') };
}

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const TOP_KEYS = [
  'stackName',
  'env',
  'namePrefix',
  'historyTableName',
  'plans',
  'schedules',
  'worker',
  'drs',
  'alarmEmail',
  'alarms',
  'tags',
  'deletionProtection',
  'network',
  'stateMachineLogging',
  'reports',
  'operators',
] as const;

/** Validates parsed JSON; `source` names the file in messages. */
export function parseConfig(raw: unknown, source: string): DrsWavesConfig {
  const c = new Checker();
  const top = c.object('', raw, TOP_KEYS);
  if (raw === undefined || !isObject(raw) || top === undefined) {
    if (c.problems.length === 0) c.fail('(root)', 'must be an object');
    throw new ConfigError(source, c.problems.length ? c.problems : ['(root): must be a JSON object']);
  }

  const stackName = c.string('stackName', top.stackName, /^[A-Za-z][A-Za-z0-9-]{0,127}$/, 'is not a CloudFormation stack name') ?? DEFAULTS.stackName;

  const envRaw = c.object('env', top.env, ['account', 'region']);
  const env = envRaw
    ? {
        account: c.string('env.account', envRaw.account, /^\d{12}$/, 'is not a 12-digit AWS account ID'),
        region: c.string('env.region', envRaw.region, /^[a-z]{2}(-[a-z]+)+-\d$/, 'is not an AWS region name'),
      }
    : undefined;

  const namePrefix = c.string('namePrefix', top.namePrefix, /^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$/, 'must be 1-16 letters, digits, - or _');
  const historyTableName = c.string('historyTableName', top.historyTableName, /^[A-Za-z0-9_.-]{3,255}$/, 'is not a DynamoDB table name');

  let plans: string[] | undefined;
  if (top.plans === 'all') {
    c.fail('plans', '"all" is not accepted: list the plans to deploy by name, so that an example plan or a stray file in statemachines/ is never deployed');
  } else if (top.plans !== undefined) {
    plans = c.stringArray('plans', top.plans, /^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'is not a plan name (statemachines/<plan>.asl.json)');
  }

  const schedules: Record<string, ScheduleConfig> = {};
  const schedRaw = c.record('schedules', top.schedules);
  if (schedRaw) {
    for (const [plan, s] of Object.entries(schedRaw)) {
      if (plan === '$comment') continue;
      const path = `schedules.${plan}`;
      const o = c.object(path, s, ['cron', 'timezone', 'enabled']);
      if (!o) continue;
      const cron = c.string(`${path}.cron`, o.cron);
      if (cron === undefined && o.cron === undefined) c.fail(`${path}.cron`, 'is required');
      const timezone = c.string(`${path}.timezone`, o.timezone) ?? (o.timezone === undefined ? 'UTC' : undefined);
      if (timezone !== undefined && !validTimeZone(timezone)) c.fail(`${path}.timezone`, `${JSON.stringify(timezone)} is not an IANA time zone (e.g. "Europe/Berlin")`);
      const enabled = c.boolean(`${path}.enabled`, o.enabled) ?? true;
      if (cron !== undefined) {
        const n = normaliseCron(cron);
        if (n.error) c.fail(`${path}.cron`, n.error);
        else if (timezone !== undefined) schedules[plan] = { cron: n.fields!, timezone, enabled };
      }
    }
  }

  const w =
    c.object('worker', top.worker, [
      'desiredCount',
      'cpu',
      'memory',
      'architecture',
      'maxTasks',
      'pollersPerActivity',
      'logRetentionDays',
      'janitorIntervalSeconds',
      'logLevel',
      'reportBucket',
    ]) ?? {};
  const cpu = c.oneOf('worker.cpu', w.cpu, [256, 512, 1024, 2048, 4096, 8192, 16384]) ?? DEFAULTS.worker.cpu;
  const memory = c.integer('worker.memory', w.memory, 512, 122880) ?? DEFAULTS.worker.memory;
  const allowedMemory = fargateMemoryFor(cpu);
  if (allowedMemory && !allowedMemory.includes(memory)) {
    c.fail('worker.memory', `${memory} MiB is not a Fargate size for ${cpu} CPU units (allowed: ${allowedMemory[0]}-${allowedMemory[allowedMemory.length - 1]} in the steps Fargate documents)`);
  }
  const worker: WorkerConfig = {
    desiredCount: c.integer('worker.desiredCount', w.desiredCount, 0, 10) ?? DEFAULTS.worker.desiredCount,
    cpu,
    memory,
    architecture: c.oneOf('worker.architecture', w.architecture, ['ARM64', 'X86_64'] as const) ?? DEFAULTS.worker.architecture,
    maxTasks: c.integer('worker.maxTasks', w.maxTasks, 1, 1000) ?? DEFAULTS.worker.maxTasks,
    // At most 100: with at most 10 worker tasks that stays within Step Functions' 1,000
    // concurrent pollers per activity ARN.
    pollersPerActivity: c.integer('worker.pollersPerActivity', w.pollersPerActivity, 1, 100) ?? DEFAULTS.worker.pollersPerActivity,
    logRetentionDays: c.oneOf('worker.logRetentionDays', w.logRetentionDays, RETENTION_DAYS) ?? DEFAULTS.worker.logRetentionDays,
    janitorIntervalSeconds: c.integer('worker.janitorIntervalSeconds', w.janitorIntervalSeconds, 10, 3600),
    logLevel: c.string('worker.logLevel', w.logLevel, LOG_FILTER, 'is not a log filter (e.g. "info", "debug" or "drs_worker=debug,info")'),
    reportBucket: c.string('worker.reportBucket', w.reportBucket, S3_BUCKET, 'is not an S3 bucket name'),
  };

  const d = c.object('drs', top.drs, ['maxServersPerJob', 'maxActiveServers', 'maxConcurrentJobs', 'instanceRoles']) ?? {};
  const drs: DrsConfig = {
    // DRS accepts at most 200 source servers in one StartRecovery (its API limit).
    maxServersPerJob: c.integer('drs.maxServersPerJob', d.maxServersPerJob, 1, 200),
    maxActiveServers: c.integer('drs.maxActiveServers', d.maxActiveServers, 1, 100000),
    maxConcurrentJobs: c.integer('drs.maxConcurrentJobs', d.maxConcurrentJobs, 1, 1000),
    instanceRoles:
      d.instanceRoles === undefined
        ? DEFAULTS.drs.instanceRoles
        : c.stringArray('drs.instanceRoles', d.instanceRoles, ROLE, 'is not an IAM role name, path/name or role ARN') ?? [],
  };
  if (drs.maxServersPerJob !== undefined && drs.maxActiveServers !== undefined && drs.maxServersPerJob > drs.maxActiveServers) {
    c.fail('drs.maxServersPerJob', `${drs.maxServersPerJob} is more than drs.maxActiveServers (${drs.maxActiveServers}): no job that size could start`);
  }

  const a = c.object('alarms', top.alarms, ['activityScheduleSeconds']) ?? {};
  const alarms: AlarmsConfig = {
    activityScheduleSeconds: c.integer('alarms.activityScheduleSeconds', a.activityScheduleSeconds, 10, 86400) ?? DEFAULTS.alarms.activityScheduleSeconds,
  };

  const alarmEmail = c.string('alarmEmail', top.alarmEmail, /^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'is not an e-mail address');

  const tags: Record<string, string> = {};
  const tagsRaw = c.record('tags', top.tags);
  if (tagsRaw) {
    for (const [k, v] of Object.entries(tagsRaw)) {
      if (k === '$comment') continue;
      if (k.length > 128 || k.toLowerCase().startsWith('aws:')) c.fail(`tags.${k}`, 'tag keys are at most 128 characters and must not start with "aws:"');
      if (typeof v !== 'string' || v.length > 256) c.fail(`tags.${k}`, 'tag values must be strings of at most 256 characters');
      else tags[k] = v;
    }
  }

  const deletionProtection = c.boolean('deletionProtection', top.deletionProtection) ?? DEFAULTS.deletionProtection;

  const n =
    c.object('network', top.network, ['vpcId', 'privateSubnetIds', 'privateSubnetRouteTableIds', 'availabilityZones', 'maxAzs', 'natGateways', 'endpoints', 'interfaceEndpoints']) ??
    {};
  if (n.interfaceEndpoints !== undefined) {
    c.fail('network.interfaceEndpoints', `replaced by network.endpoints, one choice per endpoint (${ENDPOINT_NAMES.join(', ')}); see cdk/README.md`);
  }
  const vpcId = c.string('network.vpcId', n.vpcId, /^vpc-[0-9a-f]{8,17}$/, 'is not a VPC ID');
  const e = c.object('network.endpoints', n.endpoints, ENDPOINT_NAMES) ?? {};
  const endpoints = {} as Record<EndpointName, boolean>;
  const unstated: EndpointName[] = [];
  for (const name of ENDPOINT_NAMES) {
    const v = c.boolean(`network.endpoints.${name}`, e[name]);
    if (v !== undefined) endpoints[name] = v;
    else if (e[name] === undefined && vpcId !== undefined) unstated.push(name);
    else endpoints[name] = DEFAULTS.newVpcEndpoints[name];
  }
  if (unstated.length > 0) {
    c.fail(
      'network.endpoints',
      `with network.vpcId every endpoint must be stated, since only the VPC's owner knows which it has: ${unstated.join(', ')} missing. ` +
        'true creates the endpoint here (interface endpoints with private DNS); false if the VPC already has one ' +
        '(or a central private hosted zone answers for the service) or the worker subnets reach it through NAT',
    );
  }
  const network: NetworkConfig = {
    vpcId,
    privateSubnetIds: c.stringArray('network.privateSubnetIds', n.privateSubnetIds, /^subnet-[0-9a-f]{8,17}$/, 'is not a subnet ID'),
    privateSubnetRouteTableIds: c.stringArray('network.privateSubnetRouteTableIds', n.privateSubnetRouteTableIds, /^rtb-[0-9a-f]{8,17}$/, 'is not a route table ID', true),
    availabilityZones: c.stringArray('network.availabilityZones', n.availabilityZones, /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, 'is not an availability zone name', true),
    maxAzs: c.integer('network.maxAzs', n.maxAzs, 1, 6) ?? DEFAULTS.network.maxAzs,
    natGateways: c.integer('network.natGateways', n.natGateways, 1, 6) ?? DEFAULTS.network.natGateways,
    endpoints,
  };
  if (network.vpcId !== undefined) {
    const subnets = network.privateSubnetIds;
    if (!subnets) c.fail('network.privateSubnetIds', 'is required with network.vpcId (the worker runs in these subnets; they need a route to the AWS APIs)');
    if (!network.availabilityZones) c.fail('network.availabilityZones', 'is required with network.vpcId (one per subnet, in the same order), so synth needs no VPC lookup');
    if (subnets && network.availabilityZones && subnets.length !== network.availabilityZones.length) {
      c.fail('network.availabilityZones', 'must have one entry per privateSubnetIds entry');
    }
    const gateways = ENDPOINT_NAMES.filter((k) => ENDPOINTS[k].kind === 'gateway' && endpoints[k]);
    if (gateways.length > 0 && !network.privateSubnetRouteTableIds) {
      c.fail('network.privateSubnetRouteTableIds', `is required to create the gateway endpoints (${gateways.join(', ')}) in an existing VPC: the route table of each private subnet, same order`);
    }
    if (subnets && network.privateSubnetRouteTableIds && subnets.length !== network.privateSubnetRouteTableIds.length) {
      c.fail('network.privateSubnetRouteTableIds', 'must have one entry per privateSubnetIds entry');
    }
    for (const k of ['maxAzs', 'natGateways'] as const) {
      if (n[k] !== undefined) c.fail(`network.${k}`, 'applies only to a new VPC; remove it or remove network.vpcId');
    }
  } else {
    if (n.privateSubnetIds !== undefined) c.fail('network.privateSubnetIds', 'needs network.vpcId');
    if (n.privateSubnetRouteTableIds !== undefined) c.fail('network.privateSubnetRouteTableIds', 'needs network.vpcId');
    const azCount = network.availabilityZones?.length ?? network.maxAzs;
    if (network.natGateways > azCount) c.fail('network.natGateways', `cannot exceed the number of availability zones (${azCount})`);
    if (network.availabilityZones && n.maxAzs !== undefined) c.fail('network.maxAzs', 'give either network.maxAzs or network.availabilityZones, not both');
  }

  const l = c.object('stateMachineLogging', top.stateMachineLogging, ['level', 'includeExecutionData', 'retentionDays']) ?? {};
  const stateMachineLogging: StateMachineLoggingConfig = {
    level: c.oneOf('stateMachineLogging.level', l.level, ['ALL', 'ERROR'] as const) ?? DEFAULTS.stateMachineLogging.level,
    includeExecutionData: c.boolean('stateMachineLogging.includeExecutionData', l.includeExecutionData) ?? DEFAULTS.stateMachineLogging.includeExecutionData,
    retentionDays: c.oneOf('stateMachineLogging.retentionDays', l.retentionDays, RETENTION_DAYS) ?? DEFAULTS.stateMachineLogging.retentionDays,
  };

  const r = c.object('reports', top.reports, ['createBucket', 'objectLockMode', 'retentionDays']) ?? {};
  const createBucket = c.boolean('reports.createBucket', r.createBucket);
  if (createBucket === true && worker.reportBucket !== undefined) {
    c.fail('reports.createBucket', 'give either worker.reportBucket (an existing bucket) or reports.createBucket, not both');
  }
  const reports: ReportsConfig = {
    createBucket: createBucket ?? worker.reportBucket === undefined,
    objectLockMode: c.oneOf('reports.objectLockMode', r.objectLockMode, ['GOVERNANCE', 'COMPLIANCE'] as const) ?? DEFAULTS.reports.objectLockMode,
    // S3 Object Lock accepts up to 100 years.
    retentionDays: c.integer('reports.retentionDays', r.retentionDays, 1, 36500) ?? DEFAULTS.reports.retentionDays,
  };

  const o = c.object('operators', top.operators, ['roles', 'groups', 'policyName']) ?? {};
  const nameOnly = ' (the name only: no path, no ARN)';
  const operators: OperatorsConfig = {
    roles: o.roles === undefined ? DEFAULTS.operators.roles : c.stringArray('operators.roles', o.roles, IAM_ROLE_NAME, `is not an IAM role name${nameOnly}`) ?? [],
    groups: o.groups === undefined ? DEFAULTS.operators.groups : c.stringArray('operators.groups', o.groups, IAM_GROUP_NAME, `is not an IAM group name${nameOnly}`) ?? [],
    policyName: c.string('operators.policyName', o.policyName, IAM_POLICY_NAME, 'is not an IAM policy name (1-128 letters, digits and +=,.@_-)'),
  };

  if (c.problems.length > 0) throw new ConfigError(source, c.problems);
  return {
    stackName,
    env: env && (env.account || env.region) ? env : undefined,
    namePrefix,
    historyTableName,
    plans,
    schedules,
    worker,
    drs,
    alarmEmail,
    alarms,
    tags,
    deletionProtection,
    network,
    stateMachineLogging,
    reports,
    operators,
  };
}

export function loadConfig(file: string): DrsWavesConfig {
  if (!fs.existsSync(file)) throw new ConfigError(file, ['file not found (copy cdk/config.json and edit it, or pass -c config=<file>)']);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(file, [`not valid JSON: ${(e as Error).message}`]);
  }
  return parseConfig(raw, file);
}
