/**
 * Finds the generated state machines (`statemachines/<plan>.asl.json`) and checks that every
 * `${Placeholder}` in a definition is one the stack can fill, before any resource is made; and
 * finds the SNS topics the plan's gates notify (the worker's sns:Publish is granted on those)
 * and the accounts its waves recover into (sts:AssumeRole on their roles: wave-accounts.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PlanError } from './plan-error';
import { ActionTargets, findActionTargets } from './plan-actions';
import { findWaveAccounts, WaveAccount } from './wave-accounts';

export const ASL_SUFFIX = '.asl.json';

/** Step Functions allows up to 1 MB of definition; checked here so synth fails, not deploy. */
const MAX_DEFINITION_BYTES = 1024 * 1024;

/** `${Name}`: the form drs-codegen writes and definitionSubstitutions fills. */
const PLACEHOLDER = /\$\{([A-Za-z0-9_]+)\}/;

/** Plan names become part of resource names (`drs-waves-<plan>`), so keep them plain. */
const PLAN_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

export interface PlanDefinition {
  /** The plan's name: the file name without `.asl.json`. */
  readonly name: string;
  readonly file: string;
  /** The ASL as written by drs-codegen, placeholders untouched. */
  readonly definition: string;
  /** Placeholders used by the definition, sorted. */
  readonly placeholders: readonly string[];
  /** SNS topics the plan's approval gates and decisions notify, sorted, each once. */
  readonly notifyTopics: readonly string[];
  /** The accounts and regions its waves recover into (wave-accounts.ts), each once. */
  readonly waveAccounts: readonly WaveAccount[];
  /** What the plan's actions run (plan-actions.ts): the state machine role is granted exactly these. */
  readonly actionTargets: ActionTargets;
  /** The TCP ports its waves' health checks reach (http URLs and tcp checks), sorted, each once. */
  readonly healthPorts: readonly number[];
}

/**
 * The ports a plan's health checks probe from the worker. Every wave spec in the definition
 * (the task Parameters' `wave`, preflight's `plan.waves`) with a `health` list names them: a
 * `tcp` check its `port`, an `http` check its URL's port (80 when it names none). A port that
 * is not 1-65535 fails with the plan and file.
 */
export function findHealthPorts(plan: string, file: string, asl: unknown): number[] {
  const ports = new Set<number>();
  const add = (port: unknown, what: string) => {
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new PlanError(`plan ${JSON.stringify(plan)}: ${file}: health check ${what}: port ${JSON.stringify(port)} is not 1-65535`);
    }
    ports.add(port);
  };
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    const o = v as Record<string, unknown>;
    if (Array.isArray(o.health)) {
      for (const check of o.health as Array<Record<string, Record<string, Record<string, unknown>>>>) {
        const probe = check?.probe ?? {};
        if (probe.tcp) add(probe.tcp.port, 'tcp');
        if (probe.http) {
          const url = String(probe.http.url ?? '');
          const m = /^http:\/\/[^/?#]*?(?::(\d+))?(?:[/?#]|$)/.exec(url);
          add(m?.[1] === undefined ? 80 : Number(m[1]), url);
        }
      }
    }
    for (const x of Object.values(o)) walk(x);
  };
  walk(asl);
  return [...ports].sort((a, b) => a - b);
}

/**
 * An SNS topic ARN as drs-codegen accepts one (codegen/src/plan.rs `topic`): a standard topic
 * (no `.fifo`: the worker sends no message group), no wildcard, any partition.
 */
export const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}$/;

/**
 * The topics a plan's gates notify. The await-operator tasks carry the wave spec in their
 * Parameters (`wave.approval.notify` for an approval gate, `wave.decisionNotify` for a
 * decision), and preflight's `plan.waves` the same specs: every object with an `approval` or a
 * `decisionNotify` is a wave spec. A topic that is not an SNS topic ARN, or one taken from the
 * state (`notify.$`: the grant could not name it), fails with the plan, file, state and wave.
 */
