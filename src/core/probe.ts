/**
 * Health and model-ready probes as OIP servers answer them. The Open Inference Protocol says the
 * status is the answer: 200 true, 4xx false, with any body or none. Triton answers 200 or 400
 * with an empty body (its `/v2/models/{m}/ready` 400 carries `{"error":"Model version not
 * ready"}`); some servers say "not ready" with 503; modelport answers JSON (`{ "ready": true }`,
 * 503 `not_ready` while loading). Other errors (401, 403, 404, 5xx but 503) still throw.
 */
import { withRequestId } from './transport';

/** The statuses that mean "no" to a probe: Triton's 400, and the 503 of servers still loading. */
export const NOT_READY_STATUSES: readonly number[] = [400, 503];

/**
 * The probe's answer from `response`: `{ [key]: false }` for a not-ready status; for a 2xx, the
 * server's JSON when it carries a boolean `key` (modelport's own answers), else `{ [key]: true }`.
 * `extra` fills the other fields when the server did not send them (`name` of a model).
 */
export async function probeAnswer<K extends string, T extends { [P in K]: boolean }>(
  response: Response,
  key: K,
  extra: Omit<T, K>,
): Promise<T> {
  const text = await response.text().catch(() => '');
  if (!response.ok) return withRequestId({ ...extra, [key]: false } as T, response);
  const sent = parseObject(text);
  const answer = sent && typeof sent[key] === 'boolean' ? ({ ...extra, ...sent } as T) : ({ ...extra, [key]: true } as T);
  return withRequestId(answer, response);
}

function parseObject(text: string): Record<string, unknown> | undefined {
  if (!text) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    // The status is the answer; a body that is not JSON (a proxy's "OK") says nothing more.
    return undefined;
  }
}
