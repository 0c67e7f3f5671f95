const { Modelport } = require('modelport');

test('the global setup server predicts with real models', async () => {
  const client = new Modelport();
  const prediction = await client.predict('iris', [[6.3, 3.3, 6.0, 2.5]]);
  expect(prediction.labels).toEqual(['virginica']);
  expect((await client.server.metadata()).runtime.backend).toBe('tensorflow');
}, 60000);
