/**
 * A bounded protobuf reader for the parts of saved_model.pb that the op policy needs: each meta
 * graph's tags, nodes (name, op, inputs, the functions their attributes name), function library,
 * saver, init-op collections, signatures and assets. Nothing else is decoded.
 *
 * Written by hand, like graph-protobuf.ts's writer, because the input is hostile: every length is
 * checked against the bytes that remain, every byte is read once per level it sits in, and the
 * only recursive message (an attribute naming functions with attributes of their own) stops at a
 * fixed depth. A malformed file is an `invalid_model` 400 after at most one pass over its bytes.
 * Field numbers are those of tensorflow/core/protobuf/{saved_model,meta_graph,saver}.proto and
 * tensorflow/core/framework/{graph,node_def,function,op_def,attr_value}.proto.
 */
import { badRequest } from '../http/errors';

export interface NodeDef {
  name: string;
  op: string;
  /** As written: `node`, `node:1` (graphs), `node:output:0` or `arg` (functions), `^node` (control). */
  inputs: string[];
  /** Functions named by the node's attributes (`f`, `body`, `then_branch`, `branches`, nested ones). */
  calls: string[];
  /** The `shared_name` attribute (variables, tables), if any. */
  sharedName?: string;
}

export interface FunctionDef {
  name: string;
  /** Input arguments in order; `single` is false for lists (`number_attr`, `type_list_attr`). */
  inputArgs: { name: string; single: boolean }[];
  nodes: NodeDef[];
}

export interface MetaGraph {
  tags: string[];
  nodes: NodeDef[];
  functions: FunctionDef[];
  saver?: { filenameTensor: string; saveTensor: string; restoreOp: string };
  /** Collections that are node lists (`saved_model_main_op`, `legacy_init_op`, ...), by key. */
  nodeLists: Map<string, string[]>;
  /** Signature key → the graph tensor names of its inputs and outputs. */
  signatures: Map<string, { inputs: string[]; outputs: string[] }>;
  assets: { tensor: string; filename: string }[];
}

/** How deeply attribute values may nest (NameAttrList → AttrValue → ...); real graphs use 1-2. */
export const MAX_ATTR_DEPTH = 8;

const LEN = 2;
const VARINT = 0;
const I64 = 1;
const I32 = 5;
const utf8 = new TextDecoder('utf-8');

class Malformed extends Error {}

/** One message's bytes; `origin` is where they start in saved_model.pb (for messages). */
interface Bytes {
  buf: Uint8Array;
  origin: number;
}

type Field = { field: number; wire: number; bytes: Bytes; varint: number };

/** Calls `visit` for each field of the message, in order. Linear in the message's length. */
function forEachField(message: Bytes, visit: (f: Field) => void): void {
  const { buf, origin } = message;
  let at = 0;
  const readVarint = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (at >= buf.length) throw new Malformed(`a varint runs past the end at byte ${origin + at}`);
      const byte = buf[at++]!;
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if (!(byte & 0x80)) return value;
    }
    throw new Malformed(`a varint is longer than 10 bytes at byte ${origin + at}`);
  };
  while (at < buf.length) {
    const tagAt = at;
    const tag = readVarint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 0 || field > 0x1fffffff) throw new Malformed(`field number ${field} at byte ${origin + tagAt}`);
    if (wire === VARINT) {
      visit({ field, wire, bytes: { buf: EMPTY, origin: 0 }, varint: readVarint() });
    } else if (wire === LEN) {
      const length = readVarint();
      if (length > buf.length - at) {
        throw new Malformed(`field ${field} at byte ${origin + tagAt} claims ${length} bytes; ${buf.length - at} remain`);
      }
      visit({ field, wire, bytes: { buf: buf.subarray(at, at + length), origin: origin + at }, varint: 0 });
      at += length;
    } else if (wire === I64 || wire === I32) {
      const size = wire === I64 ? 8 : 4;
      if (size > buf.length - at) throw new Malformed(`a ${size}-byte field runs past the end at byte ${origin + tagAt}`);
      at += size;
    } else {
      throw new Malformed(`wire type ${wire} (field ${field}) at byte ${origin + tagAt}`);
    }
  }
}

const EMPTY = new Uint8Array(0);

function expectLen(f: Field, what: string): Bytes {
  if (f.wire !== LEN)
    throw new Malformed(`${what} (field ${f.field}) has wire type ${f.wire}, not length-delimited, at byte ${f.bytes.origin}`);
  return f.bytes;
}

