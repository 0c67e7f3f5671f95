/**
 * The op allowlist of uploaded SavedModels (issue #18 item 1), as a function: SavedModels that
 * Python TensorFlow 2.21 / Keras 3 made (test/fixtures/savedmodel/policy, make_policy_fixtures.py),
 * graphs written here byte by byte for the cases Python does not make, and malformed files.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type APIError, Modelport } from '../src/index';
import { type RunningMockServer, startMockServer } from '../mock-server/index';
import { HttpError } from '../mock-server/http/errors';
import { readTfjsArtifacts } from '../mock-server/runtime/loader';
import { layersToSavedModel } from '../mock-server/runtime/layers-to-graph';
import { Pb } from '../mock-server/runtime/graph-protobuf';
import { MAX_ATTR_DEPTH, parseSavedModel } from '../mock-server/runtime/saved-model-proto';
import { checkSavedModelPolicy, type SavedModelPolicyOptions } from '../mock-server/runtime/saved-model-policy';
import { ALLOWED_OPS } from '../mock-server/runtime/saved-model-ops';
import { TENSORFLOW_OP_NAMES } from '../mock-server/runtime/tensorflow-op-names';
import { filesOf, zip } from './helpers/archives';
import { type ChildServer, kill, startChildServer } from './helpers/child-server';
import { BUNDLED, tempDataDir } from './helpers/data-dir';

const FIXTURES = new URL('./fixtures/savedmodel/', import.meta.url).pathname;
interface TensorJson {
  name: string;
  datatype?: string;
  shape: number[];
  data: (number | string)[];
}
const expected = JSON.parse(readFileSync(path.join(FIXTURES, 'policy', 'expected.json'), 'utf8')) as {
  benign: Record<string, { assets: string[]; input: TensorJson; output: TensorJson }>;
  hostile: Record<string, { op: string; function?: string }>;
};
const pbOf = (dir: string) => new Uint8Array(readFileSync(path.join(FIXTURES, dir, 'saved_model.pb')));
const assetsOf = (dir: string) => (existsSync(path.join(FIXTURES, dir, 'assets')) ? readdirSync(path.join(FIXTURES, dir, 'assets')) : []);
/** CPU time of this process (not wall-clock, which a busy machine stretches). */
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const serve = (assetFiles: string[] = []): SavedModelPolicyOptions => ({ tags: ['serve'], assetFiles });

/** The HttpError `check` throws (fails the test when it returns). */
function refusal(check: () => unknown): HttpError {
  try {
    check();
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError);
    return error as HttpError;
  }
  throw new Error('expected a refusal, the check passed');
}

