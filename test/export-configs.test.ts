/**
 * The export's config generators, checked with the official definitions (../shared/specs): protoc's
 * own parser on Triton's and TF Serving's protos, KServe's InferenceService CRD schema, KServe's Triton
 * runtime; and the rules those parsers cannot see (batch dims, labels on served versions, datatypes,
 * canary percent).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { OIP_DATATYPES, oipDatatypeOfTriton, type TritonDatatype, tritonDatatype } from '../mock-server/export/datatypes';
import type { ExportAliasTarget, ExportBatching, ExportTensor } from '../mock-server/export/export-input';
import { inferenceServiceName, kserveCanary, kserveManifests } from '../mock-server/export/kserve-manifests';
import { protoTextString } from '../mock-server/export/proto-text';
import { labelVersion, type TfServingModelInput, tfServingModelConfig } from '../mock-server/export/tf-serving-config';
import { TRITON_LABEL_FILE, type TritonModelInput, tritonLabelFile, tritonModelConfig } from '../mock-server/export/triton-config';
import { HttpError } from '../mock-server/http/errors';
import type { ModelConfig } from '../mock-server/registry/model-config';
import { itWithProtoc, protocAccepts, protocRoundTrip, SPECS_DIR, validateInferenceService } from './support/official-specs';

const itProtoc = itWithProtoc();

interface ExportCase {
  name: string;
  inputs: ExportTensor[];
  outputs: ExportTensor[];
  batching?: ExportBatching;
  labels?: string[];
  versions: number[];
  aliases: Record<string, ExportAliasTarget[]>;
}

function bundled(model: string): ExportCase {
  const config = JSON.parse(readFileSync(path.join('mock-server/models', model, 'config.json'), 'utf8')) as ModelConfig;
  return {
    name: config.name,
    inputs: config.inputs!,
    outputs: config.outputs!,
    batching: config.batching,
    labels: config.labels,
    versions: [1],
    aliases: config.aliases ?? {},
  };
}

const digits = bundled('digits');
const iris = bundled('iris');
const unbatchedIris: ExportCase = {
  ...iris,
  name: 'iris_Unbatched',
  batching: { max_batch_size: 1, max_queue_delay_ms: 0, max_queue_size: 8 },
};
/** Every OIP datatype, batched: BYTES and BOOL among them, and a tensor that is only the batch dimension. */
const datatypes: ExportCase = {
  name: 'Mixed.Types_2',
  inputs: OIP_DATATYPES.map((datatype, i) => ({ name: `in_${datatype.toLowerCase()}`, datatype, shape: i === 0 ? [-1] : [-1, i, 2] })),
  outputs: [
    { name: 'ids', datatype: 'INT64', shape: [-1, 5] },
    { name: 'words', datatype: 'BYTES', shape: [-1, 5] },
    { name: 'flags', datatype: 'BOOL', shape: [-1] },
  ],
  batching: { max_batch_size: 16, max_queue_delay_ms: 0.5, max_queue_size: 100 },
  versions: [3, 1, 2],
  aliases: { production: [{ version: 2, weight: 1 }], retired: [{ version: 7, weight: 1 }] },
};
/** Batching asked for, but an output without a batch dimension: Triton cannot batch it. */
const unbatchableOutput: ExportCase = {
  ...iris,
  name: 'iris-summary',
  outputs: [...iris.outputs, { name: 'class_count', datatype: 'INT32', shape: [] }],
};
/** `production` a weighted canary: version 1 at 90, version 2 at 10. */
const canary: ExportCase = {
  ...digits,
  name: 'digits',
  versions: [1, 2],
  aliases: {
    production: [
      { version: 2, weight: 10 },
      { version: 1, weight: 90 },
    ],
    latest: [{ version: 2, weight: 1 }],
  },
};
const cases = [digits, iris, unbatchedIris, datatypes, unbatchableOutput, canary];

const tritonInput = (model: ExportCase): TritonModelInput => ({ ...model });
const tfServingInput = (model: ExportCase): TfServingModelInput => ({ name: model.name, versions: model.versions, aliases: model.aliases });

/** A message of protoc's decoded text: each field's values in order (a field may repeat). */
type TextMessage = Map<string, (string | TextMessage)[]>;

