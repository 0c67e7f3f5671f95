/**
 * Makes the signature a SavedModel version serves its `serving_default`, the one TensorFlow
 * Serving, Triton and KServe call: saved_model.pb's bytes are rewritten so that, in the meta graph
 * with the version's tags, the signature map (`signature_def`, read by the C++ loaders) and, in a
 * TF2 SavedModel, the object graph's signature map (read by Python's tf.saved_model.load) swap the
 * two names. The former `serving_default` stays, under the served signature's old name, so every
 * function keeps a name and the object graph stays whole. Every other byte is copied unchanged.
 *
 * Field numbers: SavedModel.meta_graphs = 2; MetaGraphDef.meta_info_def = 1 (tags = 4),
 * signature_def = 5 (map entry: key = 1), object_graph_def = 7; SavedObjectGraph.nodes = 1;
 * SavedObject.children = 1 and dependencies = 15 (ObjectReference: node_id = 1, local_name = 2).
 */

const DEFAULT = 'serving_default';
const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/** One field as it is in the message: its number, wire type, bytes (tag included) and, for LEN fields, the payload. */
interface Field {
  number: number;
  wire: number;
  raw: Uint8Array;
  payload?: Uint8Array;
}

class Malformed extends Error {}

/** saved_model.pb with `signature` renamed `serving_default` (and the old default renamed `signature`), or why not. */
export function resignSavedModel(savedModelPb: Uint8Array, signature: string, tags: string[]): Uint8Array | string {
  try {
    let found = false;
    const top = fields(savedModelPb).map((field) => {
      if (field.number !== 2 || !field.payload || !sameTags(tagsOf(field.payload), tags)) return field.raw;
      const resigned = resignMetaGraph(field.payload, signature);
      if (resigned) found = true;
      return resigned ? lenField(2, resigned) : field.raw;
    });
    if (!found) return `saved_model.pb has no signature '${signature}' in the meta graph tagged ${JSON.stringify(tags)}`;
    return concat(top);
  } catch (error) {
    if (error instanceof Malformed) return `saved_model.pb cannot be re-signed: ${error.message}`;
    throw error;
  }
}

function resignMetaGraph(meta: Uint8Array, signature: string): Uint8Array | undefined {
  let found = false;
  const out = fields(meta).map((field) => {
    if (field.number === 5 && field.payload) {
      const renamed = renameEntry(field.payload, 1, signature);
      if (renamed.matched === signature) found = true;
      return renamed.bytes ? lenField(5, renamed.bytes) : field.raw;
    }
    if (field.number === 7 && field.payload) return lenField(7, resignObjectGraph(field.payload, signature));
    return field.raw;
  });
  return found ? concat(out) : undefined;
}

/** Swaps the two names among the children of the root's `signatures` object (a TF2 SavedModel's signature map). */
function resignObjectGraph(graph: Uint8Array, signature: string): Uint8Array {
  const parts = fields(graph);
  const nodes = parts.filter((f) => f.number === 1 && f.payload);
  const root = nodes[0]?.payload;
  if (!root) return graph;
  const mapRef = fields(root)
    .filter((f) => f.number === 1 && f.payload)
    .map((f) => reference(f.payload!))
    .find((r) => r.name === 'signatures');
  const map = mapRef === undefined ? undefined : nodes[mapRef.id];
  if (!map) return graph;
  const renamedMap = concat(
    fields(map.payload!).map((field) => {
      if ((field.number !== 1 && field.number !== 15) || !field.payload) return field.raw;
      const renamed = renameEntry(field.payload, 2, signature);
      return renamed.bytes ? lenField(field.number, renamed.bytes) : field.raw;
    }),
  );
  return concat(parts.map((field) => (field === map ? lenField(1, renamedMap) : field.raw)));
}

/** In a message whose string field `nameField` names it: `signature` ↔ `serving_default`; other names untouched. */
function renameEntry(message: Uint8Array, nameField: number, signature: string): { matched?: string; bytes?: Uint8Array } {
  const parts = fields(message);
  const nameAt = parts.findIndex((f) => f.number === nameField && f.payload);
  if (nameAt < 0) return {};
  const name = text(parts[nameAt]!.payload!);
  const replacement = name === signature ? DEFAULT : name === DEFAULT ? signature : undefined;
  if (replacement === undefined) return {};
  const raw = parts.map((f, i) => (i === nameAt ? lenField(nameField, encoder.encode(replacement)) : f.raw));
  return { matched: name, bytes: concat(raw) };
}

function reference(message: Uint8Array): { id: number; name: string } {
  let id = 0;
  let name = '';
  for (const field of fields(message)) {
    if (field.number === 1 && field.wire === 0) id = Number(readVarint(field.raw, tagLength(field.raw)).value);
    if (field.number === 2 && field.payload) name = text(field.payload);
  }
  return { id, name };
}

function tagsOf(meta: Uint8Array): string[] {
  const info = fields(meta).find((f) => f.number === 1 && f.payload);
  if (!info) return [];
  return fields(info.payload!)
    .filter((f) => f.number === 4 && f.payload)
    .map((f) => text(f.payload!));
}

function sameTags(a: string[], b: string[]): boolean {
  return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
}

/** Splits a message into its fields, each length checked against the bytes that remain. */
function fields(bytes: Uint8Array): Field[] {
  const out: Field[] = [];
  let at = 0;
  while (at < bytes.length) {
    const start = at;
    const tag = readVarint(bytes, at);
    at = tag.next;
    const wire = Number(tag.value & 7n);
    const number = Number(tag.value >> 3n);
    let payload: Uint8Array | undefined;
    if (wire === 0) at = readVarint(bytes, at).next;
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const length = readVarint(bytes, at);
      const end = length.next + Number(length.value);
      if (end > bytes.length) throw new Malformed(`field ${number} claims more bytes than remain`);
      payload = bytes.subarray(length.next, end);
      at = end;
    } else throw new Malformed(`wire type ${wire} of field ${number}`);
    if (at > bytes.length) throw new Malformed(`field ${number} ends past the message`);
    out.push({ number, wire, raw: bytes.subarray(start, at), payload });
  }
  return out;
}

function readVarint(bytes: Uint8Array, at: number): { value: bigint; next: number } {
  let value = 0n;
  for (let shift = 0n; shift < 70n; shift += 7n) {
    if (at >= bytes.length) throw new Malformed('a varint runs past the end');
    const byte = bytes[at++]!;
    value |= BigInt(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return { value, next: at };
  }
  throw new Malformed('a varint longer than 10 bytes');
}

function tagLength(raw: Uint8Array): number {
  return readVarint(raw, 0).next;
}

function varint(value: number): Uint8Array {
  const out: number[] = [];
  let v = value;
  do {
    let byte = v & 0x7f;
    v = Math.floor(v / 128);
    if (v) byte |= 0x80;
    out.push(byte);
  } while (v);
  return Uint8Array.from(out);
}

function lenField(number: number, payload: Uint8Array): Uint8Array {
  return concat([varint((number << 3) | 2), varint(payload.length), payload]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function text(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new Malformed('a name is not UTF-8');
  }
}
