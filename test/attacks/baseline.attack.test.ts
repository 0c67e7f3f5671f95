/** The harness itself: an ordinary workload stays within the budgets every attack is held to. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AttackServer, startAttackServer, underAttack } from './harness';

let server: AttackServer;
beforeAll(async () => {
  server = await startAttackServer();
});
afterAll(() => server?.stop());

describe('baseline', () => {
  it('50 ordinary iris inferences: delay ≤ 1 s, RSS growth ≤ 100 MB, ready after', async () => {
    const statuses = await underAttack(server, { maxLoopDelayMs: 1000, maxRssGrowthMb: 100 }, async () => {
      const answers = [];
      for (let i = 0; i < 50; i++) {
        const response = await server.fetch('/v2/models/iris/infer', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] }),
        });
        answers.push(response.status);
        await response.arrayBuffer();
      }
      return answers;
    });
    expect(statuses).toEqual(Array(50).fill(200));
  });

  it('the vitals window starts over on DELETE and reports the process it measures', async () => {
    expect((await server.fetch('/_mock/vitals', { method: 'DELETE' })).status).toBe(204);
    const vitals = await (await server.fetch('/_mock/vitals')).json();
    expect(vitals.peak_rss_bytes).toBeGreaterThanOrEqual(vitals.rss_at_start_bytes);
    expect(vitals.rss_bytes).toBeGreaterThan(20 * 1024 * 1024);
    expect(Date.now() - Date.parse(vitals.since)).toBeLessThan(60_000);
    expect(vitals.event_loop_delay_ms.max).toBeGreaterThanOrEqual(0);
  });
});
