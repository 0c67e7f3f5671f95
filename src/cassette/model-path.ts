/**
 * The model and version an Open Inference Protocol path names: `/v2/models/<m>[/versions/<v>][/...]`.
 * Shared by the recorders (the model block of an interaction) and the drift report (where an infer
 * request goes), so that both read a path the same way.
 */

export interface ModelRef {
  name: string;
  /** A version number (or alias) as the path names it, or null for the server's default. */
  version: string | null;
}

const MODEL_PATH = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/.*)?$/;

/** The model and version a raw request path names, percent-decoded; undefined for other paths and malformed escapes. */
export function modelOfPath(rawPath: string): ModelRef | undefined {
  return readModelPath(rawPath)?.model;
}

/** The model and version of an infer path (`.../infer`), or undefined for any other path. */
export function inferPathModel(rawPath: string): ModelRef | undefined {
  const read = readModelPath(rawPath);
  return read?.rest === '/infer' ? read.model : undefined;
}

/** The metadata path of a model and version, as `modelOfPath` reads it. */
export function metadataPath(model: ModelRef): string {
  const version = model.version === null ? '' : `/versions/${encodeURIComponent(model.version)}`;
  return `/v2/models/${encodeURIComponent(model.name)}${version}`;
}

/** The infer path of a model and version. */
export function inferPath(model: ModelRef): string {
  return `${metadataPath(model)}/infer`;
}

function readModelPath(rawPath: string): { model: ModelRef; rest: string } | undefined {
  const match = MODEL_PATH.exec(rawPath);
  if (!match) return undefined;
  try {
    const model = { name: decodeURIComponent(match[1]!), version: match[2] === undefined ? null : decodeURIComponent(match[2]) };
    return { model, rest: match[3] ?? '' };
  } catch {
    return undefined; // a malformed escape: the server will say what it thinks of the path
  }
}
