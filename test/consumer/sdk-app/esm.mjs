// ESM import of the installed SDK: one real prediction against MODELPORT_URL (read by the SDK itself).
import { Modelport, NotFoundError } from 'modelport';

const client = new Modelport();
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
