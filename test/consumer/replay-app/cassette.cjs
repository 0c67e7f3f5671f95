// CommonJS require of the cassette subpath: reads the recorded cassette and matches its first infer.
const { readFileSync } = require('node:fs');
const { parseCassette, matchRequest } = require('modelport/cassette');

const cassette = parseCassette(readFileSync('predictions.jsonl', 'utf8'));
const infer = cassette.interactions.find((interaction) => interaction.request.method === 'POST');
const result = matchRequest(cassette, infer.request);
console.log(
  JSON.stringify({ interactions: cassette.interactions.length, outcome: result.outcome, seq: result.interaction.seq === infer.seq }),
);
