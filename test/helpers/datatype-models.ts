/**
 * Tiny real TensorFlow.js models for the datatype tests, written into a model repository
 * (`<dataDir>/models/<name>/{config.json,1/}`) so a server started on that dataDir serves them.
 *
 * - Layers models (saved with `model.save('file://…')`): an affine map on float32 inputs, the same
 *   map on int32 inputs, and an int32 identity.
 * - Graph models (platform `tfjs_graph`), written as a GraphDef in model.json plus a weights file,
 *   because layers models cannot take string inputs (every layers model slices its inputs into
 *   batches, and `slice` refuses string tensors) and have no layer that compares or negates bools.
 *
 * The config.json of each model declares the OIP datatypes requests must send; TF.js computes
 * in float32 / int32 / bool / string and the server converts on the way in and out.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Datatype } from '../../src/core/binary';
import type * as tfTypes from '../../mock-server/runtime/tfjs';
import { tf } from './tf';

export interface Spec {
  name: string;
  datatype: Datatype;
  shape: number[];
}

/** The affine map of the float models: y = x · KERNEL + BIAS (3 inputs → 2 outputs). */
export const KERNEL = [
  [1, 0],
  [0, 2],
  [0.5, -1],
];
export const BIAS = [0.125, -0.5];

/** The per-column factors of the integer graph models: scaled = x * FACTORS. */
export const FACTORS = [2, -3, 5];

/** The strings the `strings` graph model compares each row against, column by column. */
export const KEYWORDS = ['yes', 'héllo'];

/**
 * Writes config.json (as the bundled models' config.json: platform, signature, versions) and
 * 1/version.json (version 1's own platform and signature, which repositories that keep per-version
 * signatures read); returns the version folder for the artifacts.
 */
async function writeConfig(dataDir: string, name: string, platform: string, inputs: Spec[], outputs: Spec[]): Promise<string> {
  const dir = path.join(dataDir, 'models', name);
  await mkdir(path.join(dir, '1'), { recursive: true });
  const config = { name, task: 'datatype-test', platform, inputs, outputs, versions: { '1': {} } };
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  await writeFile(path.join(dir, '1', 'version.json'), JSON.stringify({ version: 1, platform, inputs, outputs }, null, 2));
  return path.join(dir, '1');
}

async function saveLayers(model: tfTypes.LayersModel, versionDir: string): Promise<void> {
  await model.save(`file://${versionDir}`);
}

/** y = x · KERNEL + BIAS, as a Dense layer whose weights are set by hand. */
function affine(inputDtype: 'float32' | 'int32'): tfTypes.LayersModel {
  const x = tf.input({ shape: [3], dtype: inputDtype, name: 'x' });
  const dense = tf.layers.dense({ units: 2, name: 'affine' });
  const model = tf.model({ inputs: x, outputs: dense.apply(x) as tfTypes.SymbolicTensor });
  dense.setWeights([tf.tensor2d(KERNEL), tf.tensor1d(BIAS)]);
  return model;
}

/** The input tensor itself as output (a functional model whose output is its input). */
function identity(dtype: 'int32' | 'bool'): tfTypes.LayersModel {
  const x = tf.input({ shape: [3], dtype, name: 'x' });
  return tf.model({ inputs: x, outputs: x });
}

// ---- GraphDef helpers (the format tfjs-converter writes for `tfjs_graph_model`) ----

type TfType = 'DT_FLOAT' | 'DT_INT32' | 'DT_BOOL' | 'DT_STRING';
const type = (t: TfType) => ({ type: t });
const dims = (...sizes: number[]) => ({ dim: sizes.map((size) => ({ size: String(size) })) });

interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, unknown>;
}

