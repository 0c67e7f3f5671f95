/**
 * Where a drift report re-sends a recorded infer request: the recorded model and version, or the
 * `model` option's `name[@version|@alias]`. An alias is resolved once, through the /v1 alias API
 * (`GET /v1/models/<m>/aliases`), to the one version it points at, so that every request of the
 * report goes to the same version and the report can say which. modelport's /v2 path would take the
 * alias too, but a weighted alias (a canary) picks a version per request there, which would mix two
 * models in one report; servers without /v1 (Triton, KServe) have no aliases to resolve, and are
 * refused with what to pass instead.
 */
import { ModelportError } from 'modelport';
import { errorText, getJson, type JsonAnswer, type ServerAccess } from './diff-send';
import type { ModelRef } from './model-path';

const ALIAS = /^[A-Za-z][A-Za-z0-9._-]{0,63}$/;

/** A diff that cannot be run as asked: a bad `model` option, an alias that cannot be resolved, nothing to compare. */
export class DiffError extends ModelportError {
  override name = 'DiffError';
}

/** The `model` option read: a name and/or a version number or alias. */
export interface TargetSpec {
  name: string | null;
  version: string | null;
  alias: string | null;
}

/** `digits-mlp`, `digits@2`, `digits@staging`, `@staging` (each recorded model's alias). */
export function parseTargetSpec(spec: string): TargetSpec {
  const at = spec.indexOf('@');
  const name = at === -1 ? spec : spec.slice(0, at);
  const ref = at === -1 ? null : spec.slice(at + 1);
  if (name === '' && ref === null) throw new DiffError(`model '' names nothing: pass name, name@version, name@alias or @alias`);
  if (ref !== null && /^\d+$/.test(ref) && Number(ref) >= 1) return { name: name || null, version: String(Number(ref)), alias: null };
  if (ref !== null && !ALIAS.test(ref)) {
    throw new DiffError(
      `model '${spec}': '${ref}' is neither a version number (from 1) nor an alias (a letter, then up to 63 letters, digits, '.', '_', '-')`,
    );
  }
  return { name: name || null, version: null, alias: ref };
}

/** What a recorded model's requests are sent to once its alias, if any, is resolved. */
export interface ResolvedTarget extends ModelRef {
  /** The alias the version was resolved from. */
  alias?: string;
}

/** Resolves `spec` for a recorded model; aliases are looked up once per model name (`cache`). */
export async function resolveTarget(
  recorded: ModelRef,
  spec: TargetSpec | undefined,
  access: ServerAccess,
  cache: Map<string, Promise<string>>,
): Promise<ResolvedTarget> {
  if (spec === undefined) return { ...recorded };
  const name = spec.name ?? recorded.name;
  if (spec.alias === null) {
    // A new name without a version takes the server's default: the recorded version belongs to the recorded model.
    return { name, version: spec.version ?? (spec.name === null || spec.name === recorded.name ? recorded.version : null) };
  }
  const key = `${name}\u0000${spec.alias}`;
  let version = cache.get(key);
  if (!version) {
    version = aliasVersion(name, spec.alias, access);
    cache.set(key, version);
  }
  return { name, version: await version, alias: spec.alias };
}

async function aliasVersion(model: string, alias: string, access: ServerAccess): Promise<string> {
  const path = `/v1/models/${encodeURIComponent(model)}/aliases`;
  const answer = await getJson(access, path);
  const url = `${access.against}${path}`;
  const cannot = `so alias '${alias}' cannot be resolved; name a version instead: ${model}@<version>`;
  if (answer.status === 404 && errorCode(answer.json) === 'model_not_found') {
    throw new DiffError(`model '${model}' is not on ${access.against} (GET ${path}: 404 ${errorText(answer)})`);
  }
  if (answer.status !== 200 || !isAliasList(answer.json)) {
    const what = answer.status === 200 ? 'an answer that is not an alias list' : `${answer.status} ${errorText(answer)}`;
    throw new DiffError(`GET ${url} answered ${what}: the server has no modelport /v1 alias API, ${cannot}`);
  }
  const found = answer.json.data.find((entry) => entry.name === alias);
  if (!found) {
    const names = answer.json.data.map((entry) => entry.name);
    throw new DiffError(`model '${model}' has no alias '${alias}' (it has ${names.length ? `'${names.join("', '")}'` : 'none'})`);
  }
  const weighted = found.targets.filter((t) => t.weight > 0);
  if (weighted.length !== 1) {
    const split = found.targets.map((t) => `version ${t.version} (weight ${t.weight})`).join(', ');
    throw new DiffError(
      `alias '${alias}' of '${model}' splits requests between ${split}: a drift report compares one version; pass ${model}@<version>`,
    );
  }
  return String(weighted[0]!.version);
}

interface AliasList {
  data: { name: string; targets: { version: number; weight: number }[] }[];
}

function isAliasList(json: unknown): json is AliasList {
  const data = (json as { data?: unknown } | null)?.data;
  return (
    Array.isArray(data) &&
    data.every(
      (entry) =>
        typeof entry?.name === 'string' &&
        Array.isArray(entry.targets) &&
        entry.targets.every((t: { version?: unknown; weight?: unknown }) => Number.isInteger(t?.version) && typeof t?.weight === 'number'),
    )
  );
}

function errorCode(json: JsonAnswer['json']): unknown {
  return (json as { code?: unknown } | null)?.code;
}
