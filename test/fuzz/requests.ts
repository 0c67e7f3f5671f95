/**
 * What the contract fuzzer sends: for every operation in openapi.yaml, valid requests (the
 * access sweep's seed request, the spec's examples, values generated from the schemas, and
 * hand-made valid inferences, uploads and datasets) and the same requests broken one way each
 * (wrong types, missing and extra fields, huge arrays, deep nesting, long strings, truncated
 * bodies, invalid UTF-8, wrong content types, lying binary headers, hostile archives, path,
 * query and header injection, wrong methods). Cases are small data ("recipes") that fast-check
 * generates and shrinks; `materialize` turns one into a fetch Request at send time.
 */
import { gzipSync, zipSync, zlibSync } from 'fflate';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { toBytes, type Datatype } from '../../src/core/binary';
import type { Contract, Operation } from '../../mock-server/contract/contract';
import { BUNDLED } from '../helpers/data-dir';
import { tar } from '../helpers/archives';
import { OPERATION_REQUESTS } from '../helpers/operation-requests';
import { resolve, schemaArbitrary } from './schema-arbitrary';

// ---------------------------------------------------------------------------------------------
// The case model

export type BodySpec =
  | { kind: 'none' }
  | { kind: 'json'; value: unknown }
  | { kind: 'text'; text: string; contentType: string }
  | { kind: 'bytes'; bytes: Uint8Array; contentType: string }
  | { kind: 'binary-infer'; header: InferHeader; chunks: Uint8Array[] }
  | { kind: 'multipart'; files: { name: string; bytes: Uint8Array }[]; metadata?: string };

interface InferHeader {
  inputs: { name: string; shape: number[]; datatype: string; parameters?: Record<string, unknown> }[];
  outputs?: { name: string; parameters?: Record<string, unknown> }[];
  parameters?: Record<string, unknown>;
}

export interface BaseRequest {
  operationId: string;
  source: 'seed' | 'example' | 'schema' | 'crafted';
  method: string;
  template: string;
  /** Raw path parameter values; `$job`, `$evaluation`, `$key`, `$dataset` name live ids. */
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: BodySpec;
}

export type Mutation =
  | { m: 'json-wrong-type'; at: number; value: unknown }
  | { m: 'json-drop-field'; at: number }
  | { m: 'json-extra-field'; at: number; key: string; value: unknown }
  | { m: 'json-huge-array'; at: number; size: number; element: unknown }
  | { m: 'json-deep'; at: number; depth: number; container: 'array' | 'object' }
  | { m: 'json-long-string'; at: number; length: number; char: string }
  | { m: 'json-replace'; text: string }
  | { m: 'truncate'; fraction: number }
  | { m: 'invalid-utf8'; fraction: number; bytes: number[] }
  | { m: 'content-type'; value: string | null }
  | { m: 'empty-body' }
  | { m: 'unexpected-body'; text: string }
  | { m: 'path-param'; name: string; raw: string }
  | { m: 'path-suffix'; raw: string }
  | { m: 'query'; name: string; raw: string }
  | { m: 'header'; name: string; value: string }
  | { m: 'method'; value: string }
  | { m: 'binary-lie'; lie: BinaryLie; amount: number }
  | { m: 'tensor'; kind: TensorAttack; pick: number }
  | { m: 'upload'; kind: UploadAttack; pick: number }
  | { m: 'dataset'; kind: DatasetAttack; pick: number }
  /** Every model the request names (path, `model` query, body fields) becomes `to`: for keys restricted to other models. */
  | { m: 'retarget-model'; to: string };

/** `restricted`: every scope but admin, limited to the model `iris` (fuzzer.ts checks it never reaches another). */
export type Auth = 'admin' | 'none' | 'bad' | 'inference' | 'restricted';
export const RESTRICTED_TO = 'iris';

export interface FuzzCase {
  base: BaseRequest;
  mutation: Mutation | null;
  auth: Auth;
}

/** Ids created during the run that later requests refer to (`$job` and friends). */
export interface LiveIds {
  job?: string;
  evaluation?: string;
  key?: string;
  dataset?: string;
}

const LIVE_FALLBACK: Record<string, string> = {
  $job: 'tj_missing',
  $evaluation: 'ev_000000000000',
  $key: '000000000000',
  $dataset: 'ghost',
};

// ---------------------------------------------------------------------------------------------
// Values

const MODEL_NAMES = ['iris', 'iris', 'digits', 'digits-mlp', 'ghost'];
const PARAM_POOLS: Record<string, string[]> = {
  model_name: MODEL_NAMES,
  model_version: ['1', '1', '2', 'production', 'staging', '99', 'constructor', 'toString'],
  version: ['1', '1', '2', '99'],
  alias: ['production', 'staging', 'canary', 'nightly', 'constructor', 'hasOwnProperty'],
  job_id: ['$job', '$job', 'tj_missing'],
  evaluation_id: ['$evaluation', '$evaluation', 'ev_000000000000'],
  key_id: ['$key', '000000000000'],
  dataset_name: ['iris-holdout', 'iris-train', 'mnist-holdout', '$dataset', 'ghost'],
};
const IRIS_LABELS = ['setosa', 'versicolor', 'virginica'];

/** Values of the wrong type for wherever they land. */
const WRONG_VALUES: unknown[] = [
  null,
  0,
  -1,
  1.5,
  1e308,
  -1e308,
  '',
  'x',
  '1',
  'null',
  true,
  false,
  [],
  {},
  [null],
  { a: 1 },
  '\u0000',
  '😀',
  'A'.repeat(300),
  2 ** 53 + 1,
  -0,
];
const INJECTIONS = [
  '..',
  '../..',
  '..%2f..%2fetc%2fpasswd',
  '%2e%2e',
  '%2e%2e%2f',
  '%00',
  'iris%00',
  '%ff',
  '%c3%28',
  '%',
  '%zz',
  '%2F',
  'iris%2F..%2Fdigits',
  '.',
  '~',
  '*',
  '$',
  '%20',
  '%0d%0aSet-Cookie:%20x=1',
  '😀',
  '%F0%9F%98%80',
  'a'.repeat(70),
  'b'.repeat(5000),
  '-1',
  '0',
  '1e3',
  '1.5',
  '9007199254740993',
  'null',
  'undefined',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'con',
  'nul',
  'iris;drop',
  "iris'--",
  '<script>',
  '%3Cscript%3E',
];
const QUERY_VALUES = [
  '',
  '0',
  '-1',
  '1.5',
  'abc',
  '101',
  '1e3',
  '9'.repeat(30),
  'true',
  '%00',
  '%ff',
  'a'.repeat(600),
  '__proto__',
  '[]',
  '{}',
  '%0d%0a',
  'eyJ4IjoxfQ',
  'bnVsbA',
  'W10',
];
const CONTENT_TYPES = [
  null,
  'text/xml',
  'application/xml',
  'text/html',
  'multipart/form-data',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'application/x-www-form-urlencoded',
  'application/json; charset=utf-16',
  'application/JSON',
  'application/problem+json',
  'text/csv',
  'application/x-ndjson',
  'application/zip',
  'application/gzip',
  'application/x-tar',
  'image/png',
  ';;;',
  'application/',
  '*/*',
  'a'.repeat(2000),
];
const HEADER_ATTACKS: [string, string[]][] = [
  ['x-request-id', ['../../etc/passwd', 'a'.repeat(129), 'a'.repeat(128), 'id with spaces', 'ok-id.1:2', '', 'ÿÿÿ', 'x\tb']],
  ['idempotency-key', ['', 'k', 'k'.repeat(256), 'k'.repeat(255), '../../x', 'é']],
  [
    'authorization',
    [
      '',
      'Bearer',
      'Bearer ',
      'bearer x',
      'Basic dXNlcjpwYXNz',
      'Bearer a b',
      `Bearer ${'x'.repeat(10_000)}`,
      'Bearer mp_000000000000_xxxxxxxxxxxxxxxxxxxxxxxx',
      'Bearer mp_admin_',
      'Token x',
    ],
  ],
  ['inference-header-content-length', ['-1', 'abc', '1e400', '9007199254740993', '', ' 5', '0x10', '3.5', '0']],
  ['last-event-id', ['-1', 'abc', '1e400', '99999999999', '', '0']],
  ['content-length', ['0', '-1', 'abc', '99999999999']],
  ['content-encoding', ['gzip', 'br', 'deflate', 'x']],
  ['origin', ['https://evil.example', 'null', '']],
  ['accept', ['text/html', 'application/xml', '*/*', '']],
  ['x-forwarded-for', ['127.0.0.1, ::1', 'x'.repeat(1000)]],
  ['transfer-encoding', ['chunked', 'x']],
  // fetch refuses these (CR, LF, NUL): counted as refused, never sent.
  ['x-request-id', ['a\r\nSet-Cookie: x=1', 'a\nb', 'a\u0000b']],
  ['x-custom', ['\u00e9\u00ff', 'v'.repeat(64 * 1024)]],
];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'PROPFIND'];
const JUNK_BODIES = [
  'null',
  '[]',
  '0',
  '"s"',
  '{',
  '}',
  '{"a":}',
  'NaN',
  '\ufeff{}',
  '{"__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{"polluted":1}}}',
  '1e999999',
  '-',
  ' ',
  '\u0000',
  '{"inputs":null}',
  '{"inputs":[{}]}',
  '{"a":1,"a":2}',
  '[{"inputs":[]}]',
  'true',
  '{}'.repeat(1000),
  '{"x":"\\ud800"}',
];
const BAD_UTF8 = [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xc0, 0xaf], [0xfe, 0xff]];