const placeholder = (name: string, dtype: TfType, ...shape: number[]): GraphNode => ({
  name,
  op: 'Placeholder',
  attr: { dtype: type(dtype), shape: { shape: dims(...shape) } },
});
const constant = (name: string, dtype: TfType, ...shape: number[]): GraphNode => ({
  name,
  op: 'Const',
  attr: { dtype: type(dtype), value: { tensor: { dtype, tensorShape: dims(...shape) } } },
});
const op = (name: string, kind: string, inputs: string[], attr: Record<string, unknown> = {}): GraphNode => ({
  name,
  op: kind,
  input: inputs,
  attr,
});

/**
 * Writes a graph model: nodes in order (TF.js takes Placeholders as inputs and nodes nothing
 * consumes as outputs, both in node order) and the values of its Const nodes as weights.
 */
async function saveGraph(versionDir: string, nodes: GraphNode[], constants: { name: string; tensor: tfTypes.Tensor }[]): Promise<void> {
  const { data, specs } = await tf.io.encodeWeights(constants);
  const modelJson = {
    format: 'graph-model',
    generatedBy: 'modelport test/helpers/datatype-models.ts',
    convertedBy: null,
    modelTopology: { node: nodes, library: {}, versions: { producer: 1 } },
    weightsManifest: [{ paths: constants.length ? ['weights.bin'] : [], weights: specs }],
  };
  await writeFile(path.join(versionDir, 'model.json'), JSON.stringify(modelJson));
  if (constants.length) await writeFile(path.join(versionDir, 'weights.bin'), new Uint8Array(data));
}

/** Integer datatypes served by the `int-<datatype>` graph models. */
export const INTEGER_TYPES = ['INT8', 'UINT8', 'INT16', 'UINT16', 'INT32', 'INT64'] as const;
export type IntegerType = (typeof INTEGER_TYPES)[number];

