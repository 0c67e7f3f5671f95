// Reloads every bundled model from disk and re-evaluates it on its held-out split,
// failing unless the figures equal those recorded in its config.json.
// Usage: npx tsx scripts/verify-bundled-models.ts
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluateClassifier, round4 } from './evaluate-bundled-models';
import { loadIrisSplit } from '../mock-server/datasets/iris-split';
import { loadMnistSplit } from '../mock-server/datasets/mnist-split';
import { tf } from './tf';

interface VersionInfo {
  inputs: { shape: number[] }[];
  metrics: { dataset: string; samples: number; accuracy: number; loss: number };
}

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'mock-server', 'models');
const splits = { 'mnist-holdout': loadMnistSplit().test, 'iris-holdout': loadIrisSplit().test };
let failed = false;
for (const name of ['digits', 'digits-mlp', 'iris']) {
  for (const version of readdirSync(join(dir, name)).filter((entry) => /^\d+$/.test(entry))) {
    const info = JSON.parse(readFileSync(join(dir, name, version, 'version.json'), 'utf8')) as VersionInfo;
    const { metrics } = info;
    const model = await tf.loadLayersModel(`file://${join(dir, name, version, 'model.json')}`);
    const test = splits[metrics.dataset as keyof typeof splits];
    const got = evaluateClassifier(model, test, info.inputs[0]!.shape.slice(1));
    const ok = got.samples === metrics.samples && round4(got.accuracy) === metrics.accuracy && round4(got.loss) === metrics.loss;
    failed ||= !ok;
    console.log(
      `${ok ? 'ok  ' : 'FAIL'} ${name}/${version}: accuracy ${round4(got.accuracy)} (config ${metrics.accuracy}), loss ${round4(got.loss)} (config ${metrics.loss}), ${got.samples} samples`,
    );
    model.dispose();
  }
}
process.exitCode = failed ? 1 : 0;
