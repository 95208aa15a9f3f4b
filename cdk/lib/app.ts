/**
 * Builds the CDK app from a configuration file and a directory of generated state machines.
 * `bin/drs-waves.ts` calls it for `cdk synth`; the tests call it with fixtures.
 */
import * as path from 'node:path';
import { App, AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, DrsWavesConfig, loadConfig } from './config';
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
  const configSource = typeof options.config === 'object' ? 'configuration' : fromCdkDir(options.config ?? 'config.json');
  const config = typeof options.config === 'object' ? options.config : loadConfig(configSource);
  const dir = options.statemachinesDir ?? path.join(REPO_ROOT, 'statemachines');
  const contract = loadContract(path.join(dir, 'contract.json'));

  const available = discoverPlans(dir);
  if (!config.plans) {
    // Nothing is deployed by default: the plans in statemachines/ are examples for the local
    // stack (fake server IDs, second-scale timings), and a drill of one would fail every month.
    throw new ConfigError(configSource, [
      'plans: no plans are listed, and none is deployed by default. Write your plan files, generate them with ' +
        '`cargo run -p drs-codegen -- ...` into statemachines/ (or a directory given with -c statemachinesDir=...), ' +
        'then list them: "plans": ["<plan>", ...]. Add "schedules" for monthly drills, set "env.region" to the recovery ' +
        `region and "alarmEmail" (see the first-deploy checklist in cdk/README.md). Plans found in ${dir}: ${available.join(', ') || 'none'}; ` +
        "the repository's own plans there are examples for the local stack (fake server IDs, second-scale timings), not for an AWS account.",
    ]);
  }
  const missing = config.plans.filter((p) => !available.includes(p));
  if (missing.length > 0) {
    throw new PlanError(
      `config plans: ${missing.map((m) => JSON.stringify(m)).join(', ')} not found in ${dir} ` +
        `(available: ${available.join(', ') || 'none'})`,
    );
  }
  const names = [...config.plans];
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