/** protoc --decode's canonical text format: one `field: value` or `field {` … `}` a line. */
function parseProtoText(text: string): TextMessage {
  const root: TextMessage = new Map();
  const stack = [root];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const top = stack.at(-1)!;
    if (line === '}') {
      stack.pop();
      continue;
    }
    const open = /^(\w+) \{$/.exec(line);
    const field = /^(\w+): (.*)$/.exec(line);
    const name = (open ?? field)![1]!;
    const value: string | TextMessage = open ? new Map() : field![2]!;
    top.set(name, [...(top.get(name) ?? []), value]);
    if (open) stack.push(value as TextMessage);
  }
  return root;
}
const all = (message: TextMessage, field: string) => message.get(field) ?? [];
const messages = (message: TextMessage, field: string) => all(message, field) as TextMessage[];
const scalar = (message: TextMessage, field: string) => all(message, field)[0] as string | undefined;
const numbers = (message: TextMessage, field: string) => (all(message, field) as string[]).map(Number);
/** The bytes of a quoted string as protoc writes it (C escapes, octal for other bytes). */
function cUnescape(quoted: string): Uint8Array {
  const named: Record<string, number> = { n: 10, t: 9, r: 13, '"': 34, "'": 39, '\\': 92 };
  const bytes: number[] = [];
  const body = quoted.slice(1, -1);
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== '\\') bytes.push(body.charCodeAt(i));
    else if (/[0-7]/.test(body[i + 1]!)) {
      bytes.push(Number.parseInt(body.slice(i + 1, i + 4), 8));
      i += 3;
    } else bytes.push(named[body[++i]!]!);
  }
  return new Uint8Array(bytes);
}
const unquote = (text: string | undefined) => (text === undefined ? undefined : (JSON.parse(text) as string));

