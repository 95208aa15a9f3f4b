import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { loadContract } from '../lib/contract';
import { discoverPlans, findHealthPorts, findPlaceholders, loadPlan } from '../lib/plans';
import { fixtureConfig, fixtureStatemachines, REAL_STATEMACHINES, resourcesOfType, synth, tempDir } from './helpers';

const KNOWN = new Set(['PreflightActivityArn', 'FinishActivityArn']);

function dirWith(files: Record<string, string>): string {
  const dir = tempDir('drs-waves-plans-');
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
  return dir;
}

const asl = (resource: string) => JSON.stringify({ StartAt: 'A', States: { A: { Type: 'Task', Resource: resource, End: true } } });

describe('plans and placeholders', () => {
  it('finds each placeholder once, in order of first use', () => {
    assert.deepEqual(findPlaceholders('${B} x ${A} ${B}'), ['B', 'A']);
    assert.deepEqual(findPlaceholders('no placeholders, $.path and {} only'), []);
  });

  it('discovers <plan>.asl.json files, sorted, and nothing else', () => {
    const dir = dirWith({ 'b.asl.json': asl('${FinishActivityArn}'), 'a.asl.json': asl('${FinishActivityArn}'), 'contract.json': '{}', 'a.plan.yaml': '' });
    assert.deepEqual(discoverPlans(dir), ['a', 'b']);
  });

  it('a placeholder the stack cannot fill fails, naming the plan, the file and the placeholder', () => {
    const dir = dirWith({ 'billing.asl.json': asl('${PrefligthActivityArn}') });
    assert.throws(
      () => loadPlan(dir, 'billing', KNOWN),
      (e: Error) =>
        e.name === 'PlanError' &&
        e.message.includes('plan "billing"') &&
        e.message.includes(path.join(dir, 'billing.asl.json')) &&
        e.message.includes('${PrefligthActivityArn}'),
    );
  });

  it('an unterminated placeholder fails', () => {
    const dir = dirWith({ p: '', 'p.asl.json': asl('${PreflightActivityArn') });
    assert.throws(() => loadPlan(dir, 'p', KNOWN), /plan "p": .* has a malformed placeholder near/);
  });

  it('rejects non-JSON, non-state-machine files and unusable plan names', () => {
    const dir = dirWith({ 'x.asl.json': '{ not json', 'y.asl.json': '{"States": {}}', 'bad name.asl.json': asl('${FinishActivityArn}') });
    assert.throws(() => loadPlan(dir, 'x', KNOWN), /plan "x": .* is not valid JSON/);
    assert.throws(() => loadPlan(dir, 'y', KNOWN), /plan "y": .* is not a state machine/);
    assert.throws(() => loadPlan(dir, 'bad name', KNOWN), /a plan name must be/);
  });

  it('every generated plan in statemachines/ uses only the contract placeholders', () => {
    const contract = loadContract(path.join(REAL_STATEMACHINES, 'contract.json'));
    const known = new Set(contract.activities.map((a) => a.placeholder));
    const plans = discoverPlans(REAL_STATEMACHINES);
    assert.ok(plans.length > 0, 'statemachines/ has no plans');
    for (const p of plans) {
      const plan = loadPlan(REAL_STATEMACHINES, p, known);
      assert.ok(plan.placeholders.length > 0, `${p} uses no activity`);
    }
  });

  it('the contract file is checked: version, activities, table keys', () => {
    const good = JSON.parse(fs.readFileSync(path.join(REAL_STATEMACHINES, 'contract.json'), 'utf8'));
    const write = (obj: unknown) => {
      const dir = dirWith({ 'contract.json': JSON.stringify(obj) });
      return path.join(dir, 'contract.json');
    };
    assert.throws(() => loadContract(write({ ...good, contractVersion: 99 })), /contractVersion 99 is not one this CDK app supports/);
    assert.throws(() => loadContract(write({ ...good, activities: [{ name: 'x' }] })), /activities\[0\]\.placeholder must be a non-empty string/);
    // The gates' activity is named, so its alarms can say "no operator answered" instead of "a worker died".
    const withoutGates = good.activities.filter((a: { name: string }) => a.name !== 'await-operator');
    assert.equal(withoutGates.length, good.activities.length - 1, 'the real contract has the await-operator activity');
    assert.throws(() => loadContract(write({ ...good, activities: withoutGates })), /activities: no "await-operator" activity/);
    assert.throws(
      () => loadContract(write({ ...good, historyTable: { ...good.historyTable, sortKey: '' } })),
      /historyTable\.sortKey must be a non-empty string/,
    );
    assert.throws(() => loadContract(path.join(os.tmpdir(), 'no-such-dir', 'contract.json')), /not found.*drs-codegen/);
  });
});

