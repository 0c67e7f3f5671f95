/**
 * x-request-id: a well-formed id the client sent, else a new one. Every answer carries it, and an
 * error body names it as `request_id`.
 */
import { randomUUID } from 'node:crypto';
import type { Middleware } from '../server/context';

const REQUEST_ID_PATTERN = /^[\w.:-]{1,128}$/;

export const requestId: Middleware = (c, next) => {
  const incoming = c.request.headers.get('x-request-id');
  c.requestId = incoming && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
  c.header('x-request-id', c.requestId);
  return next(c);
};
