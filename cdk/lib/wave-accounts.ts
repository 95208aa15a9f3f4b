/**
 * The accounts and regions a plan's waves recover into (`account` in the plan, issue #23), as
 * drs-codegen embeds them in the machine: every wave spec of the definition (preflight's
 * `plan.waves`, and wherever else a task carries the wave) may hold
 * `account: {roleArn?, region?, externalId?}` (contract/src/spec.rs, `WaveAccount`).
 *
 * The worker assumes `roleArn` for every DRS call of such a wave, in `region`; without a role
 * it calls DRS in `region` with its own credentials. So the stack grants sts:AssumeRole on
 * exactly the roles named, and its own DRS/EC2 statements in the regions named without a role.
 */
import { PlanError } from './plan-error';

export interface WaveAccount {
  readonly roleArn?: string;
  readonly region?: string;
  readonly externalId?: string;
}

/**
 * An IAM role ARN as drs-codegen accepts one (codegen/src/plan/account.rs): any partition, no
 * region, a 12-digit account, an optional path, a name of at most 64 characters. No wildcard
 * can pass, so sts:AssumeRole is never granted on more than the role named.
 */
export const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/(?:[A-Za-z0-9+=,.@_-]+\/){0,}[A-Za-z0-9+=,.@_-]{1,64}$/;

/** An AWS region name (eu-west-1, us-gov-west-1), as config.ts checks env.region. */
export const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

const where = (plan: string, file: string, state: string | undefined, wave: Record<string, unknown>) =>
  `plan ${JSON.stringify(plan)}: ${file}: wave ${wave.index ?? '?'} ${JSON.stringify(wave.name ?? '?')}` +
  (state !== undefined ? ` (state ${JSON.stringify(state)})` : '');

function checkAccount(at: string, holder: Record<string, unknown>): WaveAccount {
  if ('account.$' in holder) {
    throw new PlanError(`${at}: account.$ takes the account from the execution's state, so sts:AssumeRole cannot be granted on it: name it in the plan (regenerate with drs-codegen)`);
  }
  const a = holder.account;
  if (typeof a !== 'object' || a === null || Array.isArray(a)) {
    throw new PlanError(`${at}: account must be an object {roleArn, region, externalId}`);
  }
  const { roleArn, region, externalId, ...rest } = a as Record<string, unknown>;
  const unknownKeys = Object.keys(rest);
  if (unknownKeys.length > 0) throw new PlanError(`${at}: account has unknown fields ${unknownKeys.join(', ')} (roleArn, region, externalId)`);
  if (roleArn !== undefined && (typeof roleArn !== 'string' || roleArn.length > 2048 || !ROLE_ARN.test(roleArn))) {
    throw new PlanError(`${at}: account.roleArn ${JSON.stringify(roleArn)} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)`);
  }
  if (region !== undefined && (typeof region !== 'string' || !REGION.test(region))) {
    throw new PlanError(`${at}: account.region ${JSON.stringify(region)} is not an AWS region name (like eu-west-1)`);
  }
  if (externalId !== undefined && typeof externalId !== 'string') {
    throw new PlanError(`${at}: account.externalId must be a string`);
  }
  if (roleArn === undefined && region === undefined) throw new PlanError(`${at}: account names neither roleArn nor region`);
  return { roleArn, region, externalId } as WaveAccount;
}

/** Every distinct account of the plan's waves, in a stable order (roleArn, region, externalId). */
export function findWaveAccounts(plan: string, file: string, asl: unknown): WaveAccount[] {
  const found = new Map<string, WaveAccount>();
  const walk = (v: unknown, state: string | undefined, inStates: boolean): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x, state, false);
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    const o = v as Record<string, unknown>;
    // A wave spec: what drs-codegen writes for a wave always has its index and name.
    if (('account' in o || 'account.$' in o) && typeof o.index === 'number' && typeof o.name === 'string') {
      const a = checkAccount(where(plan, file, state, o), o);
      found.set(JSON.stringify([a.roleArn ?? '', a.region ?? '', a.externalId ?? '']), a);
    }
    for (const [k, x] of Object.entries(o)) walk(x, inStates ? k : state, k === 'States');
  };
  walk(asl, undefined, false);
  return [...found.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, a]) => a);
}

/** The roles the worker assumes, each once, sorted. */
export function assumedRoleArns(accounts: readonly WaveAccount[]): string[] {
  return [...new Set(accounts.flatMap((a) => (a.roleArn ? [a.roleArn] : [])))].sort();
}

/**
 * The regions whose DRS the worker calls with its own credentials: those of waves that name a
 * region and no role. A wave with a role uses the role's permissions there, not the worker's.
 */
export function ownCredentialRegions(accounts: readonly WaveAccount[]): string[] {
  return [...new Set(accounts.flatMap((a) => (a.region && !a.roleArn ? [a.region] : [])))].sort();
}
