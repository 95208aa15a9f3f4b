/**
 * The state machine / worker contract as `drs-codegen contract` writes it to
 * `statemachines/contract.json`.
 *
 * The CDK app reads activity names, ASL placeholders, the history table's keys and the
 * job tag keys from that file so that none of them is restated here: when the contract
 * changes, a re-synth follows it, and a contract this app cannot understand fails synth
 * with the field named.
 */
import * as fs from 'node:fs';

export interface ContractActivity {
  /** Short name (`start-wave`); deployed as `<activityPrefix>-<name>`. */
  readonly name: string;
  /** The definitionSubstitutions key standing for the activity ARN in generated ASL. */
  readonly placeholder: string;
}

export interface ContractIndex {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey: string;
}

export interface ContractHistoryTable {
  readonly defaultName: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  readonly indexes: readonly ContractIndex[];
}

export interface Contract {
  readonly contractVersion: number;
  readonly activityPrefix: string;
  readonly activities: readonly ContractActivity[];
  readonly errors: readonly { readonly name: string; readonly retryable: boolean }[];
  readonly historyTable: ContractHistoryTable;
  /** Tag keys the worker puts on every DRS job, by role (`execution`, `wave`, ...). */
  readonly jobTags: Readonly<Record<string, string>>;
}

/**
 * The activity of approval gates and failure decisions. Its worker records the task token and
 * answers nothing: a person answers. So its timeouts mean something else than a dead worker and
 * get alarm texts of their own (drs-waves-stack.ts); a contract without it fails to load rather
 * than silently giving gates the worker texts.
 */
export const OPERATOR_ACTIVITY = 'await-operator';

/** The contract versions this app was written against. */
export const SUPPORTED_CONTRACT_VERSIONS: readonly number[] = [1];

export class ContractError extends Error {
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'ContractError';
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(file: string, obj: Record<string, unknown>, field: string, where: string): string {
  const v = obj[field];
  if (typeof v !== 'string' || v.length === 0) {
    throw new ContractError(file, `${where}${field} must be a non-empty string`);
  }
  return v;
}

/** Reads and checks `contract.json`; throws a {@link ContractError} naming the field. */
export function loadContract(file: string): Contract {
  if (!fs.existsSync(file)) {
    throw new ContractError(
      file,
      'not found. It is written by `cargo run -p drs-codegen -- contract` (see statemachines/); ' +
        'the CDK app reads activity names, placeholders and table keys from it.',
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ContractError(file, `not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(raw)) {
    throw new ContractError(file, 'must be a JSON object');
  }

  const version = raw.contractVersion;
  if (typeof version !== 'number' || !SUPPORTED_CONTRACT_VERSIONS.includes(version)) {
    throw new ContractError(
      file,
      `contractVersion ${JSON.stringify(version)} is not one this CDK app supports ` +
        `(${SUPPORTED_CONTRACT_VERSIONS.join(', ')}); update cdk/lib/contract.ts with the contract`,
    );
  }
  const activityPrefix = str(file, raw, 'activityPrefix', '');

  if (!Array.isArray(raw.activities) || raw.activities.length === 0) {
    throw new ContractError(file, 'activities must be a non-empty array');
  }
  const activities = raw.activities.map((a: unknown, i: number) => {
    if (!isObject(a)) throw new ContractError(file, `activities[${i}] must be an object`);
    const name = str(file, a, 'name', `activities[${i}].`);
    const placeholder = str(file, a, 'placeholder', `activities[${i}].`);
    if (!/^[A-Za-z0-9_]+$/.test(placeholder)) {
      throw new ContractError(file, `activities[${i}].placeholder ${JSON.stringify(placeholder)} is not a valid substitution key`);
    }
    return { name, placeholder };
  });
  for (const key of ['name', 'placeholder'] as const) {
    const seen = new Set<string>();
    for (const a of activities) {
      if (seen.has(a[key])) throw new ContractError(file, `activities: duplicate ${key} ${JSON.stringify(a[key])}`);
      seen.add(a[key]);
    }
  }

  if (!activities.some((a) => a.name === OPERATOR_ACTIVITY)) {
    throw new ContractError(
      file,
      `activities: no ${JSON.stringify(OPERATOR_ACTIVITY)} activity (the operator gates' activity, whose timeouts have alarms of their own); ` +
        'if it was renamed, update OPERATOR_ACTIVITY in cdk/lib/contract.ts with the contract',
    );
  }

  const errors = Array.isArray(raw.errors)
    ? raw.errors.map((e: unknown, i: number) => {
        if (!isObject(e)) throw new ContractError(file, `errors[${i}] must be an object`);
        return { name: str(file, e, 'name', `errors[${i}].`), retryable: e.retryable === true };
      })
    : [];

  const ht = raw.historyTable;
  if (!isObject(ht)) throw new ContractError(file, 'historyTable must be an object');
  if (!Array.isArray(ht.indexes)) throw new ContractError(file, 'historyTable.indexes must be an array');
  const historyTable: ContractHistoryTable = {
    defaultName: str(file, ht, 'defaultName', 'historyTable.'),
    partitionKey: str(file, ht, 'partitionKey', 'historyTable.'),
    sortKey: str(file, ht, 'sortKey', 'historyTable.'),
    indexes: ht.indexes.map((x: unknown, i: number) => {
      if (!isObject(x)) throw new ContractError(file, `historyTable.indexes[${i}] must be an object`);
      const where = `historyTable.indexes[${i}].`;
      return { name: str(file, x, 'name', where), partitionKey: str(file, x, 'partitionKey', where), sortKey: str(file, x, 'sortKey', where) };
    }),
  };

  const jobTags: Record<string, string> = {};
  if (raw.jobTags !== undefined) {
    if (!isObject(raw.jobTags)) throw new ContractError(file, 'jobTags must be an object of role -> tag key');
    for (const [role, key] of Object.entries(raw.jobTags)) {
      if (typeof key !== 'string' || key.length === 0) {
        throw new ContractError(file, `jobTags.${role} must be a non-empty string`);
      }
      jobTags[role.toLowerCase()] = key;
    }
  }

  return { contractVersion: version, activityPrefix, activities, errors, historyTable, jobTags };
}