export type BinaryLie =
  | 'header-length'
  | 'header-length-absurd'
  | 'header-length-missing'
  | 'binary-size'
  | 'binary-size-float'
  | 'binary-size-negative'
  | 'extra-bytes'
  | 'missing-bytes'
  | 'bytes-prefix'
  | 'header-not-utf8'
  | 'header-not-json'
  | 'header-deep'
  | 'datatype-width'
  | 'duplicate-input'
  | 'size-without-binary';
const BINARY_LIES: BinaryLie[] = [
  'header-length',
  'header-length-absurd',
  'header-length-missing',
  'binary-size',
  'binary-size-float',
  'binary-size-negative',
  'extra-bytes',
  'missing-bytes',
  'bytes-prefix',
  'header-not-utf8',
  'header-not-json',
  'header-deep',
  'datatype-width',
  'duplicate-input',
  'size-without-binary',
];

export type TensorAttack =
  | 'shape-zero'
  | 'shape-zero-inner'
  | 'shape-huge'
  | 'shape-overflow'
  | 'shape-rank'
  | 'data-short'
  | 'data-long'
  | 'data-nested'
  | 'data-ragged'
  | 'datatype'
  | 'data-strings'
  | 'data-non-finite'
  | 'classification'
  | 'unknown-output'
  | 'duplicate-input'
  | 'unknown-input'
  | 'output-flags'
  | 'big-batch'
  | 'image'
  | 'baseline'
  | 'target'
  | 'bytes-flood'
  | 'mistyped-flood'
  | 'image-bomb';
const TENSOR_ATTACKS: TensorAttack[] = [
  'shape-zero',
  'shape-zero-inner',
  'shape-huge',
  'shape-overflow',
  'shape-rank',
  'data-short',
  'data-long',
  'data-nested',
  'data-ragged',
  'datatype',
  'data-strings',
  'data-non-finite',
  'classification',
  'unknown-output',
  'duplicate-input',
  'unknown-input',
  'output-flags',
  'big-batch',
  'image',
  'baseline',
  'target',
  'bytes-flood',
  'mistyped-flood',
  'image-bomb',
];
const DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'];

export type UploadAttack =
  | 'traversal-name'
  | 'zip-traversal'
  | 'tar-traversal'
  | 'tar-symlink'
  | 'garbage'
  | 'truncated-archive'
  | 'zip-lying-size'
  | 'gzip-bomb'
  | 'empty-multipart'
  | 'multipart-no-boundary'
  | 'metadata'
  | 'model-json'
  | 'weights'
  | 'many-files'
  | 'savedmodel-garbage'
  | 'path-conflict';
const UPLOAD_ATTACKS: UploadAttack[] = [
  'traversal-name',
  'zip-traversal',
  'tar-traversal',
  'tar-symlink',
  'garbage',
  'truncated-archive',
  'zip-lying-size',
  'gzip-bomb',
  'empty-multipart',
  'multipart-no-boundary',
  'metadata',
  'model-json',
  'weights',
  'many-files',
  'savedmodel-garbage',
  'path-conflict',
];
const TRAVERSAL_NAMES = [
  '../../evil.json',
  '/etc/passwd',
  'C:\\evil.json',
  'a/../../b.json',
  'a\\..\\..\\b',
  '..',
  '.',
  '',
  'x\u0000y',
  'model.json/../../z',
  '%2e%2e/x',
  'n'.repeat(5000),
  `${'a/'.repeat(300)}x`,
];

export type DatasetAttack =
  | 'ragged'
  | 'non-numeric'
  | 'unknown-label'
  | 'huge-row'
  | 'quotes'
  | 'empty'
  | 'blank-lines'
  | 'binary'
  | 'bad-jsonl'
  | 'deep-jsonl'
  | 'crlf'
  | 'bom'
  | 'non-finite'
  | 'many-rows';
const DATASET_ATTACKS: DatasetAttack[] = [
  'ragged',
  'non-numeric',
  'unknown-label',
  'huge-row',
  'quotes',
  'empty',
  'blank-lines',
  'binary',
  'bad-jsonl',
  'deep-jsonl',
  'crlf',
  'bom',
  'non-finite',
  'many-rows',
];

// ---------------------------------------------------------------------------------------------
// Arbitraries

interface SpecOperation {
  operation: Operation;
  raw: any;
  parameters: { name: string; in: string; required?: boolean; schema?: any }[];
  jsonSchema: any;
  examples: unknown[];
}

/** The fuzzer's arbitrary over every operation (each equally likely), and the list of operations. */
export async function caseArbitrary(contract: Contract): Promise<{ arbitrary: fc.Arbitrary<FuzzCase>; operations: string[] }> {
  const spec = contract.spec;
  const specOps = [...contract.operations.values()].map((operation): SpecOperation => {
    const item = spec.paths[operation.pathTemplate];
    const raw = item[operation.method];
    const parameters = [...(item.parameters ?? []), ...(raw.parameters ?? [])].map((p: any) => resolve(spec, p) as any);
    const requestBody = raw.requestBody ? resolve(spec, raw.requestBody) : undefined;
    const media = requestBody?.content?.['application/json'];
    return {
      operation,
      raw,
      parameters,
      jsonSchema: media?.schema,
      examples: Object.values<any>(media?.examples ?? {})
        .map((e) => resolve(spec, e).value)
        .filter((v) => v !== undefined),
    };
  });
  const seeds = new Map<string, BaseRequest>();
  for (const op of specOps) {
    const make = OPERATION_REQUESTS[op.operation.operationId];
    if (!make) throw new Error(`no seed request for ${op.operation.operationId} in test/helpers/operation-requests.ts`);
    seeds.set(op.operation.operationId, await seedToBase(contract, op, await make()));
  }
  const auth = fc.oneof(
    { arbitrary: fc.constant<Auth>('admin'), weight: 16 },
    { arbitrary: fc.constant<Auth>('none'), weight: 1 },
    { arbitrary: fc.constant<Auth>('bad'), weight: 1 },
    { arbitrary: fc.constant<Auth>('inference'), weight: 2 },
    { arbitrary: fc.constant<Auth>('restricted'), weight: 3 },
  );
  const perOperation = specOps.map((op) => {
    const base = baseArbitrary(spec, op, seeds.get(op.operation.operationId)!);
    const mutation = mutationArbitrary(op);
    return fc.record({
      base,
      mutation: fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, { arbitrary: mutation, weight: 7 }),
      auth,
    });
  });
  return { arbitrary: fc.oneof(...perOperation), operations: specOps.map((op) => op.operation.operationId) };
}

