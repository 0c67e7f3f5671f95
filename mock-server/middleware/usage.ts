/** The usage meter (auth/usage.ts): every answered request, per key and per model, with its time. */
import type { Middleware } from '../server/context';

export const meterUsage: Middleware = async (c, next) => {
  const answer = await next(c);
  try {
    const model = c.params.model_name;
    // Per model only for models that exist: made-up names would each add a row, kept for a day.
    c.state.usage.record(
      c.principal?.keyId ?? 'anonymous',
      model !== undefined && c.state.models.has(model) ? model : undefined,
      answer.status,
      performance.now() - c.started,
    );
  } catch (error) {
    console.error(`[modelport] could not record request ${c.requestId} in the usage meter:`, error); // the answer still goes out
  }
  return answer;
};
