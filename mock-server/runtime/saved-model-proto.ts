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
  /** `asset_file_def`: the tensors the loader feeds with `<export dir>/assets/<filename>`. */
  assets: { tensor: string; filename: string }[];
  /** TF1 exports keep them in collection `saved_model_assets` (AssetFileDefs packed in Any); used when `assets` is empty. */
  collectionAssets: { tensor: string; filename: string }[];
}

/** How deeply attribute values may nest (NameAttrList → AttrValue → ...); real graphs use 1-2. */
export const MAX_ATTR_DEPTH = 8;

const LEN = 2;
const VARINT = 0;
const I64 = 1;
const I32 = 5;
const utf8 = new TextDecoder('utf-8');

class Malformed extends Error {}

/** One message's bytes; `origin` is where they start in saved_model.pb (for error messages). */
interface Bytes {
  buf: Uint8Array;
  origin: number;
}

/**
 * Reads one message's fields in order: `while (r.next()) switch (r.field) ...`. Each call reads
 * one field and skips its value unless asked for it; linear in the message's length, no
 * allocation per field (a graph has hundreds of thousands of them).
 */
class Reader {
  private at = 0;
  /** The current field's number, wire type and where its tag starts. */
  field = 0;
  wire = 0;
  private tagAt = 0;
  private valueAt = 0;
  private valueEnd = 0;

  constructor(private readonly message: Bytes) {}

  next(): boolean {
    const { buf, origin } = this.message;
    if (this.at >= buf.length) return false;
    this.tagAt = this.at;
    const tag = this.varint();
    this.field = Math.floor(tag / 8);
    this.wire = tag % 8;
    if (this.field === 0 || this.field > 0x1fffffff) throw new Malformed(`field number ${this.field} at byte ${origin + this.tagAt}`);
    if (this.wire === VARINT) {
      this.varint();
    } else if (this.wire === LEN) {
      const length = this.varint();
      if (length > buf.length - this.at) {
        throw new Malformed(`field ${this.field} at byte ${origin + this.tagAt} claims ${length} bytes; ${buf.length - this.at} remain`);
      }
      this.valueAt = this.at;
      this.valueEnd = this.at + length;
      this.at = this.valueEnd;
    } else if (this.wire === I64 || this.wire === I32) {
      const size = this.wire === I64 ? 8 : 4;
      if (size > buf.length - this.at) throw new Malformed(`a ${size}-byte field runs past the end at byte ${origin + this.tagAt}`);
      this.at += size;
    } else {
      throw new Malformed(`wire type ${this.wire} (field ${this.field}) at byte ${origin + this.tagAt}`);
    }
    return true;
  }

  /** The current field's bytes, which must be length-delimited (a string, bytes or a message). */
  bytes(what: string): Bytes {
    if (this.wire !== LEN) {
      throw new Malformed(
        `${what} (field ${this.field}) has wire type ${this.wire}, not length-delimited, at byte ${this.message.origin + this.tagAt}`,
      );
    }
    return { buf: this.message.buf.subarray(this.valueAt, this.valueEnd), origin: this.message.origin + this.valueAt };
  }

  text(what: string): string {
    return decode(this.bytes(what).buf);
  }

  private varint(): number {
    const { buf, origin } = this.message;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.at >= buf.length) throw new Malformed(`a varint runs past the end at byte ${origin + this.at}`);
      const byte = buf[this.at++]!;
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if (!(byte & 0x80)) return value;
    }
    throw new Malformed(`a varint is longer than 10 bytes at byte ${origin + this.at}`);
  }
}

/** UTF-8 text; short ASCII (names, ops: nearly all strings here) without TextDecoder's per-call cost. */
function decode(bytes: Uint8Array): string {
  if (bytes.length > 64) return utf8.decode(bytes);
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte > 0x7f) return utf8.decode(bytes);
    out += String.fromCharCode(byte);
  }
  return out;
}

/** map<string, V> entries: key = 1, value = 2. */
function mapEntry(entry: Bytes, what: string): { key: string; value?: Bytes } {
  let key = '';
  let value: Bytes | undefined;
  const r = new Reader(entry);
  while (r.next()) {
    if (r.field === 1) key = r.text(`${what} key`);
    else if (r.field === 2) value = r.bytes(`${what} value`);
  }
  return { key, value };
}

/**
 * Parses saved_model.pb. Throws a 400 `invalid_model` naming the first problem when the bytes are
 * not a protobuf of this shape; never reads past the buffer, never loops without consuming bytes.
 */
