/**
 * Upload preflight (#20): every op of a SavedModel must be an op of the TensorFlow that serves it.
 * A custom op (one its own kernel library registers) cannot load here, and would not run on Triton
 * or TF Serving without that library either, so it is refused at upload, trusted or not.
 */
import { HttpError } from '../http/errors';
import type { MetaGraph, NodeDef } from './saved-model-proto';
import { TENSORFLOW_OP_NAMES, TENSORFLOW_VERSION_OF_OPS } from './tensorflow-op-names';

/** How many refused nodes an error's `details` lists. */
export const MAX_DETAILS = 20;

export interface Violation {
  op: string;
  node: string;
  /** The function holding the node; undefined for the top graph. */
  fn?: string;
  reason: string;
}

/** Throws 400 `unsupported_op` when a node of the meta graphs uses an op TensorFlow does not have. */
export function refuseUnknownOps(graphs: MetaGraph[]): void {
  const unknown = graphs.flatMap(unknownOps);
  if (unknown.length) throw unsupported(unknown);
}

/**
 * Nodes whose op is neither a function of the library nor an op of TensorFlow's registry: a custom
 * op, whose kernel library neither this server nor Triton's or TF Serving's TensorFlow has.
 */
function unknownOps(graph: MetaGraph): Violation[] {
  const functions = new Set(graph.functions.map((f) => f.name));
  const known = (node: NodeDef) => TENSORFLOW_OP_NAMES.has(node.op) || functions.has(node.op);
  return [
    ...graph.nodes.filter((node) => !known(node)).map((node) => ({ op: node.op, node: node.name, reason: '' })),
    ...graph.functions.flatMap((fn) =>
      fn.nodes.filter((node) => !known(node)).map((node) => ({ op: node.op, node: node.name, fn: fn.name, reason: '' })),
    ),
  ];
}

function unsupported(violations: Violation[]): HttpError {
  const ops = [...new Set(violations.map((v) => v.op))];
  const first = violations[0]!;
  const where = first.fn === undefined ? 'in the top graph' : `function '${first.fn}'`;
  return new HttpError(
    400,
    'unsupported_op',
    `op '${first.op}' (node '${first.node}', ${where}) is not an op of TensorFlow ${TENSORFLOW_VERSION_OF_OPS}` +
      `${
        ops.length > 1
          ? ` (nor are ${ops
              .slice(1)
              .map((op) => `'${op}'`)
              .join(', ')})`
          : ''
      }: a custom op needs its kernel library, ` +
      'which this server cannot load, and Triton or TF Serving would need it too',
    violations
      .slice(0, MAX_DETAILS)
      .map((v) => ({ path: nodePointer(v), message: `op '${v.op}' is not an op of TensorFlow ${TENSORFLOW_VERSION_OF_OPS}` })),
  );
}

/** One JSON pointer segment (RFC 6901): node names hold '/'. */
const pointer = (segment: string) => segment.replaceAll('~', '~0').replaceAll('/', '~1');

export const nodePointer = (v: Violation) =>
  v.fn === undefined ? `/saved_model.pb/graph/${pointer(v.node)}` : `/saved_model.pb/functions/${pointer(v.fn)}/${pointer(v.node)}`;