/** Builds every model of the datatype tests into `<dataDir>/models`. */
export async function buildDatatypeModels(dataDir: string): Promise<void> {
  const row = (datatype: Datatype, width: number): Spec[] => [{ name: 'x', datatype, shape: [-1, width] }];

  // Float32 layers model, served as FP32, FP16 and FP64 (same artifacts, different declared datatypes).
  for (const datatype of ['FP32', 'FP16', 'FP64'] as const) {
    const dir = await writeConfig(dataDir, `affine-${datatype.toLowerCase()}`, 'tfjs_layers', row(datatype, 3), [
      { name: 'y', datatype, shape: [-1, 2] },
    ]);
    await saveLayers(affine('float32'), dir);
  }
  // FP16 in with FP32 out (shows what the model received), FP32 in with FP16 out (shows the
  // output conversion alone).
  for (const [name, inType, outType] of [
    ['affine-fp16-to-fp32', 'FP16', 'FP32'],
    ['affine-fp32-to-fp16', 'FP32', 'FP16'],
  ] as const) {
    const dir = await writeConfig(dataDir, name, 'tfjs_layers', row(inType, 3), [{ name: 'y', datatype: outType, shape: [-1, 2] }]);
    await saveLayers(affine('float32'), dir);
  }
  // Same map on an int32 input declared UINT8 (an image-like input): integers in, FP32 out.
  {
    const dir = await writeConfig(dataDir, 'affine-uint8', 'tfjs_layers', row('UINT8', 3), [
      { name: 'y', datatype: 'FP32', shape: [-1, 2] },
    ]);
    await saveLayers(affine('int32'), dir);
  }
  // int32 identity layers model declared INT16 in and out.
  {
    const dir = await writeConfig(dataDir, 'identity-int16', 'tfjs_layers', row('INT16', 3), [
      { name: 'x_out', datatype: 'INT16', shape: [-1, 3] },
    ]);
    await saveLayers(identity('int32'), dir);
  }
  // bool identity layers model: BOOL in, BOOL out.
  {
    const dir = await writeConfig(dataDir, 'identity-bool', 'tfjs_layers', row('BOOL', 3), [
      { name: 'x_out', datatype: 'BOOL', shape: [-1, 3] },
    ]);
    await saveLayers(identity('bool'), dir);
  }

  // Integer graph models: same = x (declared the input's datatype), scaled = x * FACTORS (int32,
  // declared INT64 for the INT64 model and INT32 otherwise).
  for (const datatype of INTEGER_TYPES) {
    const dir = await writeConfig(dataDir, `int-${datatype.toLowerCase()}`, 'tfjs_graph', row(datatype, 3), [
      { name: 'same', datatype, shape: [-1, 3] },
      { name: 'scaled', datatype: datatype === 'INT64' ? 'INT64' : 'INT32', shape: [-1, 3] },
    ]);
    await saveGraph(
      dir,
      [
        placeholder('x', 'DT_INT32', -1, 3),
        op('same', 'Identity', ['x'], { T: type('DT_INT32') }),
        constant('factors', 'DT_INT32', 3),
        op('scaled', 'Mul', ['x', 'factors'], { T: type('DT_INT32') }),
      ],
      [{ name: 'factors', tensor: tf.tensor1d(FACTORS, 'int32') }],
    );
  }

  // A misdeclared model: INT32 in, x * FACTORS declared INT8, which holds only small products.
  {
    const dir = await writeConfig(dataDir, 'int-narrow', 'tfjs_graph', row('INT32', 3), [
      { name: 'scaled', datatype: 'INT8', shape: [-1, 3] },
    ]);
    await saveGraph(
      dir,
      [
        placeholder('x', 'DT_INT32', -1, 3),
        constant('factors', 'DT_INT32', 3),
        op('scaled', 'Mul', ['x', 'factors'], { T: type('DT_INT32') }),
      ],
      [{ name: 'factors', tensor: tf.tensor1d(FACTORS, 'int32') }],
    );
  }

  // BOOL graph model: not = !b (BOOL), not_int = int32(!b) declared INT8.
  {
    const dir = await writeConfig(
      dataDir,
      'logic',
      'tfjs_graph',
      [{ name: 'b', datatype: 'BOOL', shape: [-1, 3] }],
      [
        { name: 'not', datatype: 'BOOL', shape: [-1, 3] },
        { name: 'not_int', datatype: 'INT8', shape: [-1, 3] },
      ],
    );
    await saveGraph(
      dir,
      [
        placeholder('b', 'DT_BOOL', -1, 3),
        op('not_bool', 'LogicalNot', ['b']),
        op('not', 'Identity', ['not_bool'], { T: type('DT_BOOL') }),
        op('not_int', 'Cast', ['not_bool'], { SrcT: type('DT_BOOL'), DstT: type('DT_INT32') }),
      ],
      [],
    );
  }

  // FP32 in, BOOL out: positive = x > 0.
  {
    const dir = await writeConfig(dataDir, 'positive', 'tfjs_graph', row('FP32', 3), [
      { name: 'positive', datatype: 'BOOL', shape: [-1, 3] },
    ]);
    await saveGraph(
      dir,
      [
        placeholder('x', 'DT_FLOAT', -1, 3),
        constant('zero', 'DT_FLOAT'),
        op('positive', 'Greater', ['x', 'zero'], { T: type('DT_FLOAT') }),
      ],
      [{ name: 'zero', tensor: tf.scalar(0, 'float32') }],
    );
  }

  // BYTES graph model: echo = s (BYTES), match = s == KEYWORDS column by column (BOOL).
  {
    const dir = await writeConfig(
      dataDir,
      'strings',
      'tfjs_graph',
      [{ name: 's', datatype: 'BYTES', shape: [-1, 2] }],
      [
        { name: 'echo', datatype: 'BYTES', shape: [-1, 2] },
        { name: 'match', datatype: 'BOOL', shape: [-1, 2] },
      ],
    );
    await saveGraph(
      dir,
      [
        placeholder('s', 'DT_STRING', -1, 2),
        op('echo', 'Identity', ['s'], { T: type('DT_STRING') }),
        constant('keywords', 'DT_STRING', 2),
        op('match', 'Equal', ['s', 'keywords'], { T: type('DT_STRING') }),
      ],
      [{ name: 'keywords', tensor: tf.tensor1d(KEYWORDS, 'string') }],
    );
  }
}
