/** Authentication and authorisation of one request against the operation's declared scopes. */
import type { Operation } from '../contract/contract';
import type { HeaderBag, ServerState } from '../http/context';
import { HttpError } from '../http/errors';
import type { Principal } from './keys';

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** The caller, or a 401/403. Public operations and auth-off servers let everyone through. */
export function authorize(state: ServerState, operation: Operation, request: { headers: HeaderBag }, params: Record<string, string>): Principal | undefined {
  const needed = operation.scopes ?? [];
  if (!state.options.auth || needed.length === 0) return undefined;
  const header = request.headers.get('authorization');
  const token = header ? BEARER.exec(header)?.[1] : undefined;
  if (!token) throw unauthorized('an API key is required: send Authorization: Bearer <key>');
  const principal = state.keys.verify(token);
  if (!principal) throw unauthorized('the API key is not valid or has been revoked');
  const isAdmin = principal.scopes.includes('admin');
  if (!isAdmin && !needed.some((scope) => principal.scopes.includes(scope as Principal['scopes'][number]))) {
    throw new HttpError(403, 'forbidden', `this key lacks the scope ${needed.map((s) => `'${s}'`).join(' or ')} that ${operation.operationId} needs`);
  }
  const model = params.model_name;
  if (model !== undefined && principal.models && !principal.models.includes(model)) {
    throw new HttpError(403, 'model_forbidden', `this key may not use model '${model}'`);
  }
  return principal;
}

function unauthorized(message: string): HttpError {
  return new HttpError(401, 'unauthorized', message, undefined, { 'www-authenticate': 'Bearer' });
}
