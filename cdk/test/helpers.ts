/**
 * Shared test setup: synthesizes the app in-process with cdk.json's context (feature flags,
 * availability zones), so the tests see the templates `cdk synth` writes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp, Built, CDK_DIR, REPO_ROOT } from '../lib/app';
import { DrsWavesConfig, parseConfig } from '../lib/config';

export const FIXTURES = path.join(CDK_DIR, 'test', 'fixtures');
export const REAL_STATEMACHINES = path.join(REPO_ROOT, 'statemachines');

export function cdkJsonContext(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(CDK_DIR, 'cdk.json'), 'utf8')).context;
}

const tempDirs: string[] = [];
process.on('exit', () => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A temporary directory removed when the test process exits. */
export function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

/**
 * A state machine directory with the fixture plans (alpha, beta) and the real contract.json,
 * so the tests read the contract the way the app does instead of restating it. `extra` adds
 * or replaces files.
 */
export function fixtureStatemachines(extra: Record<string, string> = {}): string {
  const dir = tempDir('drs-waves-sm-');
  fs.copyFileSync(path.join(REAL_STATEMACHINES, 'contract.json'), path.join(dir, 'contract.json'));
  for (const f of fs.readdirSync(path.join(FIXTURES, 'statemachines'))) {
    fs.copyFileSync(path.join(FIXTURES, 'statemachines', f), path.join(dir, f));
  }
  for (const [name, text] of Object.entries(extra)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

export function fixtureConfig(overrides: Record<string, unknown> = {}): DrsWavesConfig {
  const base = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'config.fixture.json'), 'utf8'));
  return parseConfig({ ...base, ...overrides }, 'config.fixture.json');
}

export interface Synth extends Built {
  readonly template: Template;
  /** The cloud assembly directory (the asset manifest is there). */
  readonly outdir: string;
}

export function synth(config: DrsWavesConfig, statemachinesDir = fixtureStatemachines(), nag = true): Synth {
  const outdir = tempDir('drs-waves-out-');
  const built = buildApp({
    config,
    statemachinesDir,
    nag,
    // No copy of the worker's build context per test synth (scripts/synth.sh stages it once).
    appProps: { context: { ...cdkJsonContext(), 'aws:cdk:disable-asset-staging': true }, outdir },
  });
  return { ...built, template: Template.fromStack(built.stack), outdir };
}

/**
 * The local file behind an S3 object key of a file asset (asset staging is off in the tests,
 * so the manifest points at the source file itself).
 */
export function fileAssetSource(s: Synth, objectKey: string): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(s.outdir, `${s.stack.artifactId}.assets.json`), 'utf8'));
  for (const asset of Object.values<any>(manifest.files ?? {})) {
    for (const dest of Object.values<any>(asset.destinations)) {
      if (dest.objectKey === objectKey) return path.resolve(s.outdir, asset.source.path);
    }
  }
  throw new Error(`no file asset with object key ${objectKey}`);
}

type Resources = Record<string, { Type: string; Properties?: any; DependsOn?: unknown }>;

export function resourcesOfType(template: Template, type: string): Resources {
  return template.findResources(type) as Resources;
}

/** Flattens Statement lists of every AWS::IAM::Policy attached to the given role logical id. */
export function statementsOfRole(template: Template, roleLogicalId: string): any[] {
  const out: any[] = [];
  for (const policy of Object.values(resourcesOfType(template, 'AWS::IAM::Policy'))) {
    const roles = (policy.Properties.Roles ?? []).map((r: any) => r.Ref);
    if (roles.includes(roleLogicalId)) out.push(...policy.Properties.PolicyDocument.Statement);
  }
  return out;
}

export function asArray<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
