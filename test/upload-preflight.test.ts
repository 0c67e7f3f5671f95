/**
 * Upload preflight for production-bound models (issue #20 item 4), through the real server: a
 * SavedModel whose graph uses an op TensorFlow 2.21 does not have is refused at upload (400
 * `unsupported_op`, naming the op), trusted or not; a model that serves but would not export
 * carries the reason in its version's `export_warnings`, the same reason the export gives.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type APIError, Modelport } from '../src/index';
import { type RunningMockServer, startMockServer } from '../mock-server/index';
import { attrShape, attrType, DT_FLOAT, GraphBuilder, savedModelProto } from '../mock-server/runtime/graph-protobuf';
import type * as tfTypes from '../mock-server/runtime/tfjs';
import { zip } from './helpers/archives';
import { tempDataDir } from './helpers/data-dir';
import { tf } from './helpers/tf';

const servers: { server: RunningMockServer; remove(): Promise<void> }[] = [];

async function start(trustUploadedModels: boolean): Promise<Modelport> {
  const data = await tempDataDir();
  const server = await startMockServer({ auth: false, dataDir: data.dir, trustUploadedModels });
  servers.push({ server, remove: data.remove });
  return new Modelport({ baseUrl: server.url, maxRetries: 0 });
}

let client: Modelport;
beforeAll(async () => {
  client = await start(false);
});
afterAll(async () => {
  for (const { server, remove } of servers) {
    await server.close();
    await remove();
  }
});

/** saved_model.pb of x -> MyCustomOpZ -> y: a custom op, which no kernel library here registers. */
function customOpSavedModel(): Uint8Array {
  const graph = new GraphBuilder();
  const x = graph.node('x', 'Placeholder', [], { dtype: attrType(DT_FLOAT), shape: attrShape([-1, 4]) });
  const y = graph.node('y', 'MyCustomOpZ', [x], { T: attrType(DT_FLOAT) });
  return savedModelProto(graph, [{ key: 'x', node: x, dims: [-1, 4] }], [{ key: 'y', node: y, dims: [-1, 4] }]);
}

/** A TF.js layers model as the files of an upload. */
async function layersFiles(model: tfTypes.LayersModel): Promise<Record<string, Uint8Array>> {
  let files: Record<string, Uint8Array> = {};
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightsManifest = [{ paths: ['weights.bin'], weights: artifacts.weightSpecs! }];
      const json = JSON.stringify({ modelTopology: artifacts.modelTopology, format: 'layers-model', weightsManifest });
      files = { 'model.json': new TextEncoder().encode(json), 'weights.bin': new Uint8Array(artifacts.weightData as ArrayBuffer) };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return files;
}

async function uploadTo(target: Modelport, name: string, files: Record<string, Uint8Array>) {
  await target.models.create({ name, task: 'preflight' });
  return target.models.versions.upload(name, { archive: zip(files), format: 'zip' });
}

describe('upload preflight', () => {
  it('a SavedModel with an op TensorFlow 2.21 does not have: 400 unsupported_op naming it, trusted or not, nothing stored', async () => {
    const trusting = await start(true);
    for (const [target, name] of [
      [client, 'custom-op'],
      [trusting, 'custom-op-trusted'],
    ] as const) {
      const error = (await uploadTo(target, name, { 'saved_model.pb': customOpSavedModel() }).catch((e: unknown) => e)) as APIError;
      expect(error).toMatchObject({ status: 400, code: 'unsupported_op' });
      expect(error.message).toBe(
        "400 op 'MyCustomOpZ' (node 'y', in the top graph) is not an op of TensorFlow 2.21.0: a custom op needs its kernel library, " +
          'which this server cannot load, and Triton or TF Serving would need it too',
      );
      expect(error.details).toEqual([{ path: '/saved_model.pb/graph/y', message: "op 'MyCustomOpZ' is not an op of TensorFlow 2.21.0" }]);
      expect((await target.models.versions.list(name)).data).toEqual([]);
    }
  });

  it('a model that serves but would not export (a GRU layer) is stored with the reason in export_warnings, as the export says', async () => {
    const input = tf.input({ shape: [5, 2], name: 'sequence' });
    const gru = tf.layers.gru({ units: 3, name: 'gru_layer' }).apply(input) as tfTypes.SymbolicTensor;
    const output = tf.layers.dense({ units: 2, name: 'scores' }).apply(gru) as tfTypes.SymbolicTensor;
    const version = await uploadTo(client, 'gru', await layersFiles(tf.model({ inputs: input, outputs: output })));
    const reason = "layer 'gru_layer' (GRU) has no graph translation";
    expect(version.state).toBe('READY');
    expect(version.export_warnings).toEqual([`does not export to Triton, TF Serving or KServe: ${reason}`]);
    expect((await client.models.versions.get('gru', 1)).export_warnings).toEqual(version.export_warnings);
    const refusal = (await client.models.export('gru', 1, { format: 'triton' }).catch((e: unknown) => e)) as APIError;
    expect(refusal).toMatchObject({ status: 422, code: 'not_exportable', message: `422 gru version 1 cannot be exported: ${reason}` });
  });

  it('a model that exports has no export warnings', async () => {
    const input = tf.input({ shape: [4], name: 'features' });
    const output = tf.layers.dense({ units: 3, activation: 'softmax', name: 'probabilities' }).apply(input) as tfTypes.SymbolicTensor;
    const version = await uploadTo(client, 'dense', await layersFiles(tf.model({ inputs: input, outputs: output })));
    expect(version.export_warnings).toEqual([]);
    expect((await client.models.export('dense', 1, { format: 'tf-serving' })).byteLength).toBeGreaterThan(100);
  });
});
