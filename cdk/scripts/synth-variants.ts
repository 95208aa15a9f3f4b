/**
 * Synthesizes, in one process, the templates cfn-lint checks beside the CLI's cdk.out/ (see
 * synth.sh): each variant takes branches the example deployment does not. cdk-nag runs as a
 * validation plugin (buildApp registers it), so an unacknowledged finding fails here as in
 * `cdk synth`. The worker image's build context is not staged again (cdk.out/ has it).
 *
 *   cdk.out-variant     existing VPC, every endpoint created, X86_64, ERROR logging, no worker
 *   cdk.out-shared-vpc  existing VPC that has its endpoints already: none created
 *   cdk.out-fleet       six fleet-size plans (statemachines/fleet.asl.json six times), which
 *                       must stay under CloudFormation's 1 MB template limit
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildApp, CDK_DIR, REPO_ROOT } from '../lib/app';
import { loadConfig, parseConfig } from '../lib/config';

/** CloudFormation's limit for a template uploaded through S3 (as `cdk deploy` does). */
const MAX_TEMPLATE_BYTES = 1024 * 1024;
const FLEET_PLANS = 6;

const context = JSON.parse(fs.readFileSync(path.join(CDK_DIR, 'cdk.json'), 'utf8')).context as Record<string, unknown>;
const statemachines = path.join(REPO_ROOT, 'statemachines');

function fleetStatemachines(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drs-waves-fleet-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  fs.copyFileSync(path.join(statemachines, 'contract.json'), path.join(dir, 'contract.json'));
  for (let i = 1; i <= FLEET_PLANS; i++) fs.copyFileSync(path.join(statemachines, 'fleet.asl.json'), path.join(dir, `fleet-${i}.asl.json`));
  return dir;
}

const fixture = (name: string) => path.join(CDK_DIR, 'test', 'fixtures', name);
const example = JSON.parse(fs.readFileSync(fixture('config.example.json'), 'utf8'));
const fleetPlans = Array.from({ length: FLEET_PLANS }, (_, i) => `fleet-${i + 1}`);

const variants = [
  { outdir: 'cdk.out-variant', config: loadConfig(fixture('config.variant.json')), dir: statemachines },
  { outdir: 'cdk.out-shared-vpc', config: loadConfig(fixture('config.existing-vpc.json')), dir: statemachines },
  {
    outdir: 'cdk.out-fleet',
    config: parseConfig({ ...example, stackName: 'DrsWavesFleet', plans: fleetPlans, schedules: { 'fleet-1': example.schedules.billing } }, 'fleet variant'),
    dir: fleetStatemachines(),
  },
];

for (const v of variants) {
  const outdir = path.join(CDK_DIR, v.outdir);
  fs.rmSync(outdir, { recursive: true, force: true });
  const { app, stack } = buildApp({
    config: v.config,
    statemachinesDir: v.dir,
    appProps: { outdir, context: { ...context, 'aws:cdk:disable-asset-staging': true } },
  });
  app.synth();
  const template = path.join(outdir, stack.templateFile);
  const size = fs.statSync(template).size;
  if (size >= MAX_TEMPLATE_BYTES) {
    console.error(`${template}: ${size} bytes, over CloudFormation's ${MAX_TEMPLATE_BYTES}-byte template limit`);
    process.exit(1);
  }
  console.log(`${path.relative(CDK_DIR, template)}: ${size} bytes`);
}