function baseArbitrary(spec: any, op: SpecOperation, seed: BaseRequest): fc.Arbitrary<BaseRequest> {
  const { operation } = op;
  const id = operation.operationId;
  const params = fc.record(
    Object.fromEntries(
      op.parameters
        .filter((p) => p.in === 'path')
        .map((p) => [
          p.name,
          fc.oneof(
            { arbitrary: fc.constantFrom(...(PARAM_POOLS[p.name] ?? ['x'])), weight: 4 },
            { arbitrary: schemaArbitrary(spec, p.schema ?? { type: 'string' }).map(String), weight: 1 },
          ),
        ]),
    ),
  );
  const query = fc.record(
    Object.fromEntries(
      op.parameters.filter((p) => p.in === 'query').map((p) => [p.name, schemaArbitrary(spec, p.schema ?? { type: 'string' }).map(String)]),
    ),
    { requiredKeys: op.parameters.filter((p) => p.in === 'query' && p.required).map((p) => p.name) },
  ) as fc.Arbitrary<Record<string, string>>;
  const make = (source: BaseRequest['source'], body: fc.Arbitrary<BodySpec>) =>
    fc.record({ params, query, body }).map(
      ({ params: p, query: q, body: b }): BaseRequest => ({
        operationId: id,
        source,
        method: operation.method.toUpperCase(),
        template: operation.pathTemplate,
        params: p,
        query: { ...seed.query, ...q },
        headers: {},
        body: b,
      }),
    );
  const choices: { arbitrary: fc.Arbitrary<BaseRequest>; weight: number }[] = [{ arbitrary: fc.constant(seed), weight: 3 }];
  const cheap = (value: unknown) => capCost(id, value);
  if (op.jsonSchema)
    choices.push({
      arbitrary: make(
        'schema',
        schemaArbitrary(spec, op.jsonSchema).map((v): BodySpec => ({ kind: 'json', value: cheap(v) })),
      ),
      weight: 3,
    });
  else if (!operation.bodyContentTypes.length)
    choices.push({ arbitrary: make('schema', fc.constant<BodySpec>({ kind: 'none' })), weight: 2 });
  if (op.examples.length)
    choices.push({
      arbitrary: make(
        'example',
        fc.constantFrom(...op.examples).map((v): BodySpec => ({ kind: 'json', value: cheap(v) })),
      ),
      weight: 1,
    });
  const crafted = craftedArbitrary(id, seed);
  if (crafted) choices.push({ arbitrary: crafted, weight: 4 });
  return fc.oneof(...choices);
}

/** Valid requests the schemas alone rarely produce: real inferences, uploads and datasets. */
function craftedArbitrary(id: string, seed: BaseRequest): fc.Arbitrary<BaseRequest> | undefined {
  const with_ = (params: Record<string, string>, body: BodySpec, query: Record<string, string> = seed.query): BaseRequest => ({
    ...seed,
    source: 'crafted',
    params: { ...seed.params, ...params },
    query,
    body,
  });
  switch (id) {
    case 'modelInfer':
    case 'modelVersionInfer':
      return fc
        .record({
          model: fc.constantFrom('iris', 'iris', 'digits-mlp', 'digits'),
          batch: fc.integer({ min: 1, max: 4 }),
          seed: fc.integer(),
          binaryIn: fc.boolean(),
          output: fc.constantFrom('default', 'binary', 'classification', 'all-binary'),
          k: fc.integer({ min: 1, max: 12 }),
          id: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }),
        })
        .map((o) => with_({ model_name: o.model, ...(id === 'modelVersionInfer' ? { model_version: '1' } : {}) }, inferBody(o)));
    case 'uploadVersion':
      return fc
        .constantFrom('multipart', 'zip', 'tar', 'tar.gz', 'folder-zip')
        .map((format) => with_({ model_name: 'iris' }, irisUpload(format)));
    case 'createDataset':
      return fc
        .record({
          rows: fc.array(
            fc.tuple(
              fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 4, maxLength: 4 }),
              fc.constantFrom(...IRIS_LABELS),
            ),
            { minLength: 1, maxLength: 20 },
          ),
          jsonl: fc.boolean(),
          n: fc.nat(),
        })
        .map(({ rows, jsonl, n }) =>
          with_(
            {},
            jsonl
              ? {
                  kind: 'text',
                  contentType: 'application/x-ndjson',
                  text: rows.map(([x, label]) => JSON.stringify({ x, label })).join('\n'),
                }
              : { kind: 'text', contentType: 'text/csv', text: rows.map(([x, label]) => `${x.join(',')},${label}`).join('\n') },
            { name: `fz-${n}`, task: 'tabular-classification' },
          ),
        );
    default:
      return undefined;
  }
}

