/**
 * Authentication and authorisation against the operation's declared scopes (401, 403), and the
 * caller's rate limit (429; RateLimit-* headers on every answer to a limited key). Public
 * operations and servers without auth let everyone through. The key's model restriction is
 * model-access.ts's: it holds for every model a request names, not only the path's.
 */
import type { Principal } from '../auth/keys';
import { HttpError } from '../http/errors';
import type { Exchange, Middleware } from '../server/context';

const BEARER = /^Bearer\s+(\S+)\s*$/i;

export const authenticate: Middleware = (c, next) => {
  const principal = authorize(c);
  if (principal) {
    c.principal = principal;
    limitRate(c, principal);
  }
  return next(c);
};

/** The caller, or a 401/403; undefined when the operation is public or auth is off. */
function authorize(c: Exchange): Principal | undefined {
  const operation = c.operation!;
  const needed = operation.scopes ?? [];
  if (!c.state.options.auth || needed.length === 0) return undefined;
  const header = c.request.headers.get('authorization');
  const token = header ? BEARER.exec(header)?.[1] : undefined;
  if (!token) throw unauthorized('an API key is required: send Authorization: Bearer <key>');
  const principal = c.state.keys.verify(token);
  if (!principal) throw unauthorized('the API key is not valid or has been revoked');
  const isAdmin = principal.scopes.includes('admin');
  if (!isAdmin && !needed.some((scope) => principal.scopes.includes(scope as Principal['scopes'][number]))) {
    throw new HttpError(
      403,
      'forbidden',
      `this key lacks the scope ${needed.map((s) => `'${s}'`).join(' or ')} that ${operation.operationId} needs`,
    );
  }
  return principal;
}

function limitRate(c: Exchange, principal: Principal): void {
  const limit = principal.rateLimit ?? c.state.options.defaultRateLimit;
  if (!limit) return;
  const decision = c.state.rateLimiter.take(principal.keyId, limit);
  c.header('ratelimit-limit', String(decision.limit));
  c.header('ratelimit-remaining', String(decision.remaining));
  c.header('ratelimit-reset', String(decision.resetSeconds));
  if (!decision.allowed) {
    throw new HttpError(
      429,
      'rate_limited',
      `rate limit of ${limit.requests_per_second} requests/s exceeded; retry in ${decision.resetSeconds} s`,
      undefined,
      { 'retry-after': String(decision.resetSeconds) },
    );
  }
}

function unauthorized(message: string): HttpError {
  return new HttpError(401, 'unauthorized', message, undefined, { 'www-authenticate': 'Bearer' });
}
