/**
 * A key's model restriction (`models` on the key): which models the caller may name, and which a
 * list shows it. A key without `models`, or no key at all (auth off, public operations), sees every
 * model. middleware/model-access.ts refuses requests that name other models; list handlers filter
 * their answers with `modelFilter`.
 */
import type { Principal } from './keys';

/** Whether the caller may use (and see) `model`. */
export function mayUseModel(principal: Principal | undefined, model: string): boolean {
  return !principal?.models || principal.models.includes(model);
}

/** A filter for lists and indexes: true for the models the caller may see. */
export function modelFilter(principal: Principal | undefined): (model: string) => boolean {
  const allowed = principal?.models;
  if (!allowed) return () => true;
  const set = new Set(allowed);
  return (model) => set.has(model);
}

/** How a refusal names the restriction: "it is restricted to iris, digits". */
export function describeRestriction(principal: Principal): string {
  const models = principal.models ?? [];
  return models.length ? `it is restricted to ${models.join(', ')}` : 'it is restricted to no model';
}