function mutationArbitrary(op: SpecOperation): fc.Arbitrary<Mutation> {
  const { operation } = op;
  const at = fc.nat(10_000);
  const choices: fc.Arbitrary<Mutation>[] = [];
  const pathParams = op.parameters.filter((p) => p.in === 'path').map((p) => p.name);
  const queryNames = [...op.parameters.filter((p) => p.in === 'query').map((p) => p.name), 'limit', 'after', 'unknown', '__proto__'];
  if (pathParams.length)
    choices.push(
      fc.record({
        m: fc.constant('path-param' as const),
        name: fc.constantFrom(...pathParams),
        raw: fc.oneof(fc.constantFrom(...INJECTIONS), fc.string({ unit: 'binary', maxLength: 20 }).map(encodeURIComponent)),
      }),
    );
  choices.push(
    fc.record({
      m: fc.constant('path-suffix' as const),
      raw: fc.constantFrom('/', '//', '/..', '/%2e%2e', '/x', '/../..', '%00', '?', '#frag', '/.', ';x=1'),
    }),
  );
  choices.push(
    fc.record({ m: fc.constant('query' as const), name: fc.constantFrom(...queryNames), raw: fc.constantFrom(...QUERY_VALUES) }),
  );
  choices.push(
    fc
      .constantFrom(...HEADER_ATTACKS)
      .chain(([name, values]) =>
        fc.record({ m: fc.constant('header' as const), name: fc.constant(name), value: fc.constantFrom(...values) }),
      ),
  );
  choices.push(fc.record({ m: fc.constant('retarget-model' as const), to: fc.constantFrom('digits', 'iris', 'digits-mlp', 'never-made') }));
  choices.push(
    fc.record({
      m: fc.constant('method' as const),
      value: fc.constantFrom(...METHODS.filter((m) => m !== operation.method.toUpperCase())),
    }),
  );
  if (operation.bodyContentTypes.includes('application/json')) {
    choices.push(
      fc.record({ m: fc.constant('json-wrong-type' as const), at, value: fc.constantFrom(...WRONG_VALUES) }),
      fc.record({ m: fc.constant('json-drop-field' as const), at }),
      fc.record({
        m: fc.constant('json-extra-field' as const),
        at,
        key: fc.constantFrom('extra', '__proto__', 'constructor', '', '😀', 'a'.repeat(1000)),
        value: fc.constantFrom(...WRONG_VALUES),
      }),
      fc.record({
        m: fc.constant('json-huge-array' as const),
        at,
        size: fc.constantFrom(1_000, 20_000, 200_000, 1_500_000),
        element: fc.constantFrom(0, 1.5, 'x', null, [], true),
      }),
      fc.record({
        m: fc.constant('json-deep' as const),
        at,
        depth: fc.constantFrom(20, 40, 65, 1_000, 100_000),
        container: fc.constantFrom('array' as const, 'object' as const),
      }),
      fc.record({
        m: fc.constant('json-long-string' as const),
        at,
        length: fc.constantFrom(1_000, 100_000, 1_000_000, 5_000_000),
        char: fc.constantFrom('a', 'é', '😀', '\\u0000', '\\"'),
      }),
      fc.record({ m: fc.constant('json-replace' as const), text: fc.constantFrom(...JUNK_BODIES) }),
    );
  }
  if (operation.bodyContentTypes.length) {
    choices.push(
      fc.record({ m: fc.constant('truncate' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }) }),
      fc.record({
        m: fc.constant('invalid-utf8' as const),
        fraction: fc.double({ min: 0, max: 1, noNaN: true }),
        bytes: fc.constantFrom(...BAD_UTF8),
      }),
      fc.record({ m: fc.constant('content-type' as const), value: fc.constantFrom(...CONTENT_TYPES) }),
      fc.constant({ m: 'empty-body' as const }),
    );
  } else if (operation.method !== 'get') {
    choices.push(
      fc.record({
        m: fc.constant('unexpected-body' as const),
        text: fc.constantFrom('{"x":1}', 'garbage', '\u0000'.repeat(100), 'x'.repeat(100_000)),
      }),
    );
  }
  if (operation.operationId === 'modelInfer' || operation.operationId === 'modelVersionInfer') {
    const lie = fc.record({
      m: fc.constant('binary-lie' as const),
      lie: fc.constantFrom(...BINARY_LIES),
      amount: fc.integer({ min: -100, max: 100 }),
    });
    choices.push(lie, lie, lie);
  }
  if (['modelInfer', 'modelVersionInfer', 'explainModel'].includes(operation.operationId)) {
    const attack = fc.record({ m: fc.constant('tensor' as const), kind: fc.constantFrom(...TENSOR_ATTACKS), pick: fc.nat(1000) });
    choices.push(attack, attack, attack);
  }
  if (operation.operationId === 'uploadVersion') {
    const attack = fc.record({ m: fc.constant('upload' as const), kind: fc.constantFrom(...UPLOAD_ATTACKS), pick: fc.nat(1000) });
    choices.push(attack, attack, attack, attack);
  }
  if (operation.operationId === 'createDataset') {
    const attack = fc.record({ m: fc.constant('dataset' as const), kind: fc.constantFrom(...DATASET_ATTACKS), pick: fc.nat(1000) });
    choices.push(attack, attack, attack);
  }
  return fc.oneof(...choices);
}

/** Bounds the work a valid generated request may ask for (steps, samples, epochs), not its validity. */
function capCost(operationId: string, value: unknown): unknown {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
  const v = { ...(value as Record<string, any>) };
  if (operationId === 'explainModel' && typeof v.steps === 'number') v.steps = Math.min(v.steps, 16);
  if (operationId === 'createEvaluation' && typeof v.latency_samples === 'number') v.latency_samples = Math.min(v.latency_samples, 5);
  if (operationId === 'selectModel' && typeof v.latency_samples === 'number') v.latency_samples = 10;
  if (operationId === 'createTrainingJob' && typeof v.epochs === 'number') v.epochs = Math.min(v.epochs, 2);
  if (operationId === 'createFault' && typeof v.latency_ms === 'number') v.latency_ms = Math.min(v.latency_ms, 50);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Valid bodies

const irisFiles = ['model.json', 'weights.bin'].map((name) => ({
  name,
  bytes: new Uint8Array(readFileSync(path.join(BUNDLED, 'iris', '1', name))),
}));

function irisUpload(format: string): BodySpec {
  const record = Object.fromEntries(irisFiles.map((f) => [f.name, f.bytes]));
  switch (format) {
    case 'zip':
      return { kind: 'bytes', contentType: 'application/zip', bytes: zipSync(record) };
    case 'folder-zip':
      return { kind: 'bytes', contentType: 'application/zip', bytes: zipSync({ mymodel: record }) };
    case 'tar':
      return { kind: 'bytes', contentType: 'application/x-tar', bytes: tar(irisFiles.map((f) => ({ path: f.name, data: f.bytes }))) };
    case 'tar.gz':
      return {
        kind: 'bytes',
        contentType: 'application/gzip',
        bytes: gzipSync(tar(irisFiles.map((f) => ({ path: f.name, data: f.bytes })))),
      };
    default:
      return { kind: 'multipart', files: irisFiles, metadata: JSON.stringify({ metrics: { accuracy: 0.9 } }) };
  }
}

const MODEL_INPUTS: Record<string, { name: string; shape: number[]; output: string }> = {
  iris: { name: 'features', shape: [4], output: 'probabilities' },
  digits: { name: 'image', shape: [28, 28, 1], output: 'probabilities' },
  'digits-mlp': { name: 'image', shape: [28, 28, 1], output: 'probabilities' },
};

function inferBody(o: { model: string; batch: number; seed: number; binaryIn: boolean; output: string; k: number; id?: string }): BodySpec {
  const spec = MODEL_INPUTS[o.model]!;
  const count = o.batch * spec.shape.reduce((n, d) => n * d, 1);
  let x = o.seed >>> 0;
  const data = Float32Array.from({ length: count }, () => ((x = (x * 1103515245 + 12345) >>> 0) % 1000) / 1000);
  const shape = [o.batch, ...spec.shape];
  const outputs =
    o.output === 'binary'
      ? [{ name: spec.output, parameters: { binary_data: true } }]
      : o.output === 'classification'
        ? [{ name: spec.output, parameters: { classification: o.k } }]
        : undefined;
  const header: InferHeader & { id?: string } = {
    ...(o.id !== undefined ? { id: o.id } : {}),
    inputs: [{ name: spec.name, shape, datatype: 'FP32', ...(o.binaryIn ? { parameters: { binary_data_size: count * 4 } } : {}) }],
    ...(outputs ? { outputs } : {}),
    ...(o.output === 'all-binary' ? { parameters: { binary_data_output: true } } : {}),
  };
  if (o.binaryIn) return { kind: 'binary-infer', header, chunks: [new Uint8Array(data.buffer)] };
  header.inputs[0] = { ...header.inputs[0]!, data: Array.from(data) } as never;
  return { kind: 'json', value: header };
}

async function seedToBase(
  contract: Contract,
  op: SpecOperation,
  request: { method: string; path: string; body?: BodyInit; headers?: Record<string, string> },
): Promise<BaseRequest> {
  const url = new URL(request.path, 'http://fuzz.test');
  const matched = contract.match(request.method, url.pathname);
  if (!matched.operation) throw new Error(`seed ${request.method} ${request.path} matches no operation`);
  const contentType = request.headers?.['content-type'];
  let body: BodySpec = { kind: 'none' };
  if (request.body instanceof FormData) {
    const files: { name: string; bytes: Uint8Array }[] = [];
    for (const [, value] of request.body)
      if (typeof value !== 'string') files.push({ name: value.name, bytes: new Uint8Array(await value.arrayBuffer()) });
    body = { kind: 'multipart', files };
  } else if (typeof request.body === 'string') {
    body =
      contentType === 'application/json'
        ? { kind: 'json', value: JSON.parse(request.body) }
        : { kind: 'text', text: request.body, contentType: contentType ?? 'text/plain' };
  }
  return {
    operationId: op.operation.operationId,
    source: 'seed',
    method: request.method,
    template: op.operation.pathTemplate,
    params: matched.params,
    query: Object.fromEntries(url.searchParams),
    headers: {},
    body,
  };
}

// ---------------------------------------------------------------------------------------------
// Materialising a case

export interface Wire {
  method: string;
  url: string;
  headers: [string, string][];
  body: BodyInit | undefined;
  /** Body bytes, for the report. */
  bodyBytes: number;
}

const MARK = '\u0000fuzz-mark\u0000';
const MARK_JSON = JSON.stringify(MARK);
const encoder = new TextEncoder();

export function materialize(c: FuzzCase, live: LiveIds, keys: { admin: string; inference: string; restricted: string }): Wire {
  const { mutation } = c;
  const base = mutation?.m === 'retarget-model' ? retarget(c.base, mutation.to) : c.base;
  let method = base.method;
  const params = Object.fromEntries(
    Object.entries(base.params).map(([k, v]) => [k, v.startsWith('$') ? (live[v.slice(1) as keyof LiveIds] ?? LIVE_FALLBACK[v]!) : v]),
  );
  const encoded: Record<string, string> = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, encodeURIComponent(v)]));
  if (mutation?.m === 'path-param') encoded[mutation.name] = mutation.raw;
  let pathname = base.template.replace(/\{([^}]+)\}/g, (_, name: string) => encoded[name] ?? 'x');
  if (mutation?.m === 'path-suffix') pathname += mutation.raw;
  const query = new URLSearchParams(base.query).toString();
  let search = query ? `?${query}` : '';
  if (mutation?.m === 'query') search += `${search ? '&' : '?'}${encodeURIComponent(mutation.name)}=${mutation.raw}`;

  const headers: [string, string][] = Object.entries(base.headers);
  if (c.auth === 'admin') headers.push(['authorization', `Bearer ${keys.admin}`]);
  else if (c.auth === 'inference') headers.push(['authorization', `Bearer ${keys.inference}`]);
  else if (c.auth === 'restricted') headers.push(['authorization', `Bearer ${keys.restricted}`]);
  else if (c.auth === 'bad') headers.push(['authorization', 'Bearer mp_0123456789ab_notarealsecretnotarealsecret']);

  let { bytes, contentType, extraHeaders } = serialize(base, mutation);
  headers.push(...extraHeaders);
  if (mutation?.m === 'content-type') contentType = mutation.value ?? undefined;
  if (mutation?.m === 'empty-body') bytes = new Uint8Array(0);
  if (mutation?.m === 'unexpected-body') bytes = encoder.encode(mutation.text);
  if (bytes && mutation?.m === 'truncate') bytes = bytes.subarray(0, Math.floor(bytes.byteLength * mutation.fraction));
  if (bytes && mutation?.m === 'invalid-utf8') {
    const at = Math.floor(bytes.byteLength * mutation.fraction);
    bytes = concat([bytes.subarray(0, at), Uint8Array.from(mutation.bytes), bytes.subarray(at)]);
  }
  if (mutation?.m === 'method') method = mutation.value;
  if (contentType !== undefined && bytes) headers.push(['content-type', contentType]);
  if (mutation?.m === 'header') {
    const i = headers.findIndex(([name]) => name === mutation.name);
    if (i >= 0) headers.splice(i, 1);
    headers.push([mutation.name, mutation.value]);
  }
  const hasBody = bytes !== undefined && method !== 'GET' && method !== 'HEAD';
  return {
    method,
    url: `http://fuzz.test${pathname}${search}`,
    headers,
    body: hasBody ? (bytes as Uint8Array<ArrayBuffer>) : undefined,
    bodyBytes: hasBody ? bytes!.byteLength : 0,
  };
}