const text = (f: Field, what: string) => utf8.decode(expectLen(f, what).buf);

/** map<string, V> entries: key = 1, value = 2. */
function mapEntry(f: Field, what: string): { key: string; value?: Bytes } {
  let key = '';
  let value: Bytes | undefined;
  forEachField(expectLen(f, what), (e) => {
    if (e.field === 1) key = text(e, `${what} key`);
    else if (e.field === 2) value = expectLen(e, `${what} value`);
  });
  return { key, value };
}

/**
 * Parses saved_model.pb. Throws a 400 `invalid_model` naming the first problem when the bytes are
 * not a protobuf of this shape; never reads past the buffer, never loops without consuming bytes.
 */
export function parseSavedModel(savedModelPb: Uint8Array): MetaGraph[] {
  const metaGraphs: MetaGraph[] = [];
  try {
    forEachField({ buf: savedModelPb, origin: 0 }, (f) => {
      if (f.field === 2) metaGraphs.push(metaGraph(expectLen(f, 'meta_graphs')));
    });
  } catch (error) {
    if (!(error instanceof Malformed)) throw error;
    throw badRequest(
      `saved_model.pb is not a valid SavedModel protobuf: ${error.message}`,
      [{ path: '/saved_model.pb', message: error.message }],
      'invalid_model',
    );
  }
  return metaGraphs;
}

function metaGraph(bytes: Bytes): MetaGraph {
  const graph: MetaGraph = { tags: [], nodes: [], functions: [], nodeLists: new Map(), signatures: new Map(), assets: [] };
  forEachField(bytes, (f) => {
    switch (f.field) {
      case 1: // meta_info_def { tags = 4 }
        forEachField(expectLen(f, 'meta_info_def'), (m) => {
          if (m.field === 4) graph.tags.push(text(m, 'tags'));
        });
        break;
      case 2:
        graphDef(expectLen(f, 'graph_def'), graph);
        break;
      case 3: {
        const saver = { filenameTensor: '', saveTensor: '', restoreOp: '' };
        forEachField(expectLen(f, 'saver_def'), (s) => {
          if (s.field === 1) saver.filenameTensor = text(s, 'filename_tensor_name');
          else if (s.field === 2) saver.saveTensor = text(s, 'save_tensor_name');
          else if (s.field === 3) saver.restoreOp = text(s, 'restore_op_name');
        });
        graph.saver = saver;
        break;
      }
      case 4: {
        // collection_def: map<string, CollectionDef { node_list = 1 { value = 1 } }>
        const { key, value } = mapEntry(f, 'collection_def');
        if (!value) break;
        forEachField(value, (c) => {
          if (c.field !== 1) return;
          const names = graph.nodeLists.get(key) ?? [];
          forEachField(expectLen(c, 'node_list'), (n) => {
            if (n.field === 1) names.push(text(n, 'node_list value'));
          });
          graph.nodeLists.set(key, names);
        });
        break;
      }
      case 5: {
        // signature_def: map<string, SignatureDef { inputs = 1, outputs = 2: map<string, TensorInfo> }>
        const { key, value } = mapEntry(f, 'signature_def');
        const signature = { inputs: [] as string[], outputs: [] as string[] };
        if (value) {
          forEachField(value, (s) => {
            if (s.field !== 1 && s.field !== 2) return;
            const entry = mapEntry(s, 'signature tensor');
            if (entry.value) (s.field === 1 ? signature.inputs : signature.outputs).push(...tensorInfoNames(entry.value, 0));
          });
        }
        graph.signatures.set(key, signature);
        break;
      }
      case 6: {
        // asset_file_def: AssetFileDef { tensor_info = 1, filename = 2 }
        const asset = { tensor: '', filename: '' };
        forEachField(expectLen(f, 'asset_file_def'), (a) => {
          if (a.field === 1) asset.tensor = tensorInfoNames(expectLen(a, 'tensor_info'), 0)[0] ?? '';
          else if (a.field === 2) asset.filename = text(a, 'asset filename');
        });
        graph.assets.push(asset);
        break;
      }
    }
  });
  return graph;
}

