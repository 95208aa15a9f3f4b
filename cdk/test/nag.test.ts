import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import * as fs from 'node:fs';
import { App, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { buildApp, CDK_DIR } from '../lib/app';
import { loadConfig, parseConfig } from '../lib/config';
import { discoverPlans } from '../lib/plans';
import { cdkJsonContext, fixtureConfig, fixtureStatemachines, REAL_STATEMACHINES, synth, tempDir } from './helpers';

/** Every acknowledgement in the tree: construct path, rule id, reason. */
function acknowledgements(root: IConstruct): { path: string; id: string; reason: string }[] {
  const out: { path: string; id: string; reason: string }[] = [];
  for (const c of root.node.findAll()) {
    for (const m of c.node.metadata) {
      if (m.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(m.data as Record<string, string>)) out.push({ path: c.node.path, id, reason });
    }
  }
  return out;
}

/** Each synthesized once, on first use, for both tests. */
function once<T>(make: () => T): () => T {
  let v: T | undefined;
  return () => (v ??= make());
}

const configs = {
  'fixture config (new VPC, schedules, worker settings, instance roles, report bucket, ARM64)': once(() => synth(fixtureConfig(), undefined, false)),
  'variant config (existing VPC with every endpoint, X86_64, ERROR logging)': once(() =>
    synth(loadConfig(path.join(CDK_DIR, 'test', 'fixtures', 'config.variant.json')), REAL_STATEMACHINES, false),
  ),
  'existing VPC without endpoints': once(() => synth(loadConfig(path.join(CDK_DIR, 'test', 'fixtures', 'config.existing-vpc.json')), REAL_STATEMACHINES, false)),
  // Cross-account roles (sts:AssumeRole, no wildcard) and a second region's DRS/EC2 ARNs, whose
  // wildcards are acknowledged with the same per-statement reasons.
  'plans with waves in other accounts and regions': once(() => synth(fixtureConfig({ plans: ['alpha', 'accounts', 'regions'] }), undefined, false)),
  'committed config.json with every plan of statemachines/': once(() => {
    const raw = JSON.parse(fs.readFileSync(path.join(CDK_DIR, 'config.json'), 'utf8'));
    return synth(parseConfig({ ...raw, plans: discoverPlans(REAL_STATEMACHINES) }, 'config.json'), REAL_STATEMACHINES, false);
  }),
};

describe('cdk-nag AwsSolutions', () => {
  for (const [name, make] of Object.entries(configs)) {
    it(`${name}: no unacknowledged finding`, () => {
      const { app } = make();
      const report = new AwsSolutionsChecks(app).validateScope(app);
      const lines = report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.resourceLogicalId}: ${v.description.slice(0, 100)}`));
      assert.deepEqual(lines, []);
      assert.equal(report.success, true);
    });

    it(`${name}: every acknowledgement has a specific reason`, () => {
      const { app } = make();
      // Ours only: aws-cdk-lib acknowledges some of its own CloudFormation-Validate rules.
      const acks = acknowledgements(app).filter((a) => a.id.includes('AwsSolutions-'));
      assert.ok(acks.some((a) => a.id.includes('AwsSolutions-IAM5')), 'expected the IAM5 acknowledgements of the worker policy');
      for (const a of acks) {
        assert.ok(a.reason.trim().length >= 60, `${a.path} ${a.id}: reason too short to be specific: "${a.reason}"`);
      }
      // The same wording for different rules would be a copy-pasted excuse, not a reason. (One
      // statement with several wildcard resources rightly gives each IAM5 finding its reason.)
      const rule = (id: string) => id.replace(/^Annotation::/, '').replace(/\[.*$/, '');
      const byReason = new Map<string, Set<string>>();
      for (const a of acks) byReason.set(a.reason, (byReason.get(a.reason) ?? new Set()).add(rule(a.id)));
      for (const [reason, rules] of byReason) assert.equal(rules.size, 1, `one reason for ${[...rules].join(', ')}: ${reason}`);
    });
  }

  it('an unacknowledged finding fails synth (the plugin is registered by buildApp)', () => {
    const outdir = tempDir('drs-waves-nag-');
    const { stack } = buildApp({
      config: fixtureConfig(),
      statemachinesDir: fixtureStatemachines(),
      appProps: { context: cdkJsonContext(), outdir },
    });
    new iam.Policy(stack, 'Careless', {
      roles: [stack.workerTaskRole],
      statements: [new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['*'] })],
    });
    assert.throws(() => (stack.node.root as App).synth(), /Validation failed/);
    const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
    const nag = report.pluginReports.find((r: any) => r.pluginName === 'AwsSolutions');
    assert.ok(nag, 'no AwsSolutions report');
    const careless = nag.violations.filter(
      (v: any) => v.ruleName === 'AwsSolutions-IAM5[Resource::*]' && v.violatingConstructs.some((c: any) => c.constructPath.includes('/Careless/')),
    );
    assert.equal(careless.length, 1, JSON.stringify(nag.violations.map((v: any) => v.ruleName)));
  });
});