function serialize(
  base: BaseRequest,
  mutation: Mutation | null,
): { bytes: Uint8Array | undefined; contentType: string | undefined; extraHeaders: [string, string][] } {
  const body = base.body;
  if (mutation?.m === 'binary-lie') return binaryLie(base, mutation);
  if (mutation?.m === 'tensor')
    return { bytes: encoder.encode(tensorAttack(base, mutation)), contentType: 'application/json', extraHeaders: [] };
  if (mutation?.m === 'upload') return uploadAttack(mutation);
  if (mutation?.m === 'dataset') return datasetAttack(mutation);
  switch (body.kind) {
    case 'none':
      return { bytes: undefined, contentType: undefined, extraHeaders: [] };
    case 'json':
      return { bytes: encoder.encode(mutateJson(body.value, mutation)), contentType: 'application/json', extraHeaders: [] };
    case 'text':
      return { bytes: encoder.encode(body.text), contentType: body.contentType, extraHeaders: [] };
    case 'bytes':
      return { bytes: body.bytes, contentType: body.contentType, extraHeaders: [] };
    case 'binary-infer': {
      const header = mutation?.m.startsWith('json-') ? mutateJson(body.header, mutation) : JSON.stringify(body.header);
      const headerBytes = encoder.encode(header);
      return {
        bytes: concat([headerBytes, ...body.chunks]),
        contentType: 'application/octet-stream',
        extraHeaders: [['inference-header-content-length', String(headerBytes.byteLength)]],
      };
    }
    case 'multipart':
      return multipart(body.files, body.metadata);
  }
}

