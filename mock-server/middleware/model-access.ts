/**
 * A key's model restriction holds wherever a request names a model, and moving an alias needs
 * `models:write`. What each operation names is declared in model-references.ts; this file checks
 * it, in two steps of the request path (server/app.ts): `authorizeModels` right after
 * authentication (the path, the query, the jobs the path names, operations on every model: before
 * admission and before the body is read) and `authorizeBodyModels` once the body is parsed and
 * validated. A named model outside the key's list is 403 `model_forbidden`, whether it exists or
 * not. Lists are not refused but filtered, by their handlers (auth/model-restriction.ts).
 */
import type { Principal } from '../auth/keys';
import { describeRestriction, mayUseModel } from '../auth/model-restriction';
import { HttpError } from '../http/errors';
import type { RouteResult } from '../http/respond';
import type { Exchange, Middleware, Next } from '../server/context';
import {
  type AliasReference,
  isInBody,
  MODEL_ACCESS,
  type ModelAccess,
  type ModelReference,
  type OperationId,
  valuesAt,
} from './model-references';

/** An operation missing from the table (it cannot be, by its type) is treated as acting on every model: closed, not open. */
const UNKNOWN: ModelAccess = { everyModel: true };

interface Named {
  model: string;
  /** Where the request named it, for the refusal. */
  where: string;
}

export const authorizeModels: Middleware = (c, next) => {
  const principal = c.principal;
  if (!principal) return next(c);
  const access = accessOf(c);
  if (access.everyModel && principal.models) {
    throw forbiddenModel(
      `${c.operation!.operationId} acts on every model, and this key may not use them all; ${describeRestriction(principal)}`,
    );
  }
  const references = principal.models ? (access.names ?? []).filter((reference) => !isInBody(reference)) : [];
  if (references.some((reference) => reference.in === 'evaluation')) return checkJobsThen(c, next, principal, references);
  checkNamed(
    principal,
    references.flatMap((reference) => namedSync(c, reference)),
  );
  // The model first (the more basic refusal), then the scope an alias move needs.
  if (access.movesAlias && !isInBody(access.movesAlias)) checkAliasScope(c, principal, access, access.movesAlias);
  return next(c);
};

export const authorizeBodyModels: Middleware = (c, next) => {
  const principal = c.principal;
  if (!principal) return next(c);
  const access = accessOf(c);
  if (principal.models) {
    if (access.grantsModels) checkGrant(c, principal, access.grantsModels);
    checkNamed(
      principal,
      (access.names ?? []).filter(isInBody).flatMap((reference) => namedSync(c, reference)),
    );
  }
  if (access.movesAlias && isInBody(access.movesAlias)) checkAliasScope(c, principal, access, access.movesAlias);
  return next(c);
};

function accessOf(c: Exchange): ModelAccess {
  return MODEL_ACCESS[c.operation!.operationId as OperationId] ?? UNKNOWN;
}

async function checkJobsThen(c: Exchange, next: Next, principal: Principal, references: ModelReference[]): Promise<RouteResult> {
  const named: Named[] = [];
  for (const reference of references)
    named.push(...(reference.in === 'evaluation' ? await evaluationModels(c, reference.name) : namedSync(c, reference)));
  checkNamed(principal, named);
  return next(c);
}

function checkNamed(principal: Principal, named: Named[]): void {
  for (const { model, where } of named) {
    if (!mayUseModel(principal, model))
      throw forbiddenModel(`this key may not use model '${model}' (${where}); ${describeRestriction(principal)}`);
  }
}

/** The models a reference names that can be read without waiting (everything but evaluations). */
function namedSync(c: Exchange, reference: ModelReference): Named[] {
  switch (reference.in) {
    case 'path': {
      const model = c.params[reference.name];
      return model === undefined ? [] : [{ model, where: 'named in the path' }];
    }
    case 'query': {
      const model = c.query[reference.name];
      return typeof model === 'string' ? [{ model, where: `named by the query parameter '${reference.name}'` }] : [];
    }
    case 'body':
      return valuesAt(c.body, reference.pointer).map(({ value, at }) => ({ model: value, where: `named in the body at ${at}` }));
    case 'training-job':
      return trainingJobModel(c, reference.name);
    case 'evaluation':
      return [];
  }
}

/** A training job's model; none when there is no such job (its handler answers the 404). */
function trainingJobModel(c: Exchange, param: string): Named[] {
  const id = c.params[param]!;
  const model = ifFound(() => c.state.training.get(id).model);
  return model === undefined ? [] : [{ model, where: `the model of training job '${id}'` }];
}

async function evaluationModels(c: Exchange, param: string): Promise<Named[]> {
  const id = c.params[param]!;
  const lab = await c.state.lab.open();
  const evaluation = ifFound(() => lab.jobs.get(id));
  return (evaluation?.models ?? []).map(({ model }) => ({ model, where: `evaluated by evaluation '${id}'` }));
}

function ifFound<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (error) {
    if (error instanceof HttpError && error.status === 404) return undefined;
    throw error;
  }
}

/** Pointing or deleting an alias changes what every caller of the model is served: `models:write` (or `admin`) only. */
function checkAliasScope(c: Exchange, principal: Principal, access: ModelAccess, reference: AliasReference): void {
  const alias = reference.in === 'path' ? c.params[reference.name] : valuesAt(c.body, reference.pointer)[0]?.value;
  if (alias === undefined || principal.scopes.includes('admin') || principal.scopes.includes('models:write')) return;
  const model = (access.names ?? []).flatMap((r) => namedSync(c, r))[0]?.model;
  const field = reference.in === 'body' ? ` (${c.operation!.operationId}'s ${reference.pointer.slice(1)})` : '';
  throw new HttpError(
    403,
    'forbidden',
    `this key lacks the scope 'models:write' that moving alias '${alias}'${model ? ` of model '${model}'` : ''} needs${field}`,
  );
}

/** A restricted key may give a new key only models it may use itself, and may not give an unrestricted one. */
function checkGrant(c: Exchange, principal: Principal, field: string): void {
  const given = (c.body as Record<string, unknown> | undefined)?.[field];
  if (!Array.isArray(given)) {
    throw forbiddenModel(`this key may create only keys restricted to its own models: give '${field}'; ${describeRestriction(principal)}`);
  }
  checkNamed(
    principal,
    given.map((model, i) => ({ model: String(model), where: `given to the new key at /${field}/${i}` })),
  );
}

function forbiddenModel(message: string): HttpError {
  return new HttpError(403, 'model_forbidden', message);
}
