// A user's vitest config: one modelport mock server for the whole test run.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['@modelport/server/testing'],
  },
});