/** A JSON body with one mutation applied; big and deep values are spliced in as text. */
function mutateJson(value: unknown, mutation: Mutation | null): string {
  if (!mutation?.m.startsWith('json-')) return JSON.stringify(value);
  if (mutation.m === 'json-replace') return mutation.text;
  const clone = structuredClone(value);
  const nodes = jsonNodes(clone);
  const pick = <T>(list: T[], at: number) => list[at % list.length];
  switch (mutation.m) {
    case 'json-wrong-type': {
      const node = pick(nodes, mutation.at)!;
      if (!node.parent) return JSON.stringify(mutation.value);
      (node.parent as any)[node.key!] = mutation.value;
      return JSON.stringify(clone);
    }
    case 'json-drop-field': {
      const fields = nodes.filter((n) => n.parent && !Array.isArray(n.parent));
      const node = pick(fields, mutation.at);
      if (node) delete (node.parent as any)[node.key!];
      return JSON.stringify(clone);
    }
    case 'json-extra-field': {
      const objects = nodes.filter((n) => n.value && typeof n.value === 'object' && !Array.isArray(n.value));
      const node = pick(objects, mutation.at);
      if (!node) return JSON.stringify(clone);
      // `__proto__` as an own key, as JSON.parse makes it, not a prototype change here.
      return splice(clone, node, (inner) =>
        inner.replace(/^\{/, `{${JSON.stringify(mutation.key)}:${JSON.stringify(mutation.value)}${inner === '{}' ? '' : ','}`),
      );
    }
    case 'json-huge-array': {
      const element = JSON.stringify(mutation.element);
      return splice(clone, pick(nodes, mutation.at)!, () => `[${new Array(mutation.size).fill(element).join(',')}]`);
    }
    case 'json-deep': {
      const [open, close] = mutation.container === 'array' ? ['[', ']'] : ['{"a":', '}'];
      return splice(clone, pick(nodes, mutation.at)!, (inner) => `${open.repeat(mutation.depth)}${inner}${close.repeat(mutation.depth)}`);
    }
    case 'json-long-string':
      // `char` is JSON text: 'a', 'é', '😀', or an escape such as \u0000 or \".
      return splice(clone, pick(nodes, mutation.at)!, () => `"${mutation.char.repeat(mutation.length)}"`);
  }
  return JSON.stringify(clone);
}

interface JsonNode {
  value: unknown;
  parent?: object;
  key?: string | number;
}

function jsonNodes(root: unknown): JsonNode[] {
  const out: JsonNode[] = [{ value: root }];
  for (let i = 0; i < out.length && out.length < 2000; i++) {
    const v = out[i]!.value;
    if (Array.isArray(v)) v.slice(0, 50).forEach((child, k) => out.push({ value: child, parent: v, key: k }));
    else if (v && typeof v === 'object') for (const [k, child] of Object.entries(v)) out.push({ value: child, parent: v, key: k });
  }
  return out;
}

function splice(root: unknown, node: JsonNode, replace: (inner: string) => string): string {
  const inner = JSON.stringify(node.value) ?? 'null';
  if (!node.parent) return replace(inner);
  (node.parent as any)[node.key!] = MARK;
  return JSON.stringify(root).replace(MARK_JSON, () => replace(inner));
}

function binaryLie(base: BaseRequest, mutation: Extract<Mutation, { m: 'binary-lie' }>): ReturnType<typeof serialize> {
  const model = MODEL_INPUTS[base.params.model_name ?? ''] ? base.params.model_name! : 'iris';
  const spec = MODEL_INPUTS[model]!;
  const count = spec.shape.reduce((n, d) => n * d, 1);
  let data: Uint8Array = new Uint8Array(new Float32Array(count).fill(0.5).buffer);
  let datatype: Datatype = 'FP32';
  const input: Record<string, unknown> = {
    name: spec.name,
    shape: [1, ...spec.shape],
    datatype,
    parameters: { binary_data_size: data.byteLength },
  };
  const header: Record<string, unknown> = { inputs: [input] };
  const params = input.parameters as Record<string, unknown>;
  const n = mutation.amount;
  switch (mutation.lie) {
    case 'binary-size':
      params.binary_data_size = Math.max(0, data.byteLength + n);
      break;
    case 'binary-size-float':
      params.binary_data_size = data.byteLength + 0.5;
      break;
    case 'binary-size-negative':
      params.binary_data_size = -Math.abs(n) - 1;
      break;
    case 'extra-bytes':
      data = concat([data, new Uint8Array(Math.abs(n) + 1)]);
      break;
    case 'missing-bytes':
      data = data.subarray(0, Math.max(0, data.byteLength - Math.abs(n) - 1));
      break;
    case 'bytes-prefix': {
      datatype = 'BYTES';
      input.datatype = datatype;
      input.shape = [1];
      const item = toBytes('BYTES', [encoder.encode('hello')]);
      new DataView(item.buffer).setUint32(0, 5 + n * 1000, true);
      data = item;
      params.binary_data_size = data.byteLength;
      break;
    }
    case 'datatype-width':
      input.datatype = 'FP64';
      break;
    case 'duplicate-input':
      header.inputs = [input, { ...input }];
      data = concat([data, data]);
      break;
    case 'size-without-binary':
      header.inputs = [{ ...input, data: [1, 2, 3] }];
      break;
  }
  let headerText = JSON.stringify(header);
  if (mutation.lie === 'header-not-json') headerText = `${headerText.slice(0, -3)}@@`;
  if (mutation.lie === 'header-deep') headerText = `{"inputs":[${'['.repeat(5000)}${']'.repeat(5000)}]}`;
  let headerBytes: Uint8Array = encoder.encode(headerText);
  if (mutation.lie === 'header-not-utf8')
    headerBytes = concat([headerBytes.subarray(0, 5), Uint8Array.from([0xff, 0xfe]), headerBytes.subarray(5)]);
  let declared = String(headerBytes.byteLength);
  if (mutation.lie === 'header-length') declared = String(Math.max(0, headerBytes.byteLength + n));
  if (mutation.lie === 'header-length-absurd')
    declared = ['-1', 'abc', '1e400', '9007199254740993', '', ' 5', '0x10', '3.5', String(2 ** 32)][Math.abs(n) % 9]!;
  const extraHeaders: [string, string][] = mutation.lie === 'header-length-missing' ? [] : [['inference-header-content-length', declared]];
  return { bytes: concat([headerBytes, data]), contentType: 'application/octet-stream', extraHeaders };
}

/** A valid iris or digits request (inference or explanation) made wrong in one way past the schema. */
function tensorAttack(base: BaseRequest, mutation: Extract<Mutation, { m: 'tensor' }>): string {
  const model = MODEL_INPUTS[base.params.model_name ?? ''] ? base.params.model_name! : 'iris';
  const spec = MODEL_INPUTS[model]!;
  const explain = base.operationId === 'explainModel';
  const p = mutation.pick;
  const per = spec.shape.reduce((n, d) => n * d, 1);
  const batch = explain ? 1 : 1 + (p % 3);
  const values = (n: number) => Array.from({ length: n }, (_, i) => ((i * 37 + p) % 100) / 100);
  const input: Record<string, any> = { name: spec.name, shape: [batch, ...spec.shape], datatype: 'FP32', data: values(batch * per) };
  const request: Record<string, any> = { inputs: [input], ...(explain ? { steps: 4 } : {}) };
  switch (mutation.kind) {
    case 'shape-zero':
      input.shape = [0, ...spec.shape];
      input.data = [];
      break;
    case 'shape-zero-inner':
      input.shape = [batch, ...spec.shape.slice(0, -1), 0];
      input.data = [];
      break;
    case 'shape-huge':
      input.shape = [2 ** 31, ...spec.shape];
      break;
    case 'shape-overflow':
      input.shape = [2 ** 53, 2 ** 53, 2 ** 53];
      break;
    case 'shape-rank':
      input.shape = [1, ...input.shape, 1];
      break;
    case 'data-short':
      input.data = input.data.slice(1);
      break;
    case 'data-long':
      input.data.push(0.5);
      break;
    case 'data-nested':
      input.data = nest(input.data, input.shape);
      break;
    case 'data-ragged':
      input.data = [input.data.slice(1), [1]];
      break;
    case 'datatype':
      input.datatype = DATATYPES[p % DATATYPES.length];
      break;
    case 'data-strings':
      input.data = input.data.map(String);
      break;
    case 'data-non-finite':
      input.data[p % input.data.length] = [1e39, -1e39, 1e308, 'NaN', null, 65505][p % 6];
      break;
    case 'classification':
      request.outputs = [{ name: spec.output, parameters: { classification: [0, -1, 1000, 1.5, '3', true][p % 6] } }];
      break;
    case 'unknown-output':
      request.outputs = [{ name: ['nope', '', spec.output.toUpperCase()][p % 3] }];
      if (explain) request.output = 'nope';
      break;
    case 'duplicate-input':
      request.inputs = [input, { ...input }];
      break;
    case 'unknown-input':
      input.name = ['nope', '', 'features ', spec.name.toUpperCase()][p % 4];
      break;
    case 'output-flags':
      request.outputs = [{ name: spec.output, parameters: { binary_data: ['yes', 1, null, {}][p % 4] } }];
      request.parameters = { binary_data_output: ['true', 0][p % 2] };
      break;
    case 'big-batch':
      input.shape = [model === 'iris' ? 2000 : 64, ...spec.shape];
      input.data = values(input.shape[0] * per);
      break;
    case 'image': {
      // Encoded images as BYTES (digits decodes them): valid, garbage, truncated, or claiming huge sizes.
      const images = [
        png(28, 28, 28),
        png(5, 300, 300),
        new Uint8Array([1, 2, 3]),
        png(28, 28, 28).subarray(0, 40),
        png(30_000, 30_000, 1),
        png(65_535, 65_535, 1),
        new Uint8Array(0),
      ];
      input.datatype = 'BYTES';
      input.shape = [1];
      input.data = [Buffer.from(images[p % images.length]!).toString(['base64', 'base64url'][p % 2] as BufferEncoding)];
      if (p % 11 === 0) input.data = ['not base64 !!'];
      break;
    }
    case 'baseline':
      request.baseline = ['ones', -1e39, [], values(per + 1), values(per), 0.5][p % 6];
      break;
    case 'target':
      request.target = [-1, 10, 1e9, 2.5, '1'][p % 5];
      break;
    case 'bytes-flood':
      // Megabytes of strings for a numeric input: refused on the datatype, before any is decoded.
      input.datatype = 'BYTES';
      input.shape = [3000];
      input.data = Array.from({ length: 3000 }, (_, i) => `${i}`.padEnd(1000, 'x'));
      break;
    case 'mistyped-flood':
      // A declared datatype or shape the model does not take, with a data array that fills the body.
      input.datatype = ['BOOL', 'INT64', 'FP64', 'UINT8'][p % 4];
      input.shape = [1, 500_000];
      input.data = Array.from({ length: 500_000 }, (_, i) => (input.datatype === 'BOOL' ? i % 2 === 0 : i % 7));
      break;
    case 'image-bomb':
      // A small PNG whose header claims 8192² pixels (and whose data holds them): bounded before decoding.
      input.datatype = 'BYTES';
      input.shape = [1];
      input.data = [Buffer.from(imageBomb()).toString('base64')];
      break;
  }
  return JSON.stringify(request);
}

let bomb: Uint8Array | undefined;
function imageBomb(): Uint8Array {
  bomb ??= png(8192, 8192, 8192);
  return bomb;
}

/** The request with every model it names replaced by `to`. */
function retarget(base: BaseRequest, to: string): BaseRequest {
  const params = 'model_name' in base.params ? { ...base.params, model_name: to } : base.params;
  const query = 'model' in base.query ? { ...base.query, model: to } : base.query;
  if (base.body.kind !== 'json') return { ...base, params, query };
  return { ...base, params, query, body: { kind: 'json', value: renameModels(base.body.value, to, base.operationId === 'createModel') } };
}

const MODEL_FIELDS = new Set(['model', 'models', 'base_model']);

function renameModels(value: unknown, to: string, nameIsModel: boolean, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => renameModels(v, to, false, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => {
      if ((MODEL_FIELDS.has(k) || (nameIsModel && k === 'name')) && typeof v === 'string') return [k, to];
      if (MODEL_FIELDS.has(k) && Array.isArray(v))
        return [k, v.map((item) => (typeof item === 'string' ? to : renameModels(item, to, false, depth + 1)))];
      return [k, renameModels(v, to, false, depth + 1)];
    }),
  );
}