describe('Triton config.pbtxt', () => {
  itProtoc.each(cases.map((model) => [model.name, model] as const))("protoc accepts %s's as inference.ModelConfig", (_, model) => {
    const result = protocAccepts('triton', tritonModelConfig(tritonInput(model)));
    expect(result.stderr).toBe('');
    expect(result.ok).toBe(true);
  });

  itProtoc('protoc refuses a misspelt field and an unknown datatype: the check can fail', () => {
    const text = tritonModelConfig(tritonInput(digits));
    const misspelt = protocAccepts('triton', text.replace('max_batch_size', 'max_batchsize'));
    expect(misspelt).toMatchObject({ ok: false, stderr: expect.stringContaining('no field named "max_batchsize"') });
    const unknownType = protocAccepts('triton', text.replace('TYPE_FP32', 'TYPE_FLOAT32'));
    expect(unknownType).toMatchObject({ ok: false, stderr: expect.stringContaining('TYPE_FLOAT32') });
  });

  itProtoc.each(cases.map((model) => [model.name, model] as const))(
    "%s's dims leave the batch dimension out exactly when max_batch_size > 0",
    (_, model) => {
      const config = parseProtoText(protocRoundTrip('triton', tritonModelConfig(tritonInput(model))));
      const maxBatchSize = Number(scalar(config, 'max_batch_size') ?? 0);
      const batched = (model.batching?.max_batch_size ?? 0) > 1 && model !== unbatchableOutput;
      expect(maxBatchSize).toBe(batched ? model.batching!.max_batch_size : 0);
      const tensors = [...messages(config, 'input'), ...messages(config, 'output')];
      const specs = [...model.inputs, ...model.outputs];
      expect(tensors.map((t) => unquote(scalar(t, 'name')))).toEqual(specs.map((s) => s.name));
      tensors.forEach((tensor, i) => {
        const expected = maxBatchSize > 0 ? specs[i]!.shape.slice(1) : [...specs[i]!.shape];
        const reshape = messages(tensor, 'reshape')[0];
        if (expected.length === 0) {
          // Triton's dims may not be empty: [1] reshaped to the scalar the model has.
          expect(numbers(tensor, 'dims')).toEqual([1]);
          expect(reshape && numbers(reshape, 'shape')).toEqual([]);
        } else {
          expect(numbers(tensor, 'dims')).toEqual(expected);
          expect(reshape).toBeUndefined();
        }
      });
      if (maxBatchSize > 0) {
        const dynamic = messages(config, 'dynamic_batching')[0]!;
        expect(Number(scalar(dynamic, 'max_queue_delay_microseconds'))).toBe(Math.round(model.batching!.max_queue_delay_ms * 1000));
        expect(Number(scalar(messages(dynamic, 'default_queue_policy')[0]!, 'max_queue_size'))).toBe(model.batching!.max_queue_size);
      } else {
        expect(config.has('dynamic_batching')).toBe(false);
      }
    },
  );

  itProtoc('every datatype reaches Triton as the OIP datatype it is served as, and the version policy lists the versions', () => {
    const config = parseProtoText(protocRoundTrip('triton', tritonModelConfig(tritonInput(datatypes))));
    const tensors = [...messages(config, 'input'), ...messages(config, 'output')];
    const specs = [...datatypes.inputs, ...datatypes.outputs];
    expect(tensors.map((t) => oipDatatypeOfTriton(scalar(t, 'data_type') as TritonDatatype))).toEqual(specs.map((s) => s.datatype));
    expect(scalar(config, 'platform')).toBe('"tensorflow_savedmodel"');
    const policy = messages(messages(config, 'version_policy')[0]!, 'specific')[0]!;
    expect(numbers(policy, 'versions')).toEqual([1, 2, 3]);
  });

  it("maps OIP datatypes onto exactly the data types of Triton's official enum", () => {
    const proto = readFileSync(path.join(SPECS_DIR, 'triton/model_config.proto'), 'utf8');
    const enumBody = /enum DataType \{([\s\S]*?)\}/.exec(proto)![1]!;
    const official = [...enumBody.matchAll(/^\s*(TYPE_\w+) = \d+;/gm)].map((m) => m[1]!).filter((t) => t !== 'TYPE_INVALID');
    expect(OIP_DATATYPES.map(tritonDatatype).sort()).toEqual([...official].sort());
    for (const datatype of OIP_DATATYPES) {
      expect(oipDatatypeOfTriton(tritonDatatype(datatype))).toBe(datatype);
      expect(tritonDatatype(datatype)).toBe(datatype === 'BYTES' ? 'TYPE_STRING' : `TYPE_${datatype}`);
    }
  });

  it('writes the labels file on the classification output only', () => {
    const text = tritonModelConfig(tritonInput(unbatchableOutput));
    expect(text.match(/label_filename/g)).toHaveLength(1);
    expect(text).toMatch(/name: "probabilities"\n[^}]*label_filename: "labels.txt"/);
    expect(tritonModelConfig(tritonInput(datatypes))).not.toContain('label_filename');
    expect(tritonLabelFile(['setosa', 'versi\ncolor', 'virginica'])).toBe('setosa\nversi color\nvirginica\n');
    expect(TRITON_LABEL_FILE).toBe('labels.txt');
  });

  it("writes the bundled iris's config.pbtxt exactly", () => {
    expect(tritonModelConfig(tritonInput(iris))).toBe(
      [
        "# Triton model configuration (inference.ModelConfig) written by modelport export for 'iris'.",
        'name: "iris"',
        'platform: "tensorflow_savedmodel"',
        'max_batch_size: 64',
        'version_policy {',
        '  specific {',
        '    versions: [1]',
        '  }',
        '}',
        'input {',
        '  name: "features"',
        '  data_type: TYPE_FP32',
        '  dims: [4]',
        '}',
        'output {',
        '  name: "probabilities"',
        '  data_type: TYPE_FP32',
        '  dims: [3]',
        '  label_filename: "labels.txt"',
        '}',
        'dynamic_batching {',
        '  max_queue_delay_microseconds: 2000',
        '  default_queue_policy {',
        '    max_queue_size: 1024',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });

  itProtoc('quotes any name so that protoc reads it back byte for byte', () => {
    const name = 'café "quoted" back\\slash\ttab';
    const text = tritonModelConfig({ ...tritonInput(iris), name });
    const decoded = parseProtoText(protocRoundTrip('triton', text));
    expect(cUnescape(scalar(decoded, 'name')!)).toEqual(new TextEncoder().encode(name));
    expect(cUnescape(protoTextString(name))).toEqual(new TextEncoder().encode(name));
  });

  it('refuses to write a config without a version', () => {
    expect(() => tritonModelConfig({ ...tritonInput(iris), versions: [] })).toThrow("no version of 'iris' to export");
    expect(() => tritonModelConfig({ ...tritonInput(iris), versions: [0] })).toThrow("'iris' version 0 is not a version number");
  });
});

describe('TF Serving models.config', () => {
  itProtoc.each(cases.map((model) => [model.name, model] as const))(
    "protoc accepts %s's as tensorflow.serving.ModelServerConfig",
    (_, model) => {
      const result = protocAccepts('tf-serving', tfServingModelConfig(tfServingInput(model)));
      expect(result.stderr).toBe('');
      expect(result.ok).toBe(true);
    },
  );

  itProtoc('protoc refuses a label that is not a number: the check can fail', () => {
    const text = tfServingModelConfig(tfServingInput(digits));
    const result = protocAccepts('tf-serving', text.replace('value: 1', 'value: "one"'));
    expect(result).toMatchObject({ ok: false, stderr: expect.stringContaining('Expected integer, got: "one"') });
  });

  itProtoc.each(cases.map((model) => [model.name, model] as const))(
    'every version label of %s points at a version the policy serves',
    (_, model) => {
      const server = parseProtoText(protocRoundTrip('tf-serving', tfServingModelConfig(tfServingInput(model))));
      const config = messages(messages(server, 'model_config_list')[0]!, 'config')[0]!;
      const served = numbers(messages(messages(config, 'model_version_policy')[0]!, 'specific')[0]!, 'versions');
      expect(served).toEqual([...new Set(model.versions)].sort((a, b) => a - b));
      const labels = messages(config, 'version_labels').map((entry) => [unquote(scalar(entry, 'key')), Number(scalar(entry, 'value'))]);
      for (const [, version] of labels) expect(served).toContain(version);
      // Each alias whose version is exported is a label; the others are left out.
      const expected = Object.entries(model.aliases)
        .map(([alias, targets]) => [alias, labelVersion(targets)] as const)
        .filter(([, version]) => served.includes(version!));
      expect(Object.fromEntries(labels)).toEqual(Object.fromEntries(expected));
      expect(unquote(scalar(config, 'base_path'))).toBe(`/models/${model.name}`);
      expect(unquote(scalar(config, 'model_platform'))).toBe('tensorflow');
    },
  );

  it('labels a canary alias with its weightiest version, the older one on a tie', () => {
    expect(labelVersion(canary.aliases.production!)).toBe(1);
    expect(
      labelVersion([
        { version: 4, weight: 50 },
        { version: 3, weight: 50 },
      ]),
    ).toBe(3);
    expect(tfServingModelConfig(tfServingInput(datatypes))).not.toContain('retired');
  });

  it("writes the canary's models.config exactly", () => {
    expect(tfServingModelConfig({ ...tfServingInput(canary), basePath: '/srv/models/digits' })).toBe(
      [
        "# TensorFlow Serving model config (tensorflow.serving.ModelServerConfig) written by modelport export for 'digits'.",
        'model_config_list {',
        '  config {',
        '    name: "digits"',
        '    base_path: "/srv/models/digits"',
        '    model_platform: "tensorflow"',
        '    model_version_policy {',
        '      specific {',
        '        versions: [1, 2]',
        '      }',
        '    }',
        '    version_labels {',
        '      key: "latest"',
        '      value: 2',
        '    }',
        '    version_labels {',
        '      key: "production"',
        '      value: 1',
        '    }',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });
});

describe('KServe InferenceService', () => {
  const tritonRuntime = parse(readFileSync(path.join(SPECS_DIR, 'kserve/kserve-tritonserver.yaml'), 'utf8'));

  it.each(cases.map((model) => [model.name, model] as const))(
    "%s's manifests validate against the CRD and name KServe's Triton runtime",
    (_, model) => {
      const targets = model === canary ? model.aliases.production! : [{ version: model.versions[0]!, weight: 1 }];
      for (const manifest of kserveManifests({ model: model.name, storageUri: 's3://bucket/models/x/', targets })) {
        const object = parse(manifest.yaml);
        expect(validateInferenceService(object)).toEqual([]);
        const predictorModel = object.spec.predictor.model;
        expect(predictorModel.runtime).toBe(tritonRuntime.metadata.name);
        expect(tritonRuntime.spec.protocolVersions).toContain(predictorModel.protocolVersion);
        expect(predictorModel.protocolVersion).toBe('v2');
        expect(tritonRuntime.spec.supportedModelFormats).toContainEqual(expect.objectContaining(predictorModel.modelFormat));
        expect(object.metadata.name).toBe(inferenceServiceName(model.name));
      }
    },
  );

  it('refuses broken manifests: a misspelt field, a wrong type, a name KServe refuses (the check can fail)', () => {
    const [manifest] = kserveManifests({ model: 'iris', storageUri: 's3://bucket/iris', targets: [{ version: 1, weight: 1 }] });
    const object = parse(manifest!.yaml);
    expect(validateInferenceService(object)).toEqual([]);
    const misspelt = structuredClone(object);
    misspelt.spec.predictor.model.storageURI = misspelt.spec.predictor.model.storageUri;
    expect(validateInferenceService(misspelt)).toEqual(["/spec/predictor/model must NOT have additional properties ('storageURI')"]);
    const wrongType = structuredClone(object);
    wrongType.spec.predictor.canaryTrafficPercent = '10';
    expect(validateInferenceService(wrongType)).toEqual(['/spec/predictor/canaryTrafficPercent must be integer']);
    const noFormatName = structuredClone(object);
    delete noFormatName.spec.predictor.model.modelFormat.name;
    expect(validateInferenceService(noFormatName)).toEqual(["/spec/predictor/model/modelFormat must have required property 'name'"]);
    const badName = { ...object, metadata: { name: 'Iris_v2' } };
    expect(validateInferenceService(badName)).toEqual([`/metadata/name "Iris_v2" does not match KServe's ^[a-z]([-a-z0-9]*[a-z0-9])?$`]);
  });

  it('writes one manifest for one version, on the repository at the storage URI', () => {
    const manifests = kserveManifests({
      model: 'iris',
      storageUri: 'gs://b/iris/',
      targets: [{ version: 1, weight: 100 }],
      namespace: 'ml',
    });
    expect(manifests.map((m) => m.file)).toEqual(['inferenceservice.yaml']);
    expect(manifests[0]!.yaml).toBe(
      [
        "# modelport export: 'iris' version 1 on KServe's Triton runtime (Open Inference Protocol v2).",
        'apiVersion: serving.kserve.io/v1beta1',
        'kind: InferenceService',
        'metadata:',
        '  name: iris',
        '  namespace: ml',
        'spec:',
        '  predictor:',
        '    model:',
        '      modelFormat:',
        '        name: tensorflow',
        '        version: "2"',
        '      protocolVersion: v2',
        '      runtime: kserve-tritonserver',
        '      storageUri: gs://b/iris',
        '',
      ].join('\n'),
    );
  });

  it("rolls a canary alias out as stable then canary, canaryTrafficPercent the newer version's share of the weights", () => {
    const manifests = kserveManifests({
      model: 'digits',
      storageUri: 's3://bucket/digits',
      targets: canary.aliases.production!,
      alias: 'production',
    });
    expect(manifests.map((m) => m.file)).toEqual(['digits-stable.yaml', 'digits-canary.yaml']);
    const [stable, rollout] = manifests.map((m) => parse(m.yaml));
    expect(stable.metadata).toEqual(rollout.metadata);
    expect(stable.metadata.annotations).toEqual({ 'serving.kserve.io/deploymentMode': 'Knative' });
    expect(stable.spec.predictor).not.toHaveProperty('canaryTrafficPercent');
    expect(stable.spec.predictor.model.storageUri).toBe('s3://bucket/digits/stable');
    expect(rollout.spec.predictor.canaryTrafficPercent).toBe(10);
    expect(rollout.spec.predictor.model.storageUri).toBe('s3://bucket/digits/canary');
    expect(manifests[1]!.yaml).toContain('version 2 takes 10% of the traffic');

    const thirds = kserveCanary('m', 'a', [
      { version: 5, weight: 1 },
      { version: 3, weight: 2 },
    ]);
    expect(thirds).toEqual({ stable: { version: 3, weight: 2 }, canary: { version: 5, weight: 1 }, canaryTrafficPercent: 33 });
    // A sliver of weight still gets 1%: both versions of the alias take traffic.
    const sliver = kserveCanary('m', 'a', [
      { version: 1, weight: 1000 },
      { version: 2, weight: 1 },
    ]);
    expect(sliver.canaryTrafficPercent).toBe(1);
  });

  it('refuses an alias of three targets with 422 not_exportable, naming the alias and the limit', () => {
    const targets = [1, 2, 3].map((version) => ({ version, weight: 1 }));
    let refusal: unknown;
    try {
      kserveManifests({ model: 'digits', storageUri: 's3://b/d', targets, alias: 'production' });
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(HttpError);
    expect(refusal).toMatchObject({ status: 422, code: 'not_exportable' });
    expect((refusal as Error).message).toBe(
      "'digits@production' has 3 targets; a KServe canary rollout splits traffic between 2 revisions (the stable and the canary)",
    );
  });

  it("derives a name KServe accepts from any modelport name, leaving room for KServe's and Knative's suffixes", () => {
    expect(inferenceServiceName('digits')).toBe('digits');
    expect(inferenceServiceName('Mixed.Types_2')).toBe('mixed-types-2');
    expect(inferenceServiceName('3d-unet')).toBe('model-3d-unet');
    expect(inferenceServiceName('a__b..c-')).toBe('a-b-c');
    const long = inferenceServiceName(`A${'b_'.repeat(31)}c`);
    expect(long.length).toBeLessThanOrEqual(47);
    expect(long).toMatch(/^[a-z]([-a-z0-9]*[a-z0-9])?$/);
  });
});