export function findNotifyTopics(plan: string, file: string, asl: unknown): string[] {
  const topics = new Set<string>();
  const where = (state: string | undefined, wave: Record<string, unknown>) => {
    const w = typeof wave.index === 'number' || typeof wave.name === 'string' ? `wave ${wave.index ?? '?'} ${JSON.stringify(wave.name ?? '?')}` : 'a wave';
    return `plan ${JSON.stringify(plan)}: ${file}: ${w}${state !== undefined ? ` (state ${JSON.stringify(state)})` : ''}`;
  };
  const check = (state: string | undefined, wave: Record<string, unknown>, holder: Record<string, unknown>, key: string, field: string) => {
    if (`${key}.$` in holder) {
      throw new PlanError(
        `${where(state, wave)}: ${field}.$ takes the topic from the execution's state, so the worker's sns:Publish cannot be granted on it: ` +
          'name the topic ARN in the plan (regenerate with drs-codegen)',
      );
    }
    const v = holder[key];
    if (v === undefined || v === null) return;
    if (typeof v !== 'string' || !SNS_TOPIC_ARN.test(v)) {
      throw new PlanError(`${where(state, wave)}: ${field} ${JSON.stringify(v)} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)`);
    }
    topics.add(v);
  };
  const walk = (v: unknown, state: string | undefined, inStates: boolean): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x, state, false);
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    const o = v as Record<string, unknown>;
    const approval = o.approval;
    if (typeof approval === 'object' && approval !== null && !Array.isArray(approval)) {
      check(state, o, approval as Record<string, unknown>, 'notify', 'approval.notify');
    }
    check(state, o, o, 'decisionNotify', 'decisionNotify');
    for (const [k, x] of Object.entries(o)) {
      // Keys of a `States` map are state names (Parallel branches and Map iterators nest more).
      walk(x, inStates ? k : state, k === 'States');
    }
  };
  walk(asl, undefined, false);
  return [...topics].sort();
}

export { PlanError };

/** Every plan in `dir`, sorted by name. */
export function discoverPlans(dir: string): string[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new PlanError(`${dir}: state machine directory not found (generated by drs-codegen)`);
  }
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(ASL_SUFFIX))
    .map((f) => f.slice(0, -ASL_SUFFIX.length))
    .sort();
}

/** The `${...}` placeholders in an ASL text, in order of first use. */
export function findPlaceholders(text: string): string[] {
  const found: string[] = [];
  const re = new RegExp(PLACEHOLDER.source, 'g');
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (!found.includes(m[1])) found.push(m[1]);
  }
  return found;
}

/**
 * Loads one plan's ASL and checks it: valid JSON with StartAt and States, within the size
 * limit, and every placeholder one of `known`. The error names the plan and the placeholder.
 */
export function loadPlan(dir: string, name: string, known: ReadonlySet<string>): PlanDefinition {
  if (!PLAN_NAME.test(name)) {
    throw new PlanError(
      `plan ${JSON.stringify(name)}: a plan name must be 1-63 letters, digits, '-' or '_' starting with a letter or digit ` +
        '(it becomes part of the state machine name)',
    );
  }
  const file = path.join(dir, `${name}${ASL_SUFFIX}`);
  if (!fs.existsSync(file)) {
    throw new PlanError(`plan ${JSON.stringify(name)}: ${file} not found`);
  }
  const definition = fs.readFileSync(file, 'utf8');
  if (Buffer.byteLength(definition, 'utf8') > MAX_DEFINITION_BYTES) {
    throw new PlanError(`plan ${JSON.stringify(name)}: ${file} is larger than the 1 MB Step Functions allows`);
  }
  let asl: unknown;
  try {
    asl = JSON.parse(definition);
  } catch (e) {
    throw new PlanError(`plan ${JSON.stringify(name)}: ${file} is not valid JSON: ${(e as Error).message}`);
  }
  const obj = asl as Record<string, unknown>;
  if (typeof obj !== 'object' || obj === null || typeof obj.StartAt !== 'string' || typeof obj.States !== 'object') {
    throw new PlanError(`plan ${JSON.stringify(name)}: ${file} is not a state machine (StartAt and States are required)`);
  }

  const placeholders = findPlaceholders(definition);
  for (const p of placeholders) {
    if (!known.has(p)) {
      throw new PlanError(
        `plan ${JSON.stringify(name)}: ${file} uses the placeholder \${${p}}, which the stack cannot fill ` +
          `(known: ${[...known].sort().join(', ')}). Regenerate the state machines or update contract.json.`,
      );
    }
  }
  // Any other `${` (unterminated, or not a plain name) would reach CloudFormation unfilled.
  const rest = definition.replace(new RegExp(PLACEHOLDER.source, 'g'), '');
  const at = rest.indexOf('${');
  if (at >= 0) {
    throw new PlanError(
      `plan ${JSON.stringify(name)}: ${file} has a malformed placeholder near ${JSON.stringify(rest.slice(at, at + 40))} ` +
        '(expected ${Name} with letters, digits or _)',
    );
  }
  return {
    name,
    file,
    definition,
    placeholders: [...placeholders].sort(),
    notifyTopics: findNotifyTopics(name, file, asl),
    waveAccounts: findWaveAccounts(name, file, asl),
    actionTargets: findActionTargets(name, file, asl),
    healthPorts: findHealthPorts(name, file, asl),
  };
}