describe('SavedModels real users make are accepted', () => {
  it.each(['tiny-classifier', ...Object.keys(expected.benign).map((name) => `policy/${name}`)])('%s', (dir) => {
    const report = checkSavedModelPolicy(pbOf(dir), serve(assetsOf(dir)));
    expect(report.trusted).toBe(false);
    expect(report.metaGraphs).toEqual([['serve']]);
    expect(report.nodes).toBeGreaterThan(40);
    // Keras's _traced_save / _traced_restore: checkpoint ops, allowed because only the saver reaches them.
    expect(report.ops.SaveV2).toBe(1);
    expect(report.ops.RestoreV2).toBe(1);
  });

  it('TextVectorization with an inline vocabulary is a table filled from tensors', () => {
    const report = checkSavedModelPolicy(pbOf('policy/text-vectorization'), serve());
    expect(report.ops).toMatchObject({ HashTableV2: expect.any(Number), LookupTableImportV2: 1, StringSplitV2: 1 });
  });

  it("StringLookup's vocabulary file is read only from the upload's own assets/", () => {
    expect(expected.benign['string-lookup-file']!.assets).toEqual(['vocabulary.txt']);
    const report = checkSavedModelPolicy(pbOf('policy/string-lookup-file'), serve(['vocabulary.txt']));
    expect(report.ops.InitializeTableFromTextFileV2).toBe(1);
    // The same model without the file in the upload: TensorFlow would read a path outside it.
    const error = refusal(() => checkSavedModelPolicy(pbOf('policy/string-lookup-file'), serve([])));
    expect(error).toMatchObject({ status: 400, code: 'forbidden_op' });
    expect(error.message).toMatch(/^op 'InitializeTableFromTextFileV2' \(node '[^']+', function '__inference__initializer_\d+'\)/);
    expect(error.message).toContain("asset_file_def names 'vocabulary.txt', which is not in the upload's assets/");
  });
});

describe('the graphs modelport writes for TF.js layers models are accepted', () => {
  it.each(['digits', 'digits-mlp', 'iris'])('bundled model %s', async (name) => {
    const { tf } = await import('./helpers/tf');
    const model = await tf.loadLayersModel(tf.io.fromMemory(await readTfjsArtifacts(path.join(BUNDLED, name, '1'))));
    const built = layersToSavedModel(model);
    if (typeof built === 'string') throw new Error(built);
    expect(checkSavedModelPolicy(built.savedModel, serve()).nodes).toBeGreaterThan(3);
    model.dispose();
  });

  it('every layer and activation layers-to-graph.ts translates', async () => {
    const { tf } = await import('./helpers/tf');
    const activations = ['relu', 'relu6', 'sigmoid', 'tanh', 'softmax', 'elu', 'selu', 'softplus', 'softsign', 'linear'] as const;
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3, activation: 'relu', padding: 'same' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.averagePooling2d({ poolSize: 2 }),
        tf.layers.reshape({ targetShape: [2, 4] }),
        tf.layers.flatten(),
        tf.layers.dropout({ rate: 0.1 }),
        ...activations.map((activation) => tf.layers.activation({ activation })),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ],
    });
    const built = layersToSavedModel(model);
    if (typeof built === 'string') throw new Error(built);
    const report = checkSavedModelPolicy(built.savedModel, serve());
    expect(Object.keys(report.ops).sort()).toEqual(
      ['AvgPool', 'BiasAdd', 'Const', 'Conv2D', 'Elu', 'Identity', 'MatMul', 'MaxPool', 'Placeholder', 'Relu', 'Relu6', 'Reshape']
        .concat(['Selu', 'Sigmoid', 'Softmax', 'Softplus', 'Softsign', 'Tanh'])
        .sort(),
    );
    model.dispose();
  });
});

describe('a TF1 export (compat.v1 Builder): a vocabulary file in the top graph, its asset in a collection', () => {
  const dir = 'policy/tf1-vocabulary-file';

  it('is accepted with its assets/words.txt, refused without it', () => {
    const [graph] = parseSavedModel(pbOf(dir));
    expect(graph!.functions).toEqual([]);
    expect(graph!.assets).toEqual([]);
    expect(graph!.collectionAssets).toEqual([{ tensor: expect.stringMatching(/:0$/), filename: 'words.txt' }]);
    // The session's own tables initializer is left in the graph; only the main op runs at load.
    expect(graph!.nodes.map((n) => n.name)).toContain('init_all_tables');
    expect(graph!.nodeLists.get('saved_model_main_op')).toEqual(['init_all_tables_1']);
    expect(checkSavedModelPolicy(pbOf(dir), serve(['words.txt'])).ops.InitializeTableFromTextFileV2).toBe(1);
    const error = refusal(() => checkSavedModelPolicy(pbOf(dir), serve([])));
    expect(error.message).toMatch(
      /^op 'InitializeTableFromTextFileV2' \(node 'text_file_init\/InitializeTableFromTextFileV2', in the top graph\) fills a lookup table from a file that is not one of the model's own assets\/: asset_file_def names 'words.txt', which is not in the upload's assets\//,
    );
  });
});