/** TensorInfo: name = 1, coo_sparse = 4 { values, indices, dense_shape = 1..3 }, composite_tensor = 5 { components = 2 }. */
function tensorInfoNames(bytes: Bytes, depth: number): string[] {
  if (depth > MAX_ATTR_DEPTH) throw new Malformed(`tensor infos nest deeper than ${MAX_ATTR_DEPTH} levels at byte ${bytes.origin}`);
  const names: string[] = [];
  forEachField(bytes, (t) => {
    if (t.field === 1) names.push(text(t, 'tensor name'));
    else if (t.field === 4)
      forEachField(expectLen(t, 'coo_sparse'), (c) => {
        if (c.field >= 1 && c.field <= 3) names.push(text(c, 'coo_sparse tensor name'));
      });
    else if (t.field === 5)
      forEachField(expectLen(t, 'composite_tensor'), (c) => {
        if (c.field === 2) names.push(...tensorInfoNames(expectLen(c, 'component'), depth + 1));
      });
  });
  return names;
}

/** GraphDef: node = 1, library = 2 { function = 1 }. */
function graphDef(bytes: Bytes, graph: MetaGraph): void {
  forEachField(bytes, (f) => {
    if (f.field === 1) graph.nodes.push(nodeDef(expectLen(f, 'node')));
    else if (f.field === 2)
      forEachField(expectLen(f, 'library'), (l) => {
        if (l.field === 1) graph.functions.push(functionDef(expectLen(l, 'function')));
      });
  });
}

/** FunctionDef: signature = 1 OpDef { name = 1, input_arg = 2 ArgDef }, node_def = 3. */
function functionDef(bytes: Bytes): FunctionDef {
  const fn: FunctionDef = { name: '', inputArgs: [], nodes: [] };
  forEachField(bytes, (f) => {
    if (f.field === 1) {
      forEachField(expectLen(f, 'signature'), (s) => {
        if (s.field === 1) fn.name = text(s, 'function name');
        else if (s.field === 2) fn.inputArgs.push(argDef(expectLen(s, 'input_arg')));
      });
    } else if (f.field === 3) fn.nodes.push(nodeDef(expectLen(f, 'node_def')));
  });
  return fn;
}

/** ArgDef: name = 1, number_attr = 5, type_list_attr = 6 (either makes the argument a list). */
function argDef(bytes: Bytes): { name: string; single: boolean } {
  const arg = { name: '', single: true };
  forEachField(bytes, (a) => {
    if (a.field === 1) arg.name = text(a, 'argument name');
    else if ((a.field === 5 || a.field === 6) && text(a, 'argument list attr') !== '') arg.single = false;
  });
  return arg;
}

/** NodeDef: name = 1, op = 2, input = 3, attr = 5 map<string, AttrValue>. */
function nodeDef(bytes: Bytes): NodeDef {
  const node: NodeDef = { name: '', op: '', inputs: [], calls: [] };
  forEachField(bytes, (f) => {
    if (f.field === 1) node.name = text(f, 'node name');
    else if (f.field === 2) node.op = text(f, 'op');
    else if (f.field === 3) node.inputs.push(text(f, 'input'));
    else if (f.field === 5) {
      const { key, value } = mapEntry(f, 'attr');
      if (!value) return;
      const s = attrValue(value, 0, node.calls);
      if (key === 'shared_name' && s) node.sharedName = utf8.decode(s.buf);
    }
  });
  return node;
}

/**
 * AttrValue: list = 1 ListValue { func = 9 }, s = 2, func = 10 NameAttrList { name = 1, attr = 2 }.
 * Appends every function it names to `calls`; returns the bytes of `s` when set (for `shared_name`).
 */
function attrValue(bytes: Bytes, depth: number, calls: string[]): Bytes | undefined {
  if (depth > MAX_ATTR_DEPTH) throw new Malformed(`attribute values nest deeper than ${MAX_ATTR_DEPTH} levels at byte ${bytes.origin}`);
  let s: Bytes | undefined;
  forEachField(bytes, (f) => {
    if (f.field === 2) s = expectLen(f, 'attr s');
    else if (f.field === 10) nameAttrList(expectLen(f, 'func'), depth, calls);
    else if (f.field === 1)
      forEachField(expectLen(f, 'list'), (l) => {
        if (l.field === 9) nameAttrList(expectLen(l, 'list func'), depth, calls);
      });
  });
  return s;
}

function nameAttrList(bytes: Bytes, depth: number, calls: string[]): void {
  forEachField(bytes, (n) => {
    if (n.field === 1) calls.push(text(n, 'function name'));
    else if (n.field === 2) {
      const { value } = mapEntry(n, 'func attr');
      if (value) attrValue(value, depth + 1, calls);
    }
  });
}
