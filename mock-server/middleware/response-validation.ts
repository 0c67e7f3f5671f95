/**
 * In tests (`validateResponses`, MODELPORT_VALIDATE_RESPONSES): every answer checked against
 * openapi.yaml, violations logged and recorded (contract/response-validation.ts). Canned fault
 * answers are what the test asked for, not what the contract promises, so they are left alone.
 */
import type { Contract } from '../contract/contract';
import { responseChecker } from '../contract/response-validation';
import type { Middleware } from '../server/context';

export function validateResponses(contract: Contract, logFile?: string): Middleware {
  const check = responseChecker(contract, logFile);
  return async (c, next) => {
    const answer = await next(c);
    if (c.fault?.status === undefined) await check(c.request, c.operation, answer);
    return answer;
  };
}