describe('hostile SavedModels are refused with forbidden_op naming op, node and function', () => {
  const cases: [string, RegExp][] = [
    ['read-file', /^op 'ReadFile' \(node 'ReadFile', function '__inference_serve_\d+'\) reads or writes files; /],
    ['write-file', /^op 'WriteFile' \(node 'WriteFile', function '__inference_serve_\d+'\) reads or writes files; /],
    ['matching-files', /^op 'MatchingFiles' \(node 'MatchingFiles', function '__inference_<lambda>_\d+'\) reads or writes files; /],
    [
      'save-from-serving',
      /^op 'SaveV2' \(node 'SaveV2', function '__inference_serve_\d+'\) saves or restores checkpoints, which only the SavedModel's saver may do; it is reachable from node 'StatefulPartitionedCall' of the top graph → /,
    ],
    [
      'calls-traced-save',
      /^op 'SaveV2' \(node 'SaveV2', function '__inference__traced_save_\d+'\) saves or restores checkpoints, .* → node 'smuggled_save' → function '__inference__traced_save_\d+'; /,
    ],
    ['nested-read-file', /^op 'ReadFile' \(node 'while\/ReadFile', function 'while_body_\d+'\) reads or writes files; /],
    [
      'table-from-etc-hostname',
      /^op 'InitializeTableFromTextFileV2' \(node 'InitializeTableFromTextFileV2', function '__inference__initializer_\d+'\) fills a lookup table from a file that is not one of the model's own assets\/: it comes from op 'Const'/,
    ],
  ];

  it('every hostile fixture has a case here', () => {
    expect(cases.map(([name]) => name).sort()).toEqual(Object.keys(expected.hostile).sort());
  });

  it.each(cases)('%s', (name, message) => {
    const error = refusal(() => checkSavedModelPolicy(pbOf(`policy/${name}`), serve(assetsOf(`policy/${name}`))));
    expect(error).toMatchObject({ status: 400, code: 'forbidden_op' });
    expect(error.message).toMatch(message);
    expect(error.message).toContain('modelport refuses models that touch files, the network or processes');
    expect(error.message).toContain(`op '${expected.hostile[name]!.op}'`);
    const [fn, node] = /function '([^']+)'/
      .exec(error.message)!
      .slice(1)
      .concat(/node '([^']+)'/.exec(error.message)![1]!);
    expect(error.details![0]).toEqual({
      path: `/saved_model.pb/functions/${fn!.replaceAll('/', '~1')}/${node!.replaceAll('/', '~1')}`,
      message: expect.stringContaining(`op '${expected.hostile[name]!.op}'`),
    });
  });

  it('ReadFile hidden in a while loop body is in the function library only, not the top graph', () => {
    const [graph] = parseSavedModel(pbOf('policy/nested-read-file'));
    expect(graph!.nodes.map((n) => n.op)).not.toContain('ReadFile');
    const holders = graph!.functions.filter((f) => f.nodes.some((n) => n.op === 'ReadFile')).map((f) => f.name);
    expect(holders).toEqual([expect.stringMatching(/^while_body_\d+$/)]);
    expect(refusal(() => checkSavedModelPolicy(pbOf('policy/nested-read-file'), serve())).details!.length).toBe(1);
  });

  it('the saver-reachable path is named for the traced save function called from serving', () => {
    const error = refusal(() => checkSavedModelPolicy(pbOf('policy/calls-traced-save'), serve()));
    expect(error.message).toContain(expected.hostile['calls-traced-save']!.function!);
    expect(error.message).toMatch(/\(\d more refused nodes in details\)$/);
    expect(error.details!.map((d) => d.message.split(' ')[1])).toEqual(
      expect.arrayContaining(["'SaveV2'", "'MergeV2Checkpoints'", "'ShardedFilename'"]),
    );
  });

  it('trusted (--trust-models) parses but does not refuse', () => {
    const report = checkSavedModelPolicy(pbOf('policy/read-file'), { ...serve(), trusted: true });
    expect(report).toMatchObject({ trusted: true, ops: { ReadFile: 1 } });
    expect(() => checkSavedModelPolicy(new Uint8Array(9).fill(0xff), { ...serve(), trusted: true })).toThrow(/not a valid SavedModel/);
  });
});

// --- graphs written byte by byte (graph-protobuf.ts's writer) ------------------------------------

type Attrs = Record<string, Pb>;
const node = (name: string, op: string, inputs: string[] = [], attrs: Attrs = {}) => {
  const n = new Pb().string(1, name).string(2, op);
  for (const input of inputs) n.string(3, input);
  for (const [key, value] of Object.entries(attrs)) n.message(5, new Pb().string(1, key).message(2, value));
  return n;
};
const func = (name: string) => new Pb().message(10, new Pb().string(1, name));
const funcList = (...names: string[]) =>
  new Pb().message(
    1,
    names.reduce((list, n) => list.message(9, new Pb().string(1, n)), new Pb()),
  );
const fn = (name: string, args: string[], nodes: Pb[]) => {
  const signature = new Pb().string(1, name);
  for (const arg of args) signature.message(2, new Pb().string(1, arg).int(3, 7));
  return nodes.reduce((f, n) => f.message(3, n), new Pb().message(1, signature));
};

