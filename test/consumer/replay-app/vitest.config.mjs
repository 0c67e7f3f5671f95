import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { include: ['replay.test.mjs'], testTimeout: 60_000 } });
