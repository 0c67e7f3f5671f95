// A Jest project (CommonJS) with modelport's global setup and teardown.
module.exports = {
  testEnvironment: 'node',
  testMatch: ['**/predict.jest.cjs'],
  globalSetup: '@modelport/server/testing',
  globalTeardown: '@modelport/server/testing',
};