interface GraphSpec {
  nodes: Pb[];
  functions?: Pb[];
  saver?: { filename: string; save: string; restore: string };
  mainOp?: string[];
  assets?: { tensor: string; filename: string }[];
  tags?: string[];
  /** The tensors signature 'serving_default' returns (what a client can make the server run). */
  outputs?: string[];
}
function savedModel(spec: GraphSpec): Uint8Array {
  const graph = new Pb();
  for (const n of spec.nodes) graph.message(1, n);
  if (spec.functions)
    graph.message(
      2,
      spec.functions.reduce((lib, f) => lib.message(1, f), new Pb()),
    );
  const meta = new Pb()
    .message(
      1,
      (spec.tags ?? ['serve']).reduce((info, t) => info.string(4, t), new Pb()),
    )
    .message(2, graph);
  if (spec.saver) meta.message(3, new Pb().string(1, spec.saver.filename).string(2, spec.saver.save).string(3, spec.saver.restore));
  if (spec.mainOp)
    meta.message(
      4,
      new Pb().string(1, 'saved_model_main_op').message(
        2,
        new Pb().message(
          1,
          spec.mainOp.reduce((l, n) => l.string(1, n), new Pb()),
        ),
      ),
    );
  for (const asset of spec.assets ?? []) meta.message(6, new Pb().message(1, new Pb().string(1, asset.tensor)).string(2, asset.filename));
  if (spec.outputs) {
    const signature = spec.outputs.reduce(
      (sig, tensor, i) => sig.message(2, new Pb().string(1, `output_${i}`).message(2, new Pb().string(1, tensor))),
      new Pb(),
    );
    meta.message(5, new Pb().string(1, 'serving_default').message(2, signature));
  }
  return new Pb().int(1, 1).message(2, meta).finish();
}
const check = (spec: GraphSpec, assetFiles: string[] = []) => checkSavedModelPolicy(savedModel(spec), serve(assetFiles));
const refused = (spec: GraphSpec, assetFiles: string[] = []) => refusal(() => check(spec, assetFiles));