/**
 * Every model a request names: the path's model, the `model` query parameter, and body fields that
 * name models (`model`, `models`, `base_model`, a created model's `name`). For the restricted-key check.
 */
export function modelsNamedBy(
  operationId: string | undefined,
  pathParams: Record<string, string>,
  search: URLSearchParams,
  body: unknown,
): string[] {
  const named: string[] = [];
  if (pathParams.model_name !== undefined) named.push(pathParams.model_name);
  const inQuery = search.get('model');
  if (inQuery) named.push(inQuery);
  const walk = (value: unknown, depth: number, nameIsModel: boolean) => {
    if (depth > 8 || value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) return value.forEach((v) => walk(v, depth + 1, false));
    for (const [k, v] of Object.entries(value)) {
      if ((MODEL_FIELDS.has(k) || (nameIsModel && k === 'name')) && typeof v === 'string') named.push(v);
      else if (MODEL_FIELDS.has(k) && Array.isArray(v))
        v.forEach((item) => (typeof item === 'string' ? named.push(item) : walk(item, depth + 1, false)));
      else walk(v, depth + 1, false);
    }
  };
  walk(body, 0, operationId === 'createModel');
  return named;
}

function nest(flat: unknown[], shape: number[]): unknown {
  if (shape.length <= 1) return flat;
  const size = flat.length / shape[0]!;
  return Array.from({ length: shape[0]! }, (_, i) => nest(flat.slice(i * size, (i + 1) * size), shape.slice(1)));
}

/** A grayscale PNG of w×h whose data holds `rows` rows (fewer than h: truncated). */
function png(w: number, h: number, rows: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, w);
  view.setUint32(4, h);
  ihdr[8] = 8; // bit depth; colour type 0 (gray)
  const raw = new Uint8Array(Math.min(rows, h) * (w + 1)).map((_, i) => (i % (w + 1) === 0 ? 0 : (i * 13) & 0xff));
  return concat([
    Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', zlibSync(raw)),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.byteLength);
  out.set(encoder.encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.byteLength, crc32(out.subarray(4, 8 + data.byteLength)));
  return out;
}

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function uploadAttack(mutation: Extract<Mutation, { m: 'upload' }>): ReturnType<typeof serialize> {
  const p = mutation.pick;
  const files = irisFiles;
  const bytes = (b: Uint8Array, contentType: string) => ({ bytes: b, contentType, extraHeaders: [] as [string, string][] });
  const record = Object.fromEntries(files.map((f) => [f.name, f.bytes]));
  switch (mutation.kind) {
    case 'traversal-name':
      return multipart([files[0]!, { name: TRAVERSAL_NAMES[p % TRAVERSAL_NAMES.length]!, bytes: files[1]!.bytes }]);
    case 'zip-traversal':
      return bytes(
        zipSync({ ...record, [['../evil.bin', '/abs.bin', 'a/../../b.bin', 'C:/x.bin'][p % 4]!]: new Uint8Array(8) }),
        'application/zip',
      );
    case 'tar-traversal':
      return bytes(
        tar([
          ...files.map((f) => ({ path: f.name, data: f.bytes })),
          { path: ['../evil.bin', '/abs.bin', 'a/../../b.bin'][p % 3]!, data: new Uint8Array(8) },
        ]),
        'application/x-tar',
      );
    case 'tar-symlink':
      return bytes(
        tar([
          ...files.map((f) => ({ path: f.name, data: f.bytes })),
          { path: 'link', type: 'SymbolicLink', linkpath: ['../../../../etc/passwd', '/etc/shadow', 'model.json'][p % 3]! },
        ]),
        p % 2 ? 'application/x-tar' : 'application/gzip',
      );
    case 'garbage': {
      const junk = Uint8Array.from({ length: 1 + ((p * 37) % 4096) }, (_, i) => (i * 131 + p) & 0xff);
      return bytes(junk, ['application/zip', 'application/gzip', 'application/x-tar', 'application/x-gzip'][p % 4]!);
    }
    case 'truncated-archive': {
      const full = [
        zipSync(record),
        gzipSync(tar(files.map((f) => ({ path: f.name, data: f.bytes })))),
        tar(files.map((f) => ({ path: f.name, data: f.bytes }))),
      ][p % 3]!;
      return bytes(
        full.subarray(0, Math.floor((full.byteLength * (p % 97)) / 100)),
        ['application/zip', 'application/gzip', 'application/x-tar'][p % 3]!,
      );
    }
    case 'zip-lying-size': {
      // Entries claiming to expand to far less (or far more) than they do.
      const zip = zipSync({ 'model.json': files[0]!.bytes, 'big.bin': new Uint8Array(3 * 1024 * 1024) }, { level: 9 });
      const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
      const claimed = p % 2 ? 1 : 0xfffffff0;
      for (let i = 0; i + 4 <= zip.byteLength; i++) {
        const sig = view.getUint32(i, true);
        if (sig === 0x04034b50 && i + 26 <= zip.byteLength) view.setUint32(i + 22, claimed, true);
        if (sig === 0x02014b50 && i + 28 <= zip.byteLength) view.setUint32(i + 24, claimed, true);
      }
      return bytes(zip, 'application/zip');
    }
    case 'gzip-bomb':
      // 40 MiB of zeros in ~40 KB: beyond the fuzz server's expansion limit (4 × 8 MiB).
      return bytes(gzipSync(tar([{ path: 'model.json', data: new Uint8Array(40 * 1024 * 1024) }]), { level: 9 }), 'application/gzip');
    case 'empty-multipart':
      return multipart([], p % 2 ? '{}' : undefined);
    case 'multipart-no-boundary':
      return bytes(
        encoder.encode('--x\r\nContent-Disposition: form-data; name="files"; filename="model.json"\r\n\r\n{}\r\n--x--\r\n'),
        ['multipart/form-data', 'multipart/form-data; boundary=y', 'multipart/form-data; boundary='][p % 3]!,
      );
    case 'metadata':
      return multipart(
        files,
        [
          '{',
          '[]',
          '5',
          '{"metrics":5}',
          '{"tags":[1]}',
          '{"signature":{}}',
          '{"other":1}',
          `{"metrics":${'['.repeat(10_000)}${']'.repeat(10_000)}}`,
          '{"metrics":{"a":"\\ud800"}}',
        ][p % 9]!,
      );
    case 'model-json': {
      const bodies = [
        '',
        '{',
        'null',
        '[]',
        '{"format":"layers-model"}',
        '{"modelTopology":{},"weightsManifest":[]}',
        `{"modelTopology":${'['.repeat(10_000)}${']'.repeat(10_000)}}`,
        JSON.stringify({
          ...JSON.parse(new TextDecoder().decode(files[0]!.bytes)),
          weightsManifest: [{ paths: ['../../../etc/passwd'], weights: [] }],
        }),
        JSON.stringify({
          ...JSON.parse(new TextDecoder().decode(files[0]!.bytes)),
          weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'x', shape: [1e9, 1e9], dtype: 'float32' }] }],
        }),
      ];
      return multipart([{ name: 'model.json', bytes: encoder.encode(bodies[p % bodies.length]!) }, files[1]!]);
    }
    case 'weights':
      return multipart(
        p % 2
          ? [files[0]!]
          : [files[0]!, { name: 'weights.bin', bytes: files[1]!.bytes.subarray(0, files[1]!.bytes.byteLength - 1 - (p % 50)) }],
      );
    case 'many-files':
      return multipart([
        ...files,
        ...Array.from({ length: 200 + (p % 300) }, (_, i) => ({ name: `extra/${i}.txt`, bytes: new Uint8Array(1) })),
      ]);
    case 'path-conflict': {
      // A file where a folder must go, either way round, and a name too long for the file system.
      const names = [['extra', 'extra/x.bin'], ['extra/x.bin', 'extra'], [`${'n'.repeat(300)}.bin`], [`${'d/'.repeat(3000)}x.bin`]][p % 4]!;
      return multipart([...files, ...names.map((name) => ({ name, bytes: new Uint8Array(4) }))]);
    }
    case 'savedmodel-garbage':
      return multipart([
        { name: 'saved_model.pb', bytes: Uint8Array.from({ length: 64 + p }, (_, i) => (i * 7 + p) & 0xff) },
        { name: 'variables/variables.index', bytes: new Uint8Array(p % 40) },
        { name: 'variables/variables.data-00000-of-00001', bytes: new Uint8Array(16) },
      ]);
  }
}

