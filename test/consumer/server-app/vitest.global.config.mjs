import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { include: ['global.test.ts'], globalSetup: ['@modelport/server/testing'], hookTimeout: 240_000 } });
