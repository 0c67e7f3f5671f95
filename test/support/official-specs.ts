/**
 * The official definitions exported files are checked with, read from ../shared/specs (beside the
 * repository, never copied into it): Triton's and TF Serving's protos through protoc's own text-format
 * parser, and KServe's InferenceService CRD schema through ajv, the way the Kubernetes API server
 * checks a custom resource.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { it } from 'vitest';
import { parse } from 'yaml';

const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));
export const SPECS_DIR = path.resolve(repositoryRoot, '../shared/specs');

export type ProtoKind = 'triton' | 'tf-serving';

/** protoc's arguments per kind, as ../shared/specs/README.md gives them. */
const PROTOS: Record<ProtoKind, { protoPath: string; file: string; message: string }> = {
  triton: { protoPath: 'triton', file: 'triton/model_config.proto', message: 'inference.ModelConfig' },
  'tf-serving': {
    protoPath: 'tf-serving',
    file: 'tf-serving/tensorflow_serving/config/model_server_config.proto',
    message: 'tensorflow.serving.ModelServerConfig',
  },
};

function protoc(kind: ProtoKind, mode: '--encode' | '--decode', input: string | Uint8Array) {
  const proto = PROTOS[kind];
  return spawnSync('protoc', [`--proto_path=${proto.protoPath}`, `${mode}=${proto.message}`, proto.file], {
    cwd: SPECS_DIR,
    input,
    maxBuffer: 16 * 1024 * 1024,
  });
}

let missing: string | undefined | null = null;

/**
 * Why protoc cannot check configs here, or undefined when it can: the specs, protoc itself, and the
 * protobuf well-known types TF Serving's protos import (`google/protobuf/any.proto`, Debian's
 * libprotobuf-dev; protoc-compiler alone lacks them).
 */
export function protocMissing(): string | undefined {
  if (missing !== null) return missing;
  missing = undefined;
  if (!existsSync(path.join(SPECS_DIR, PROTOS.triton.file))) missing = `the official specs are not at ${SPECS_DIR}`;
  else {
    const probe = protoc('tf-serving', '--encode', '');
    if (probe.error) missing = `protoc is not installed (${probe.error.message}): apt-get install protobuf-compiler libprotobuf-dev`;
    else if (probe.status !== 0)
      missing = `protoc cannot read TF Serving's protos: ${probe.stderr.toString().trim()} (apt-get install libprotobuf-dev)`;
  }
  return missing;
}

/**
 * `it` for tests that need protoc: skipped, loudly, where protoc is missing, but failing in CI
 * (process.env.CI), where a skipped check would pass unnoticed.
 */
export function itWithProtoc(): ReturnType<typeof it.skipIf> {
  const why = protocMissing();
  // In CI the tests run and fail on their first protoc call, with the reason.
  const skip = Boolean(why) && !process.env.CI;
  if (skip) console.warn(`\n*** SKIPPING protoc checks: ${why} ***\n`);
  return it.skipIf(skip);
}

function protocOrFail(kind: ProtoKind, mode: '--encode' | '--decode', input: string | Uint8Array) {
  const why = protocMissing();
  if (why) throw new Error(`cannot check the ${kind} config with the official proto: ${why}`);
  return protoc(kind, mode, input);
}

/** Whether protoc's parser, on the official proto, accepts `text` as the kind's message (`protoc --encode`). */
export function protocAccepts(kind: ProtoKind, text: string): { ok: boolean; stderr: string } {
  const result = protocOrFail(kind, '--encode', text);
  return { ok: result.status === 0, stderr: result.stderr.toString() };
}

/** The text as protoc reads it: encoded and decoded again, so fields the parser dropped or renamed show. */
export function protocRoundTrip(kind: ProtoKind, text: string): string {
  const encoded = protocOrFail(kind, '--encode', text);
  if (encoded.status !== 0) throw new Error(`protoc refused the ${kind} config: ${encoded.stderr.toString()}`);
  const decoded = protocOrFail(kind, '--decode', encoded.stdout);
  if (decoded.status !== 0) throw new Error(`protoc could not decode: ${decoded.stderr.toString()}`);
  return decoded.stdout.toString();
}

/**
 * The Kubernetes API server prunes, or with `kubectl apply --validate=strict` refuses, fields a
 * structural schema does not declare; a JSON Schema validator allows them unless told. Every object
 * that lists its properties and neither declares `additionalProperties` nor keeps unknown fields
 * (`x-kubernetes-preserve-unknown-fields`) is closed here, so a misspelt field is an error.
 */
function closeObjects(schema: unknown): void {
  if (Array.isArray(schema)) {
    for (const item of schema) closeObjects(item);
    return;
  }
  if (!schema || typeof schema !== 'object') return;
  const node = schema as Record<string, unknown>;
  if (node.properties && node.additionalProperties === undefined && node['x-kubernetes-preserve-unknown-fields'] !== true) {
    node.additionalProperties = false;
  }
  for (const value of Object.values(node)) closeObjects(value);
}

let inferenceServiceSchema: ValidateFunction | undefined;

function crdValidator(): ValidateFunction {
  if (inferenceServiceSchema) return inferenceServiceSchema;
  const crd = parse(readFileSync(path.join(SPECS_DIR, 'kserve/serving.kserve.io_inferenceservices.yaml'), 'utf8'));
  const version = crd.spec.versions.find((v: { name: string }) => v.name === 'v1beta1');
  const schema = version.schema.openAPIV3Schema;
  closeObjects(schema);
  // strict: false lets the `x-kubernetes-*` keywords through; OpenAPI's integer formats are Kubernetes' bounds.
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv, ['date-time']);
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
  inferenceServiceSchema = ajv.compile(schema);
  return inferenceServiceSchema;
}

/** KServe's admission webhook's name rule (pkg/apis/serving/v1beta1/inference_service_validation.go, IsvcNameFmt); the CRD leaves metadata open. */
const INFERENCE_SERVICE_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/**
 * The errors the cluster would report for `object` as an InferenceService: the CRD's openAPIV3Schema
 * (v1beta1, unknown fields refused), the group and kind, and the name as KServe's webhook checks it.
 * Empty when it is valid.
 */
export function validateInferenceService(object: unknown): string[] {
  const validate = crdValidator();
  const errors: string[] = [];
  if (!validate(object)) {
    for (const error of validate.errors ?? []) {
      const extra =
        error.keyword === 'additionalProperties' ? ` ('${(error.params as { additionalProperty: string }).additionalProperty}')` : '';
      errors.push(`${error.instancePath || '/'} ${error.message}${extra}`);
    }
  }
  const resource = object as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } };
  if (resource?.apiVersion !== 'serving.kserve.io/v1beta1')
    errors.push(`/apiVersion is ${JSON.stringify(resource?.apiVersion)}, not serving.kserve.io/v1beta1`);
  if (resource?.kind !== 'InferenceService') errors.push(`/kind is ${JSON.stringify(resource?.kind)}, not InferenceService`);
  const name = resource?.metadata?.name;
  if (typeof name !== 'string' || !INFERENCE_SERVICE_NAME.test(name)) {
    errors.push(`/metadata/name ${JSON.stringify(name)} does not match KServe's ${INFERENCE_SERVICE_NAME.source}`);
  }
  return errors;
}
