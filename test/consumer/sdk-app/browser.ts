// What a browser app bundles: the SDK and one predict call.
import { Modelport } from 'modelport';

const client = new Modelport({ baseUrl: 'https://models.example.com', apiKey: 'key' });
const prediction = await client.predict('iris', [[6.3, 3.3, 6.0, 2.5]]);
document.body.textContent = String(prediction.labels);