function datasetAttack(mutation: Extract<Mutation, { m: 'dataset' }>): ReturnType<typeof serialize> {
  const p = mutation.pick;
  const csv = (text: string) => ({ bytes: encoder.encode(text), contentType: 'text/csv', extraHeaders: [] as [string, string][] });
  const jsonl = (text: string) => ({
    bytes: encoder.encode(text),
    contentType: 'application/x-ndjson',
    extraHeaders: [] as [string, string][],
  });
  switch (mutation.kind) {
    case 'ragged':
      return csv('1,2,3,4,setosa\n1,2,setosa\n1,2,3,4,5,6,setosa');
    case 'non-numeric':
      return csv(['a,b,c,d,setosa', '1,2,3,x,setosa', '0x10,2,3,4,setosa', '1,,3,4,setosa'][p % 4]!);
    case 'unknown-label':
      return csv('1,2,3,4,rose');
    case 'huge-row':
      return csv(`${Array.from({ length: 20_000 }, (_, i) => i).join(',')},setosa`);
    case 'quotes':
      return csv(['"1,2",3,4,5,setosa', '1,2,3,4,"seto\nsa"', '1,2,3,4,"unterminated', '"",2,3,4,setosa'][p % 4]!);
    case 'empty':
      return p % 2 ? csv('') : jsonl('');
    case 'blank-lines':
      return csv('\n\n\n');
    case 'binary':
      return {
        bytes: Uint8Array.from({ length: 512 }, (_, i) => (i * 151 + p) & 0xff),
        contentType: p % 2 ? 'text/csv' : 'application/jsonl',
        extraHeaders: [],
      };
    case 'bad-jsonl':
      return jsonl(
        [
          '{"x":[1,2,3,4],"label":"setosa"}\n{garbage',
          '[1,2,3]',
          '{"x":"1234","label":"setosa"}',
          '{"x":[1,2,3,4]}',
          '{"x":[1,2,3,4],"label":5}',
          'null',
        ][p % 6]!,
      );
    case 'deep-jsonl':
      return jsonl(`{"x":${'['.repeat(50_000)}1${']'.repeat(50_000)},"label":"setosa"}`);
    case 'crlf':
      return csv('1,2,3,4,setosa\r\n5,6,7,8,versicolor\r\n');
    case 'bom':
      return csv('\ufeff1,2,3,4,setosa\n');
    case 'non-finite':
      return p % 2 ? csv('NaN,Infinity,-Infinity,1e999,setosa') : jsonl('{"x":[1e999,0,0,0],"label":"setosa"}');
    case 'many-rows':
      return csv(Array.from({ length: 50_000 }, (_, i) => `${i},1,2,3,${IRIS_LABELS[i % 3]}`).join('\n'));
  }
}

function multipart(files: { name: string; bytes: Uint8Array }[], metadata?: string): ReturnType<typeof serialize> {
  // Built by hand (as a browser would) so that file names reach the server exactly as given.
  const boundary = '----modelportfuzz7MA4YWxkTrZu0gW';
  const parts: Uint8Array[] = [];
  const quote = (s: string) => s.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  for (const file of files) {
    parts.push(
      encoder.encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="${quote(file.name)}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
      ),
      file.bytes,
      encoder.encode('\r\n'),
    );
  }
  if (metadata !== undefined)
    parts.push(encoder.encode(`--${boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n${metadata}\r\n`));
  parts.push(encoder.encode(`--${boundary}--\r\n`));
  return { bytes: concat(parts), contentType: `multipart/form-data; boundary=${boundary}`, extraHeaders: [] };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** One line describing a case, for reports and failures (bodies summarised, not dumped). */
export function describeCase(c: FuzzCase, wire?: Wire): string {
  const m = c.mutation
    ? ` ${JSON.stringify(c.mutation, (_, v) => (typeof v === 'string' && v.length > 60 ? `${v.slice(0, 60)}…(${v.length})` : v))}`
    : '';
  const where = wire
    ? `${wire.method} ${wire.url.replace('http://fuzz.test', '').slice(0, 160)} (${wire.bodyBytes} body bytes)`
    : `${c.base.method} ${c.base.template}`;
  return `${c.base.operationId} [${c.base.source}${c.mutation ? `, ${c.mutation.m}` : ', valid'}, auth ${c.auth}] ${where}${m}`;
}
