/**
 * The request path, top to bottom. Each middleware (middleware/) does one thing and hands the
 * request on with `next(c)`; errors thrown below `errors` become the one error body, and the
 * headers every answer carries are set on the way back up. Middleware a server does not need
 * (test controls, CORS, response checks) are left out of its list.
 */
import { fetchHandler, type Handler } from '../http/handler';
import { admitInference, shedInference } from '../middleware/admission';
import { apiHeaders } from '../middleware/api-headers';
import { authenticate } from '../middleware/auth';
import { compose } from '../middleware/compose';
import { cors } from '../middleware/cors';
import { errors } from '../middleware/errors';
import { idempotency } from '../middleware/idempotency';
import { authorizeBodyModels, authorizeModels } from '../middleware/model-access';
import { servePages } from '../middleware/pages';
import { requestId } from '../middleware/request-id';
import { validateResponses } from '../middleware/response-validation';
import { handle, route } from '../middleware/routing';
import { injectFaults, journalRequests } from '../middleware/test-controls';
import { meterUsage } from '../middleware/usage';
import { validateRequest } from '../middleware/validation';
import { Exchange, type RouteTable } from './context';
import type { ServerState } from './state';

export interface AppOptions {
  /** Check every answer against openapi.yaml (tests); violations are also appended to `logFile` if given. */
  responseValidation?: { logFile?: string };
}

export function createApp(state: ServerState, routes: RouteTable, { responseValidation }: AppOptions = {}): Handler {
  const testControls = state.options.mockControls;
  const corsOrigins = state.options.cors.length > 0;
  const path = compose(
    [
      requestId, // x-request-id in, and on every answer
      servePages, // GET /docs/, /playground/, /openapi.yaml: static, answered here
      apiHeaders, // Cache-Control: no-store and nosniff on every API answer
      responseValidation && validateResponses(state.contract, responseValidation.logFile), // tests: every answer against openapi.yaml
      meterUsage, // requests, errors and time per key and model
      testControls && journalRequests, // what was received, for tests to read
      corsOrigins && cors, // preflight; CORS headers on every answer
      errors, // anything thrown below becomes the one error body
      route, // the operation of openapi.yaml: 404, 405
      authenticate, // API key and scopes: 401, 403; rate limit: 429
      authorizeModels, // the key's models: those named in the path, the query, the path's job: 403
      testControls && injectFaults, // injected latency, canned answers
      shedInference, // a model at its in-flight limit: 503 before the body is read
      validateRequest, // body within limits and in time, request against openapi.yaml: 400, 408, 413, 415
      admitInference, // the body is in: the request takes an in-flight slot of its model (503 when none is left)
      authorizeBodyModels, // the key's models named in the body; moving an alias needs models:write: 403
      idempotency, // Idempotency-Key: the first answer again; 409, 422
      handle(routes), // the operation's handler (routes/)
    ].filter((step) => typeof step === 'function'),
  );
  return fetchHandler((request) => path(new Exchange(request, state)));
}
