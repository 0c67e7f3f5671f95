/**
 * `node --import ./test/support/forbid-tensorflow.mjs …`: a process that cannot load TensorFlow. Any
 * import or require of an @tensorflow/* package (or of a file inside one) throws "TensorFlow may not
 * load in this process", so a replay that needed TensorFlow fails loudly instead of quietly working.
 */
import Module, { register } from 'node:module';

const FORBIDDEN = /(^@tensorflow\/)|([\\/]@tensorflow[\\/])|(^file:.*\/@tensorflow\/)/;
const refusal = (what) => new Error(`TensorFlow may not load in this process: ${what}`);

// ESM imports (and tsx's), resolved in the loader thread.
const hook = `
  const FORBIDDEN = ${FORBIDDEN};
  export async function resolve(specifier, context, next) {
    if (FORBIDDEN.test(specifier)) throw new Error('TensorFlow may not load in this process: ' + specifier);
    const resolved = await next(specifier, context);
    if (FORBIDDEN.test(resolved.url)) throw new Error('TensorFlow may not load in this process: ' + resolved.url);
    return resolved;
  }`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);

// CommonJS require, which Node 20's loader hooks do not see.
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (FORBIDDEN.test(request)) throw refusal(request);
  const file = resolveFilename.call(this, request, ...rest);
  if (FORBIDDEN.test(file)) throw refusal(file);
  return file;
};