export function parseSavedModel(savedModelPb: Uint8Array): MetaGraph[] {
  const metaGraphs: MetaGraph[] = [];
  try {
    const r = new Reader({ buf: savedModelPb, origin: 0 });
    while (r.next()) if (r.field === 2) metaGraphs.push(metaGraph(r.bytes('meta_graphs')));
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
  const graph: MetaGraph = {
    tags: [],
    nodes: [],
    functions: [],
    nodeLists: new Map(),
    signatures: new Map(),
    assets: [],
    collectionAssets: [],
  };
  const r = new Reader(bytes);
  while (r.next()) {
    switch (r.field) {
      case 1: {
        // meta_info_def { tags = 4 }
        const info = new Reader(r.bytes('meta_info_def'));
        while (info.next()) if (info.field === 4) graph.tags.push(info.text('tags'));
        break;
      }
      case 2:
        graphDef(r.bytes('graph_def'), graph);
        break;
      case 3: {
        const saver = { filenameTensor: '', saveTensor: '', restoreOp: '' };
        const s = new Reader(r.bytes('saver_def'));
        while (s.next()) {
          if (s.field === 1) saver.filenameTensor = s.text('filename_tensor_name');
          else if (s.field === 2) saver.saveTensor = s.text('save_tensor_name');
          else if (s.field === 3) saver.restoreOp = s.text('restore_op_name');
        }
        graph.saver = saver;
        break;
      }
      case 4: {
        // collection_def: map<string, CollectionDef { node_list = 1 { value = 1 }, any_list = 5 { value = 1 Any } }>
        const { key, value } = mapEntry(r.bytes('collection_def'), 'collection_def');
        if (!value) break;
        const c = new Reader(value);
        while (c.next()) {
          if (c.field === 1) {
            const names = graph.nodeLists.get(key) ?? [];
            const list = new Reader(c.bytes('node_list'));
            while (list.next()) if (list.field === 1) names.push(list.text('node_list value'));
            graph.nodeLists.set(key, names);
          } else if (c.field === 5 && key === 'saved_model_assets') {
            const list = new Reader(c.bytes('any_list'));
            while (list.next()) if (list.field === 1) graph.collectionAssets.push(assetInAny(list.bytes('any_list value')));
          }
        }
        break;
      }
      case 5: {
        // signature_def: map<string, SignatureDef { inputs = 1, outputs = 2: map<string, TensorInfo> }>
        const { key, value } = mapEntry(r.bytes('signature_def'), 'signature_def');
        const signature = { inputs: [] as string[], outputs: [] as string[] };
        const s = new Reader(value ?? { buf: new Uint8Array(0), origin: 0 });
        while (s.next()) {
          if (s.field !== 1 && s.field !== 2) continue;
          const entry = mapEntry(s.bytes('signature tensor'), 'signature tensor');
          if (entry.value) (s.field === 1 ? signature.inputs : signature.outputs).push(...tensorInfoNames(entry.value, 0));
        }
        graph.signatures.set(key, signature);
        break;
      }
      case 6:
        graph.assets.push(assetFileDef(r.bytes('asset_file_def')));
        break;
    }
  }
  return graph;
}

/** AssetFileDef: tensor_info = 1, filename = 2. */
function assetFileDef(bytes: Bytes): { tensor: string; filename: string } {
  const asset = { tensor: '', filename: '' };
  const a = new Reader(bytes);
  while (a.next()) {
    if (a.field === 1) asset.tensor = tensorInfoNames(a.bytes('tensor_info'), 0)[0] ?? '';
    else if (a.field === 2) asset.filename = a.text('asset filename');
  }
  return asset;
}

/** google.protobuf.Any { type_url = 1, value = 2 } holding an AssetFileDef (anything else is malformed, as TensorFlow's loader says too). */
function assetInAny(bytes: Bytes): { tensor: string; filename: string } {
  let type = '';
  let value: Bytes = { buf: new Uint8Array(0), origin: bytes.origin };
  const r = new Reader(bytes);
  while (r.next()) {
    if (r.field === 1) type = r.text('Any type_url');
    else if (r.field === 2) value = r.bytes('Any value');
  }
  if (!type.endsWith('/tensorflow.AssetFileDef'))
    throw new Malformed(`collection saved_model_assets holds a '${type}', not an AssetFileDef, at byte ${bytes.origin}`);
  return assetFileDef(value);
}

/** TensorInfo: name = 1, coo_sparse = 4 { values, indices, dense_shape = 1..3 }, composite_tensor = 5 { components = 2 }. */
function tensorInfoNames(bytes: Bytes, depth: number): string[] {
  if (depth > MAX_ATTR_DEPTH) throw new Malformed(`tensor infos nest deeper than ${MAX_ATTR_DEPTH} levels at byte ${bytes.origin}`);
  const names: string[] = [];
  const t = new Reader(bytes);
  while (t.next()) {
    if (t.field === 1) names.push(t.text('tensor name'));
    else if (t.field === 4) {
      const c = new Reader(t.bytes('coo_sparse'));
      while (c.next()) if (c.field >= 1 && c.field <= 3) names.push(c.text('coo_sparse tensor name'));
    } else if (t.field === 5) {
      const c = new Reader(t.bytes('composite_tensor'));
      while (c.next()) if (c.field === 2) names.push(...tensorInfoNames(c.bytes('component'), depth + 1));
    }
  }
  return names;
}

/** GraphDef: node = 1, library = 2 { function = 1 }. */
function graphDef(bytes: Bytes, graph: MetaGraph): void {
  const r = new Reader(bytes);
  while (r.next()) {
    if (r.field === 1) graph.nodes.push(nodeDef(r.bytes('node')));
    else if (r.field === 2) {
      const library = new Reader(r.bytes('library'));
      while (library.next()) if (library.field === 1) graph.functions.push(functionDef(library.bytes('function')));
    }
  }
}

/** FunctionDef: signature = 1 OpDef { name = 1, input_arg = 2 ArgDef }, node_def = 3. */
function functionDef(bytes: Bytes): FunctionDef {
  const fn: FunctionDef = { name: '', inputArgs: [], nodes: [] };
  const r = new Reader(bytes);
  while (r.next()) {
    if (r.field === 1) {
      const s = new Reader(r.bytes('signature'));
      while (s.next()) {
        if (s.field === 1) fn.name = s.text('function name');
        else if (s.field === 2) fn.inputArgs.push(argDef(s.bytes('input_arg')));
      }
    } else if (r.field === 3) fn.nodes.push(nodeDef(r.bytes('node_def')));
  }
  return fn;
}

/** ArgDef: name = 1, number_attr = 5, type_list_attr = 6 (either makes the argument a list). */
function argDef(bytes: Bytes): { name: string; single: boolean } {
  const arg = { name: '', single: true };
  const r = new Reader(bytes);
  while (r.next()) {
    if (r.field === 1) arg.name = r.text('argument name');
    else if ((r.field === 5 || r.field === 6) && r.text('argument list attr') !== '') arg.single = false;
  }
  return arg;
}

/** NodeDef: name = 1, op = 2, input = 3, attr = 5 map<string, AttrValue>. */
function nodeDef(bytes: Bytes): NodeDef {
  const node: NodeDef = { name: '', op: '', inputs: [], calls: [] };
  const r = new Reader(bytes);
  while (r.next()) {
    if (r.field === 1) node.name = r.text('node name');
    else if (r.field === 2) node.op = r.text('op');
    else if (r.field === 3) node.inputs.push(r.text('input'));
    else if (r.field === 5) {
      const { key, value } = mapEntry(r.bytes('attr'), 'attr');
      if (!value) continue;
      const s = attrValue(value, 0, node.calls);
      if (key === 'shared_name' && s) node.sharedName = decode(s.buf);
    }
  }
  return node;
}

/**
 * AttrValue: list = 1 ListValue { func = 9 }, s = 2, func = 10 NameAttrList { name = 1, attr = 2 }.
 * Appends every function it names to `calls`; returns the bytes of `s` when set (for `shared_name`).
 */
function attrValue(bytes: Bytes, depth: number, calls: string[]): Bytes | undefined {
  if (depth > MAX_ATTR_DEPTH) throw new Malformed(`attribute values nest deeper than ${MAX_ATTR_DEPTH} levels at byte ${bytes.origin}`);
  let s: Bytes | undefined;
  const r = new Reader(bytes);
  while (r.next()) {
    if (r.field === 2) s = r.bytes('attr s');
    else if (r.field === 10) nameAttrList(r.bytes('func'), depth, calls);
    else if (r.field === 1) {
      const list = new Reader(r.bytes('list'));
      while (list.next()) if (list.field === 9) nameAttrList(list.bytes('list func'), depth, calls);
    }
  }
  return s;
}

function nameAttrList(bytes: Bytes, depth: number, calls: string[]): void {
  const r = new Reader(bytes);
  while (r.next()) {
    if (r.field === 1) calls.push(r.text('function name'));
    else if (r.field === 2) {
      const { value } = mapEntry(r.bytes('func attr'), 'func attr');
      if (value) attrValue(value, depth + 1, calls);
    }
  }
}
