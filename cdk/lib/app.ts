/**
 * Builds the CDK app from a configuration file and a directory of generated state machines.
 * `bin/drs-waves.ts` calls it for `cdk synth`; the tests call it with fixtures.
 */
import * as path from 'node:path';
import { App, AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DrsWavesConfig, loadConfig } from './config';
import { loadContract } from './contract';
import { DrsWavesStack } from './drs-waves-stack';
import { discoverPlans, loadPlan, PlanError } from './plans';

/** The cdk/ directory. */
export const CDK_DIR = path.resolve(__dirname, '..');
/** The repository root: the worker image's build context. */
export const REPO_ROOT = path.resolve(CDK_DIR, '..');

export interface BuildOptions {
  /** Configuration file (default: cdk/config.json), or an already parsed configuration. */
  readonly config?: string | DrsWavesConfig;
  /** Directory with contract.json and <plan>.asl.json (default: <repo>/statemachines). */
  readonly statemachinesDir?: string;
  readonly appProps?: AppProps;
  /** Register cdk-nag's AwsSolutions pack as a validation plugin (default true). */
  readonly nag?: boolean;
}

export interface Built {
  readonly app: App;
  readonly stack: DrsWavesStack;
  readonly config: DrsWavesConfig;
}

/** Resolves a path given on the command line (`-c config=...`) against cdk/. */
export function fromCdkDir(p: string): string {
  return path.isAbsolute(p) ? p : path.resolve(CDK_DIR, p);
}

export function buildApp(options: BuildOptions = {}): Built {
  const config =
    typeof options.config === 'object' ? options.config : loadConfig(fromCdkDir(options.config ?? 'config.json'));
  const dir = options.statemachinesDir ?? path.join(REPO_ROOT, 'statemachines');
  const contract = loadContract(path.join(dir, 'contract.json'));

  const available = discoverPlans(dir);
  let names: string[];
  if (config.plans) {
    const missing = config.plans.filter((p) => !available.includes(p));
    if (missing.length > 0) {
      throw new PlanError(
        `config plans: ${missing.map((m) => JSON.stringify(m)).join(', ')} not found in ${dir} ` +
          `(available: ${available.join(', ') || 'none'})`,
      );
    }
    names = [...config.plans];
  } else {
    names = available;
  }
  if (names.length === 0) {
    throw new PlanError(`${dir}: no <plan>.asl.json found; generate them with drs-codegen before synthesizing`);
  }
  for (const plan of Object.keys(config.schedules)) {
    if (!names.includes(plan)) {
      throw new PlanError(`config schedules.${plan}: plan ${JSON.stringify(plan)} is not deployed (deployed: ${names.join(', ')})`);
    }
  }
  const known = new Set(contract.activities.map((a) => a.placeholder));
  const plans = names.map((n) => loadPlan(dir, n, known));

  const app = new App(options.appProps);
  const stack = new DrsWavesStack(app, config.stackName, {
    config,
    contract,
    plans,
    repoRoot: REPO_ROOT,
    env: config.env,
    description: 'drs-waves: wave-by-wave AWS DRS recovery (Step Functions + activity worker)',
  });
  if (options.nag !== false) {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  }
  return { app, stack, config };
}
