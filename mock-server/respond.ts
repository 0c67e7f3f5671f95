/** Small Response builders shared by every route. */
import { HttpError, type ErrorBody } from './errors';

const JSON_HEADERS = { 'content-type': 'application/json' };

export function json(body: unknown, status = 200, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), { status, headers: headers ? { ...JSON_HEADERS, ...headers } : JSON_HEADERS });
}

export function errorResponse(error: HttpError, requestId: string): Response {
  const body: ErrorBody = { error: error.message, code: error.code, status: error.status, request_id: requestId };
  if (error.details?.length) body.details = error.details;
  return json(body, error.status, error.headers);
}
