// CommonJS require of the installed SDK (also run under --no-experimental-require-module, as
// Node 20.0-20.18 and 22.0-22.11 behave): one real prediction.
const { Modelport, NotFoundError } = require('modelport');

(async () => {
  const client = new Modelport({ baseUrl: process.env.MODELPORT_URL, apiKey: process.env.MODELPORT_API_KEY });
  const prediction = await client.predict('iris', [[6.3, 3.3, 6.0, 2.5]]);
  const missing = await client.predict('no-such-model', [[1, 2, 3, 4]]).catch((error) => error);
  console.log(
    JSON.stringify({
      labels: prediction.labels,
      shape: prediction.output.shape,
      notFound: missing instanceof NotFoundError,
      status: missing.status,
    }),
  );
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
