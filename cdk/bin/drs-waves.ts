#!/usr/bin/env node
/**
 * Entry point of `cdk synth` / `cdk deploy`.
 *
 * Context: `-c config=<file>` (default config.json, relative to cdk/) and
 * `-c statemachinesDir=<dir>` (default <repo>/statemachines). Bad input ends synth with the
 * file and field named, never a stack trace.
 */
import { App } from 'aws-cdk-lib';
import { buildApp, fromCdkDir } from '../lib/app';

function main(): void {
  // A throwaway App only to read -c values the CLI passes through CDK_CONTEXT_JSON.
  const probe = new App({ autoSynth: false });
  const config = probe.node.tryGetContext('config') as string | undefined;
  const dir = probe.node.tryGetContext('statemachinesDir') as string | undefined;
  const { app } = buildApp({ config, statemachinesDir: dir ? fromCdkDir(dir) : undefined });
  app.synth();
}

try {
  main();
} catch (e) {
  const err = e as Error;
  if (['ConfigError', 'ContractError', 'PlanError'].includes(err.name)) {
    process.stderr.write(`drs-waves: ${err.message}\n`);
    process.exit(1);
  }
  throw e;
}