describe('graph shapes Python does not make', () => {
  const input = node('x', 'Placeholder');

  it('an op TensorFlow does not have (a custom op): 400 unsupported_op, trusted or not (upload preflight, #20)', () => {
    const spec = { nodes: [input, node('y', 'MyCustomOp', ['x']), node('z', 'OtherCustomOp', ['y'])] };
    for (const trusted of [false, true]) {
      const unknown = refusal(() => checkSavedModelPolicy(savedModel(spec), { ...serve([]), trusted }));
      expect(unknown).toMatchObject({ status: 400, code: 'unsupported_op' });
      expect(unknown.message).toBe(
        "op 'MyCustomOp' (node 'y', in the top graph) is not an op of TensorFlow 2.21.0 (nor are 'OtherCustomOp'): a custom op " +
          'needs its kernel library, which this server cannot load, and Triton or TF Serving would need it too',
      );
      expect(unknown.details).toEqual([
        { path: '/saved_model.pb/graph/y', message: "op 'MyCustomOp' is not an op of TensorFlow 2.21.0" },
        { path: '/saved_model.pb/graph/z', message: "op 'OtherCustomOp' is not an op of TensorFlow 2.21.0" },
      ]);
    }
  });

  it('every op of the allowlist is an op of TensorFlow 2.21', () => {
    expect([...ALLOWED_OPS].filter((op) => !TENSORFLOW_OP_NAMES.has(op))).toEqual([]);
    expect(TENSORFLOW_OP_NAMES.size).toBe(1908);
  });

  it('PyFunc and other host-touching ops in the top graph', () => {
    expect(refused({ nodes: [input, node('py', 'PyFunc', ['x'])] }).message).toMatch(
      /^op 'PyFunc' .* runs Python code in the server process/,
    );
    expect(refused({ nodes: [node('m', 'ImmutableConst')] }).message).toContain('maps a file into memory');
    expect(refused({ nodes: [node('q', 'FIFOQueueV2')] }).message).toContain('queue');
    expect(refused({ nodes: [node('p', 'PrintV2', ['x'])] }).message).toContain("writes to the server's logs or to files");
  });

  it('functions reached every way: by op name, If branches, Case branch lists, nested func attrs, or not at all', () => {
    const reader = (name: string) => fn(name, ['p'], [node('read', 'ReadFile', ['p'])]);
    const ok = fn('double', ['p'], [node('two', 'AddV2', ['p', 'p'])]);
    const shapes: [string, Pb][] = [
      ['by_op_name', node('call', 'by_op_name', ['x'])],
      ['then_fn', node('if', 'StatelessIf', ['x', 'x'], { then_branch: func('then_fn'), else_branch: func('double') })],
      ['branch_fn', node('case', 'Case', ['x', 'x'], { branches: funcList('double', 'branch_fn') })],
      [
        'nested_fn',
        node('call', 'PartitionedCall', ['x'], {
          f: new Pb().message(10, new Pb().string(1, 'double').message(2, new Pb().string(1, 'inner').message(2, func('nested_fn')))),
        }),
      ],
      ['uncalled_fn', node('y', 'Identity', ['x'])],
    ];
    for (const [holder, caller] of shapes) {
      const error = refused({ nodes: [input, caller], functions: [ok, reader(holder)] });
      expect(error.message).toMatch(new RegExp(`^op 'ReadFile' \\(node 'read', function '${holder}'\\) reads or writes files`));
    }
    expect(check({ nodes: [input, node('call', 'double', ['x'])], functions: [ok] }).ops).toEqual({ Placeholder: 1, double: 1, AddV2: 1 });
  });

  it('a TF1 saver in the top graph: allowed while only the saver reaches it, refused once a serving node does', () => {
    const saverNodes = [
      node('v', 'VarHandleOp'),
      node('save/Const', 'PlaceholderWithDefault', ['save/default']),
      node('save/default', 'Const'),
      node('save/names', 'Const'),
      node('save/SaveV2', 'SaveV2', ['save/Const', 'save/names', 'save/names', 'v']),
      node('save/control_dependency', 'Identity', ['save/Const', '^save/SaveV2']),
      node('save/RestoreV2', 'RestoreV2', ['save/Const', 'save/names', 'save/names']),
      node('save/Assign', 'AssignVariableOp', ['v', 'save/RestoreV2']),
      node('save/restore_all', 'NoOp', ['^save/Assign']),
    ];
    const saver = { filename: 'save/Const:0', save: 'save/control_dependency:0', restore: 'save/restore_all' };
    const serving = [input, node('read', 'ReadVariableOp', ['v']), node('y', 'MatMul', ['x', 'read'])];
    const outputs = ['y:0'];
    expect(check({ nodes: [...serving, ...saverNodes], saver, outputs }).ops.SaveV2).toBe(1);

    const leak = refused({
      nodes: [...serving, ...saverNodes, node('out', 'Identity', ['save/control_dependency'])],
      saver,
      outputs: ['y:0', 'out:0'],
    });
    expect(leak.message).toMatch(
      /^op 'SaveV2' \(node 'save\/SaveV2', in the top graph\) saves or restores checkpoints, which only the SavedModel's saver may do; signature 'serving_default' reaches it through node 'out'; /,
    );
    // No saver_def: nothing TensorFlow runs reaches the checkpoint ops, and they are refused all the same.
    const noSaver = refused({ nodes: [...serving, ...saverNodes], outputs });
    expect(noSaver.message).toMatch(
      /^op 'SaveV2' \(node 'save\/SaveV2', in the top graph\) saves or restores checkpoints, which only the SavedModel's saver may do; nothing reaches it from the saver's save tensor or restore op; /,
    );

    const elsewhere = saverNodes.map((n, i) =>
      i === 6 ? node('save/RestoreV2', 'RestoreV2', ['save/default', 'save/names', 'save/names']) : n,
    );
    expect(refused({ nodes: [...serving, ...elsewhere], saver }).message).toMatch(
      /^op 'RestoreV2' \(node 'save\/RestoreV2', in the top graph\) restores a checkpoint from a path that is not the saver's filename tensor \('save\/Const:0'\): it comes from op 'Const' \(node 'save\/default' of the top graph\)/,
    );
  });

  describe('a TF1 table filled from an asset file by the main op', () => {
    const table = (filename: string, extra: Pb[] = []) => ({
      nodes: [
        input,
        node('table', 'HashTableV2'),
        node('asset_filepath', 'Const'),
        node('init_table', 'InitializeTableFromTextFileV2', ['table', 'asset_filepath']),
        node('main_op', 'NoOp', ['^init_table']),
        node('y', 'LookupTableFindV2', ['table', 'x', 'x']),
        ...extra,
      ],
      mainOp: ['main_op'],
      assets: [{ tensor: 'asset_filepath:0', filename }],
      outputs: ['y:0'],
    });

    it('is accepted when the file is in assets/', () => {
      expect(check(table('vocab.txt'), ['vocab.txt']).ops.InitializeTableFromTextFileV2).toBe(1);
      expect(check(table('sub/vocab.txt'), ['sub/vocab.txt']).ops.InitializeTableFromTextFileV2).toBe(1);
    });

    it.each([
      ['../../etc/hostname', "asset_file_def names '../../etc/hostname', which is not a plain relative path under assets/"],
      ['/etc/hostname', "asset_file_def names '/etc/hostname', which is not a plain relative path under assets/"],
      ['missing.txt', "asset_file_def names 'missing.txt', which is not in the upload's assets/"],
    ])('is refused for asset %s', (filename, reason) => {
      const error = refused(table(filename), ['vocab.txt']);
      expect(error.message).toMatch(
        /^op 'InitializeTableFromTextFileV2' \(node 'init_table', in the top graph\) fills a lookup table from a file that is not one of the model's own assets\/: /,
      );
      expect(error.message).toContain(reason);
    });

    it('is refused when the same asset tensor is also fed a path outside assets/', () => {
      const twice = table('vocab.txt');
      twice.assets.push({ tensor: 'asset_filepath:0', filename: '../../../etc/hostname' });
      expect(refused(twice, ['vocab.txt']).message).toContain(
        "asset_file_def names '../../../etc/hostname', which is not a plain relative path under assets/",
      );
    });

    it('is refused when a serving node also reaches it (it would run again, outside the init op)', () => {
      const again = { ...table('vocab.txt', [node('again', 'Identity', ['x', '^init_table'])]), outputs: ['y:0', 'again:0'] };
      const error = refused(again, ['vocab.txt']);
      expect(error.message).toContain(
        "only the init op may do with a file of the model's assets/; signature 'serving_default' reaches it through node 'again'",
      );
      // A stray op no root reaches (TF1 sessions leave `init_all_tables`) never runs: no refusal for it.
      expect(check(table('vocab.txt', [node('init_all_tables', 'NoOp', ['^init_table'])]), ['vocab.txt']).ops.NoOp).toBe(2);
    });
  });

  it('a TF2 asset path kept in a variable is traced to the asset, and refused when the variable is shared or written elsewhere', () => {
    const tf2 = (extra: Pb[] = [], functions: Pb[] = []) => ({
      nodes: [
        node('asset_path_initializer', 'Placeholder'),
        node('Variable', 'VarHandleOp', [], { shared_name: new Pb().string(2, 'Variable') }),
        node('Variable/Assign', 'AssignVariableOp', ['Variable', 'asset_path_initializer']),
        node('ReadVariableOp', 'ReadVariableOp', ['Variable', '^Variable/Assign']),
        node('hash_table', 'HashTableV2'),
        node('init_call', 'StatefulPartitionedCall', ['ReadVariableOp', 'hash_table'], { f: func('initializer') }),
        node('NoOp', 'NoOp', ['^init_call', '^Variable/Assign']),
        ...extra,
      ],
      functions: [
        fn(
          'initializer',
          ['path', 'handle'],
          [node('alias', 'Identity', ['path']), node('init', 'InitializeTableFromTextFileV2', ['handle', 'alias:output:0'])],
        ),
        ...functions,
      ],
      mainOp: ['NoOp'],
      assets: [{ tensor: 'asset_path_initializer:0', filename: 'vocab.txt' }],
    });
    expect(check(tf2(), ['vocab.txt']).ops.InitializeTableFromTextFileV2).toBe(1);

    const twin = refused(
      tf2([], [fn('evil', [], [node('Variable', 'VarHandleOp', [], { shared_name: new Pb().string(2, 'Variable') })])]),
      ['vocab.txt'],
    );
    expect(twin.message).toContain("variable 'Variable' shares its name with node 'Variable'");

    const written = refused(tf2([node('c', 'Const'), node('overwrite', 'AssignVariableOp', ['Variable', 'c'])]), ['vocab.txt']);
    expect(written.message).toContain("it comes from op 'Const' (node 'c' of the top graph)");

    const passed = refused(tf2([node('leak', 'StatefulPartitionedCall', ['Variable'], { f: func('other') })], [fn('other', ['v'], [])]), [
      'vocab.txt',
    ]);
    expect(passed.message).toContain("variable 'Variable' is also used by 'StatefulPartitionedCall' node 'leak'");
  });

  it('checks the meta graph with the tags asked for; none with those tags is invalid_model', () => {
    const both = new Pb()
      .message(2, new Pb().message(1, new Pb().string(4, 'serve')).message(2, new Pb().message(1, node('a', 'Const'))))
      .message(2, new Pb().message(1, new Pb().string(4, 'train')).message(2, new Pb().message(1, node('b', 'ReadFile'))))
      .finish();
    expect(checkSavedModelPolicy(both, serve()).ops).toEqual({ Const: 1 });
    expect(refusal(() => checkSavedModelPolicy(both, { tags: ['train'], assetFiles: [] })).code).toBe('forbidden_op');
    expect(refusal(() => checkSavedModelPolicy(both, { tags: [], assetFiles: [] })).message).toMatch(/^op 'ReadFile' \(node 'b'/);
    const none = refusal(() => checkSavedModelPolicy(both, { tags: ['serve', 'gpu'], assetFiles: [] }));
    expect(none).toMatchObject({ status: 400, code: 'invalid_model' });
    expect(none.message).toBe('saved_model.pb has no meta graph tagged [serve, gpu]; it has [serve], [train]');
  });
});

describe('malformed saved_model.pb is invalid_model at once, never a hang', () => {
  const invalid = (bytes: Uint8Array) => {
    const started = cpuMs();
    const error = refusal(() => checkSavedModelPolicy(bytes, serve()));
    expect(error).toMatchObject({ status: 400, code: 'invalid_model' });
    return { error, ms: cpuMs() - started };
  };

  it.each([
    ['9 bytes of garbage', Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0x13, 0x37, 0xc0, 0xff, 0xee]), /field number 666759899 at byte 0/],
    [
      'a length far past the end',
      Uint8Array.from([0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0]),
      /field 2 at byte 0 claims 4294967295 bytes; 3 remain/,
    ],
    ['a varint that never ends', new Uint8Array(12).fill(0x80), /varint is longer than 10 bytes/],
    ['a varint cut off', Uint8Array.from([0x12, 0x80]), /varint runs past the end at byte 2/],
    ['meta_graphs as a number (wrong wire type)', Uint8Array.from([0x10, 0x01]), /meta_graphs \(field 2\) has wire type 0/],
    ['a group (wire type 3)', Uint8Array.from([0x13, 0x14]), /wire type 3/],
    ['field number 0', Uint8Array.from([0x02, 0x00]), /field number 0/],
    ['an empty file', new Uint8Array(0), /holds no meta graph/],
  ])('%s', (_, bytes, message) => {
    const { error, ms } = invalid(bytes);
    expect(error.message).toMatch(message);
    expect(ms).toBeLessThan(100);
  });

  it('every truncation of a real SavedModel', () => {
    const pb = pbOf('policy/string-lookup-file');
    const started = cpuMs();
    for (let length = 0; length < pb.length; length += 13) invalid(pb.subarray(0, length));
    expect(cpuMs() - started).toBeLessThan(5_000);
  });

  it(`attributes nested deeper than ${MAX_ATTR_DEPTH} levels`, () => {
    let attr = func('leaf');
    for (let depth = 0; depth < 100; depth++)
      attr = new Pb().message(10, new Pb().string(1, 'f').message(2, new Pb().string(1, 'a').message(2, attr)));
    const { error, ms } = invalid(savedModel({ nodes: [node('call', 'PartitionedCall', [], { f: attr })] }));
    expect(error.message).toMatch(new RegExp(`attribute values nest deeper than ${MAX_ATTR_DEPTH} levels at byte \\d+`));
    expect(ms).toBeLessThan(200);
  });

  it('a large valid graph is read in one pass', () => {
    const nodes: Pb[] = [node('x', 'Placeholder')];
    for (let i = 0; i < 50_000; i++) nodes.push(node(`n${i}`, 'AddV2', [i ? `n${i - 1}` : 'x', 'x']));
    const pb = savedModel({ nodes });
    expect(pb.length).toBeGreaterThan(1_300_000);
    const started = cpuMs();
    expect(checkSavedModelPolicy(pb, serve()).nodes).toBe(50_001);
    // Measured about 0.3 s of CPU on the 2-core CI machine (100,000 nodes: 0.6 s).
    expect(cpuMs() - started).toBeLessThan(3_000);
  });
});

