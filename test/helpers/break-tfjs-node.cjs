// Preloaded into a child process to make `require('@tensorflow/tfjs-node')` fail the way it does
// on a machine where the native binding was never built.
const Module = require('node:module');
const originalLoad = Module._load;
Module._load = function load(request, parent, isMain) {
  if (request === '@tensorflow/tfjs-node') {
    throw new Error('The Node.js native addon module (tfjs_binding.node) can not be found (simulated)');
  }
  return originalLoad.call(this, request, parent, isMain);
};