describe('health check ports', () => {
  const wave = (health: unknown[]) => ({ StartAt: 'A', States: { A: { Type: 'Task', Resource: '${CheckHealthActivityArn}', Parameters: { wave: { index: 1, name: 'app', health } }, End: true } } });

  it('names the ports of tcp checks and of http URLs (80 when the URL names none), each once, sorted', () => {
    const asl = wave([
      { probe: { tcp: { port: 5432 } }, timeoutSeconds: 60, intervalSeconds: 5 },
      { probe: { http: { url: 'http://{privateIp}:8080/health', expect: { min: 200, max: 299 } } }, timeoutSeconds: 60, intervalSeconds: 5 },
      { probe: { http: { url: 'http://app.internal/health', expect: { min: 200, max: 299 } } }, timeoutSeconds: 60, intervalSeconds: 5 },
      { probe: { tcp: { port: 5432, host: 'db.internal' } }, timeoutSeconds: 60, intervalSeconds: 5 },
    ]);
    assert.deepEqual(findHealthPorts('p', 'p.asl.json', asl), [80, 5432, 8080]);
    assert.deepEqual(findHealthPorts('p', 'p.asl.json', wave([])), []);
  });

  it('a port out of range fails naming the plan and file', () => {
    assert.throws(() => findHealthPorts('p', 'p.asl.json', wave([{ probe: { tcp: { port: 70000 } } }])), /plan "p": p\.asl\.json: health check tcp: port 70000/);
  });

  it('no generated plan in statemachines/ names a health port unless it has checks', () => {
    for (const p of discoverPlans(REAL_STATEMACHINES)) {
      const text = fs.readFileSync(path.join(REAL_STATEMACHINES, `${p}.asl.json`), 'utf8');
      const ports = findHealthPorts(p, `${p}.asl.json`, JSON.parse(text));
      assert.equal(ports.length > 0, text.includes('"health"'), p);
    }
  });
});

describe('the worker security group and health checks', () => {
  it('opens egress to exactly the ports the deployed plans\' checks name, and nothing inbound', () => {
    const asl = JSON.parse(fs.readFileSync(path.join(REAL_STATEMACHINES, 'storefront-gated.asl.json'), 'utf8'));
    const walk = (v: any): void => {
      if (Array.isArray(v)) return v.forEach(walk);
      if (typeof v !== 'object' || v === null) return;
      if (typeof v.index === 'number' && typeof v.name === 'string' && v.polling) {
        v.health = [
          { probe: { http: { url: 'http://{privateIp}:8080/health', expect: { min: 200, max: 299 } } }, timeoutSeconds: 60, intervalSeconds: 5 },
          { probe: { tcp: { port: 5432 } }, timeoutSeconds: 60, intervalSeconds: 5 },
        ];
      }
      Object.values(v).forEach(walk);
    };
    walk(asl);
    const s = synth(fixtureConfig({ plans: ['alpha', 'checked'] }), fixtureStatemachines({ 'checked.asl.json': JSON.stringify(asl) }), false);
    const groups = Object.values(resourcesOfType(s.template, 'AWS::EC2::SecurityGroup')).filter((g) => /drs-waves worker/.test(g.Properties.GroupDescription));
    assert.equal(groups.length, 1);
    const egress = groups[0].Properties.SecurityGroupEgress.map((e: any) => [e.IpProtocol, e.FromPort, e.ToPort]);
    assert.deepEqual(egress, [['tcp', 443, 443], ['tcp', 5432, 5432], ['tcp', 8080, 8080]]);
    assert.equal(groups[0].Properties.SecurityGroupIngress, undefined);
  });
});