describe('uploads through a real server', () => {
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let server: RunningMockServer;
  /** `modelport serve --trust-models`: the flag, end to end. */
  let trusting: ChildServer;
  let client: Modelport;

  beforeAll(async () => {
    data = await tempDataDir();
    [server, trusting] = await Promise.all([
      startMockServer({ auth: false, dataDir: path.join(data.dir, 'strict') }),
      startChildServer(path.join(data.dir, 'trusting'), ['--trust-models']),
    ]);
    client = new Modelport({ baseUrl: server.url, maxRetries: 0 });
  });
  afterAll(async () => {
    await Promise.all([server?.close(), trusting && kill(trusting, 'SIGTERM')]);
    await data?.remove();
  });

  const upload = async (to: Modelport, model: string, fixture: string) => {
    await to.models.create({ name: model, task: 'policy' });
    return to.models.versions.upload(model, { archive: zip(await filesOf(path.join(FIXTURES, 'policy', fixture))), format: 'zip' });
  };
  const infer = async (url: string, model: string, input: TensorJson) => {
    const response = await fetch(`${url}/v2/models/${model}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [input] }),
    });
    return { status: response.status, body: (await response.json()) as { outputs?: TensorJson[]; code?: string } };
  };

  const hostile = Object.entries(expected.hostile).map(([fixture, { op }]) => [fixture, op] as const);
  it.each(hostile)('refuses %s with 400 forbidden_op naming %s, and keeps no version', async (fixture, op) => {
    const model = `hostile-${fixture}`;
    const error = (await upload(client, model, fixture).catch((e: unknown) => e)) as APIError;
    expect(error).toMatchObject({ status: 400, code: 'forbidden_op' });
    expect((error.body as { error: string }).error).toMatch(new RegExp(`^op '${op}' \\(node '[^']+', function '[^']+'\\) `));
    expect(error.details[0]?.path).toMatch(/^\/saved_model\.pb\/functions\//);
    expect((await client.models.versions.list(model)).data).toEqual([]);
  });

  it.each(['text-vectorization', 'string-lookup-file', 'keras-export', 'batchnorm-cnn', 'tf1-vocabulary-file'])(
    'accepts the export %s: 201 READY, and predicts what Python computed',
    async (fixture) => {
      const version = await upload(client, fixture, fixture);
      expect(version).toMatchObject({ version: 1, state: 'READY', platform: 'tensorflow_savedmodel' });
      const { input, output } = expected.benign[fixture]!;
      const answer = await infer(server.url, fixture, input);
      expect(answer.status).toBe(200);
      const got = answer.body.outputs!.find((o) => o.name === output.name)!;
      expect(got.shape).toEqual(output.shape);
      got.data.forEach((value, i) => expect(value as number).toBeCloseTo(output.data[i] as number, 5));
    },
  );

  it('a 9-byte saved_model.pb is 400 invalid_model, not a stalled server', async () => {
    await client.models.create({ name: 'garbage', task: 'policy' });
    const garbage = Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0x13, 0x37, 0xc0, 0xff, 0xee]);
    const error = (await client.models.versions
      .upload('garbage', { archive: zip({ 'saved_model.pb': garbage }), format: 'zip' })
      .catch((e: unknown) => e)) as APIError;
    expect(error).toMatchObject({ status: 400, code: 'invalid_model' });
    expect((error.body as { error: string }).error).toBe(
      'saved_model.pb is not a valid SavedModel protobuf: field number 666759899 at byte 0',
    );
  });

  it('modelport serve --trust-models (trustUploadedModels) accepts the read_file model, which then reads what it is told', async () => {
    const secret = path.join(data.dir, 'secret.txt');
    await writeFile(secret, 'a file outside the model');
    const trusted = new Modelport({ baseUrl: trusting.url, maxRetries: 0 });
    expect(await upload(trusted, 'reader', 'read-file')).toMatchObject({ state: 'READY' });
    const answer = await infer(trusting.url, 'reader', { name: 'path', datatype: 'BYTES', shape: [1], data: [secret] });
    expect(answer).toMatchObject({ status: 200, body: { outputs: [{ name: 'contents', data: ['a file outside the model'] }] } });
  });
});
