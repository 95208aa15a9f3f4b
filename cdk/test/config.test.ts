import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULTS, loadConfig, normaliseCron, parseConfig } from '../lib/config';
import { CDK_DIR } from '../lib/app';
import { tempDir } from './helpers';

const NONE = { dynamodb: false, s3: false, stepFunctions: false, drs: false, logs: false, ecrApi: false, ecrDocker: false };

/** Runs parseConfig and returns the problems it reports (empty when valid). */
function problems(raw: unknown): string[] {
  try {
    parseConfig(raw, 'config.json');
    return [];
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    return [...e.problems];
  }
}

describe('configuration', () => {
  it('the committed cdk/config.json is valid', () => {
    const c = loadConfig(path.join(CDK_DIR, 'config.json'));
    assert.equal(c.stackName, 'DrsWaves');
    // Nothing example-only: no plan, no drill, no example address (stack.test.ts shows that
    // synth then says what to configure).
    assert.equal(c.plans, undefined);
    assert.deepEqual(c.schedules, {});
    assert.equal(c.alarmEmail, undefined);
  });

  it('the example deployment (scripts/synth.sh) is the committed config.json plus env, plans, schedules and alarmEmail', () => {
    const committed = JSON.parse(fs.readFileSync(path.join(CDK_DIR, 'config.json'), 'utf8'));
    const example = JSON.parse(fs.readFileSync(path.join(CDK_DIR, 'test', 'fixtures', 'config.example.json'), 'utf8'));
    const added = ['env', 'plans', 'schedules', 'alarmEmail', '$comment'];
    const strip = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([k]) => !added.includes(k)));
    assert.deepEqual(strip(example), strip(committed));
    assert.ok(parseConfig(example, 'config.example.json').plans!.length > 0);
  });

  it('an empty object gives the documented defaults', () => {
    const c = parseConfig({}, 'x.json');
    assert.deepEqual(JSON.parse(JSON.stringify(c.worker)), DEFAULTS.worker);
    // Two workers (ECS spreads them over the AZs), each with ten polls per activity.
    assert.equal(c.worker.desiredCount, 2);
    assert.equal(c.worker.pollersPerActivity, 10);
    assert.equal(c.deletionProtection, true);
    assert.deepEqual(c.schedules, {});
    assert.deepEqual(c.stateMachineLogging, DEFAULTS.stateMachineLogging);
    assert.equal(c.env, undefined);
    // A new VPC: the free gateway endpoints, no interface endpoints (NAT covers them).
    assert.deepEqual(c.network.endpoints, DEFAULTS.newVpcEndpoints);
    assert.deepEqual(c.network.endpoints, { dynamodb: true, s3: true, stepFunctions: false, drs: false, logs: false, ecrApi: false, ecrDocker: false });
    assert.deepEqual(c.drs, { maxServersPerJob: undefined, maxActiveServers: undefined, maxConcurrentJobs: undefined, instanceRoles: [] });
    assert.equal(c.alarms.activityScheduleSeconds, 120);
    for (const k of ['janitorIntervalSeconds', 'logLevel', 'reportBucket'] as const) assert.equal(c.worker[k], undefined, `worker.${k}: the worker's default applies`);
    assert.deepEqual(c.reports, { createBucket: true, objectLockMode: 'GOVERNANCE', retentionDays: 365 });
  });

  it('reports: a bucket of the stack (mode, retention) or an existing one, never both', () => {
    assert.deepEqual(parseConfig({ reports: { objectLockMode: 'COMPLIANCE', retentionDays: 30 } }, 'x').reports, {
      createBucket: true,
      objectLockMode: 'COMPLIANCE',
      retentionDays: 30,
    });
    assert.equal(parseConfig({ worker: { reportBucket: 'dr-reports' } }, 'x').reports.createBucket, false, 'an existing bucket: none created');
    assert.match(problems({ worker: { reportBucket: 'dr-reports' }, reports: { createBucket: true } }).join('\n'), /reports\.createBucket: give either/);
    const p = problems({ reports: { objectLockMode: 'LEGAL_HOLD', retentionDays: 0, days: 3 } }).join('\n');
    assert.match(p, /reports\.objectLockMode/);
    assert.match(p, /reports\.retentionDays/);
    assert.match(p, /reports\.days: unknown key/);
  });

  it('plans: a list of names; "all" is refused (an example plan must never be deployed by accident)', () => {
    assert.deepEqual(parseConfig({ plans: ['billing', 'hr-apps'] }, 'x').plans, ['billing', 'hr-apps']);
    const p = problems({ plans: 'all' });
    assert.equal(p.length, 1);
    assert.match(p[0], /^plans: "all" is not accepted: list the plans to deploy by name/);
    assert.match(problems({ plans: [] })[0], /^plans: must be a non-empty array/);
    assert.match(problems({ plans: ['a b'] })[0], /^plans\[0\]: "a b" is not a plan name/);
  });

  it('worker and DRS settings: ranges, log filter, bucket name, instance roles', () => {
    const ok = parseConfig(
      {
        worker: { janitorIntervalSeconds: 60, logLevel: 'drs_worker=debug,aws_config=warn,info', reportBucket: 'dr.reports-1' },
        drs: { maxServersPerJob: 200, maxActiveServers: 500, maxConcurrentJobs: 20, instanceRoles: ['App', 'team/App2', 'arn:aws:iam::111122223333:role/x/App3'] },
        alarms: { activityScheduleSeconds: 300 },
      },
      'x',
    );
    assert.equal(ok.worker.logLevel, 'drs_worker=debug,aws_config=warn,info');
    for (const n of [1, 100]) assert.equal(parseConfig({ worker: { pollersPerActivity: n } }, 'x').worker.pollersPerActivity, n);
    for (const n of [0, 101, 2.5, '10']) {
      assert.deepEqual(problems({ worker: { pollersPerActivity: n } }), ['worker.pollersPerActivity: must be an integer from 1 to 100'], String(n));
    }
    assert.equal(ok.drs.maxServersPerJob, 200);
    assert.equal(ok.alarms.activityScheduleSeconds, 300);
    const p = problems({
      worker: { janitorIntervalSeconds: 5, logLevel: 'info; rm -rf /', reportBucket: 'Bad_Bucket' },
      drs: { maxServersPerJob: 201, maxConcurrentJobs: 0, instanceRoles: ['arn:aws:iam::1:role/x', 'ok', 'ok'] },
    });
    for (const want of [
      /^worker\.janitorIntervalSeconds: must be an integer from 10 to 3600/,
      /^worker\.logLevel: "info; rm -rf \/" is not a log filter/,
      /^worker\.reportBucket: "Bad_Bucket" is not an S3 bucket name/,
      /^drs\.maxServersPerJob: must be an integer from 1 to 200/,
      /^drs\.maxConcurrentJobs: must be an integer from 1 to 1000/,
      /^drs\.instanceRoles\[0\]: .* is not an IAM role name/,
      /^drs\.instanceRoles\[2\]: "ok" is listed twice/,
    ]) {
      assert.ok(p.some((m) => want.test(m)), `${want} not in:\n${p.join('\n')}`);
    }
    assert.deepEqual(problems({ drs: { maxServersPerJob: 100, maxActiveServers: 50 } }), [
      'drs.maxServersPerJob: 100 is more than drs.maxActiveServers (50): no job that size could start',
    ]);
  });

  it('rejects unknown keys at every level, naming the path', () => {
    const p = problems({ worker: { desiredCout: 2 }, sheduled: {} });
    assert.ok(p.some((m) => m.startsWith('worker.desiredCout: unknown key')), p.join('\n'));
    assert.ok(p.some((m) => m.startsWith('sheduled: unknown key')), p.join('\n'));
  });

  it('reports every problem at once, with the file named', () => {
    assert.throws(
      () => parseConfig({ worker: { cpu: 300, architecture: 'arm' }, alarmEmail: 'nobody' }, 'cdk/config.json'),
      (e: Error) => {
        assert.match(e.message, /^cdk\/config\.json: invalid configuration/);
        assert.match(e.message, /worker\.cpu: 300 is not one of/);
        assert.match(e.message, /worker\.architecture: "arm" is not one of "ARM64", "X86_64"/);
        assert.match(e.message, /alarmEmail: "nobody" is not an e-mail address/);
        return true;
      },
    );
  });

  it('checks Fargate CPU and memory together', () => {
    assert.deepEqual(problems({ worker: { cpu: 512, memory: 1024 } }), []);
    const p = problems({ worker: { cpu: 256, memory: 4096 } });
    assert.equal(p.length, 1);
    assert.match(p[0], /^worker\.memory: 4096 MiB is not a Fargate size for 256 CPU units/);
  });

  it('checks schedules: six-field cron, IANA time zone, boolean enabled', () => {
    const ok = parseConfig({ schedules: { billing: { cron: 'cron(0 3 ? * SUN#1 *)', timezone: 'Europe/Berlin' } } }, 'x');
    assert.deepEqual(ok.schedules.billing, { cron: '0 3 ? * SUN#1 *', timezone: 'Europe/Berlin', enabled: true });
    assert.equal(parseConfig({ schedules: { b: { cron: '0 3 1 * ? *' } } }, 'x').schedules.b.timezone, 'UTC');

    const p = problems({
      schedules: {
        a: { cron: '0 3 * * *', timezone: 'UTC' },
        b: { cron: '0 3 1 * MON *', timezone: 'UTC' },
        c: { cron: '0 3 ? * MON *', timezone: 'Mars/Olympus' },
        d: { timezone: 'UTC' },
        e: { cron: '0 3 ? * MON *', enabled: 'yes' },
      },
    });
    assert.ok(p.some((m) => /^schedules\.a\.cron: .*has 5 fields/.test(m)), p.join('\n'));
    assert.ok(p.some((m) => /^schedules\.b\.cron: .*exactly one of day-of-month and day-of-week must be "\?"/.test(m)), p.join('\n'));
    assert.ok(p.some((m) => /^schedules\.c\.timezone: "Mars\/Olympus" is not an IANA time zone/.test(m)), p.join('\n'));
    assert.ok(p.some((m) => /^schedules\.d\.cron: is required/.test(m)), p.join('\n'));
    assert.ok(p.some((m) => /^schedules\.e\.enabled: must be true or false/.test(m)), p.join('\n'));
  });

  it('normaliseCron accepts the bare fields and the cron() form alike', () => {
    assert.equal(normaliseCron('cron(15 2 ? * MON-FRI *)').fields, '15 2 ? * MON-FRI *');
    assert.equal(normaliseCron('  15 2 L * ? 2030 ').fields, '15 2 L * ? 2030');
    assert.match(normaliseCron('15 2 ? * MON$ *').error!, /characters cron does not use/);
  });

  it('an existing VPC needs its private subnets and their zones', () => {
    const p = problems({ network: { vpcId: 'vpc-0123456789abcdef0', natGateways: 1 } });
    assert.ok(p.some((m) => m.startsWith('network.privateSubnetIds: is required with network.vpcId')), p.join('\n'));
    assert.ok(p.some((m) => m.startsWith('network.availabilityZones: is required with network.vpcId')), p.join('\n'));
    assert.ok(p.some((m) => m.startsWith('network.natGateways: applies only to a new VPC')), p.join('\n'));
    const q = problems({
      network: { vpcId: 'vpc-0123456789abcdef0', privateSubnetIds: ['subnet-0123456789abcdef0'], availabilityZones: ['eu-west-1a', 'eu-west-1b'], endpoints: NONE },
    });
    assert.deepEqual(q, ['network.availabilityZones: must have one entry per privateSubnetIds entry']);
  });

  it("an existing VPC states every endpoint (only its owner knows which it has); gateway endpoints need the route tables", () => {
    const vpc = { vpcId: 'vpc-0123456789abcdef0', privateSubnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'], availabilityZones: ['eu-west-1a', 'eu-west-1a'] };
    const p = problems({ network: { ...vpc, endpoints: { dynamodb: false, s3: false } } });
    assert.equal(p.length, 1, p.join('\n'));
    assert.match(p[0], /^network\.endpoints: with network\.vpcId every endpoint must be stated.*stepFunctions, drs, logs, ecrApi, ecrDocker missing/);
    const q = problems({ network: { ...vpc, endpoints: { ...NONE, dynamodb: true } } });
    assert.deepEqual(q, [
      'network.privateSubnetRouteTableIds: is required to create the gateway endpoints (dynamodb) in an existing VPC: the route table of each private subnet, same order',
    ]);
    // Subnets may share a zone and a route table.
    const ok = parseConfig({ network: { ...vpc, privateSubnetRouteTableIds: ['rtb-0123456789abcdef0', 'rtb-0123456789abcdef0'], endpoints: { ...NONE, dynamodb: true, s3: true } } }, 'x');
    assert.deepEqual(ok.network.endpoints, { ...NONE, dynamodb: true, s3: true });
    assert.match(problems({ network: { ...vpc, privateSubnetRouteTableIds: ['rtb-0123456789abcdef0'], endpoints: NONE } })[0], /^network\.privateSubnetRouteTableIds: must have one entry per privateSubnetIds entry/);
    assert.deepEqual(problems({ network: { endpoints: { sqs: true } } }), ['network.endpoints.sqs: unknown key (allowed: dynamodb, s3, stepFunctions, drs, logs, ecrApi, ecrDocker)']);
  });

  it('the old network.interfaceEndpoints switch is refused with a pointer to network.endpoints', () => {
    const p = problems({ network: { interfaceEndpoints: true } });
    assert.equal(p.length, 1);
    assert.match(p[0], /^network\.interfaceEndpoints: replaced by network\.endpoints, one choice per endpoint/);
  });

  it('a new VPC cannot have more NAT gateways than zones', () => {
    assert.deepEqual(problems({ network: { maxAzs: 2, natGateways: 3 } }), ['network.natGateways: cannot exceed the number of availability zones (2)']);
  });

  it('rejects reserved tag keys, bad retention and a malformed account', () => {
    const p = problems({ tags: { 'aws:owner': 'x', ok: 3 }, worker: { logRetentionDays: 10 }, env: { account: '1234' } });
    assert.ok(p.some((m) => m.startsWith('tags.aws:owner:')), p.join('\n'));
    assert.ok(p.some((m) => m.startsWith('tags.ok: tag values must be strings')), p.join('\n'));
    assert.ok(p.some((m) => m.startsWith('worker.logRetentionDays: 10 is not one of')), p.join('\n'));
    assert.ok(p.some((m) => m.startsWith('env.account: "1234" is not a 12-digit AWS account ID')), p.join('\n'));
  });

  it('loadConfig names the file for a missing file and for bad JSON', () => {
    const dir = tempDir('drs-waves-cfg-');
    const missing = path.join(dir, 'nope.json');
    assert.throws(() => loadConfig(missing), (e: Error) => e.message.startsWith(`${missing}: invalid configuration`) && /file not found/.test(e.message));
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, '{ "worker": ');
    assert.throws(() => loadConfig(bad), (e: Error) => e.message.startsWith(`${bad}:`) && /not valid JSON/.test(e.message));
  });
});
