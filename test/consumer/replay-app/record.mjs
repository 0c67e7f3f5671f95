// Records a cassette with the SDK's Node-only recorder (modelport/record) against MODELPORT_URL, a real
// server, and keeps what the SDK decoded for the replay test to compare with.
import { writeFileSync } from 'node:fs';
import { Modelport } from 'modelport';
import { recordCassette } from 'modelport/record';

const recorder = await recordCassette('predictions.jsonl');
const client = new Modelport({ fetch: recorder.fetch });
const rows = [
  [6.3, 3.3, 6.0, 2.5],
  [5.1, 3.5, 1.4, 0.2],
  [5.9, 3.0, 4.2, 1.5],
];
const expected = [];
for (const binary of [false, true]) {
  for (const row of rows) {
    const prediction = await client.predict('iris', [row], { binary });
    expected.push({ row, binary, labels: prediction.labels, data: Array.from(prediction.output.data) });
  }
}
await recorder.close();
writeFileSync('expected.json', JSON.stringify(expected));
console.log(JSON.stringify({ recorded: recorder.count }));
