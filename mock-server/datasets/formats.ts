/**
 * Uploaded datasets, JSON lines and CSV, read into flat typed arrays. The formats are exactly
 * the ones openapi.yaml `createDataset` describes; every problem found becomes a `details` entry
 * (`/line/<n>/...`, 1-based) so a user can fix a file in one go rather than one error per upload.
 *
 * Read line by line in slices that yield to the event loop (records.ts), within the limits on
 * records, numbers, line and field length and distinct labels (413 `dataset_too_large` as soon as
 * one is passed). The format is simpler than general CSV (no quoted commas, quotes or line breaks),
 * so this scanner, not a CSV library, reads it and names each problem's line and column.
 */
import type { components } from 'modelport';
import { HttpError, type ErrorDetail } from '../http/errors';
import { type DatasetLimits, MAX_FIELD_CHARS, MAX_LINE_CHARS, Records, Slicer, tooLarge } from './records';

/** The formats a dataset can be uploaded in (openapi.yaml's `Dataset.format`, minus the built-ins'). */
export type DatasetFormat = Exclude<components['schemas']['Dataset']['format'], 'builtin'>;

export interface ParsedDataset {
  /** `samples × width` elements, sample after sample. */
  x: Float32Array;
  /** Class index (into `labels`) of each sample. */
  y: Int32Array;
  samples: number;
  width: number;
  labels: string[];
}

export interface ParseOptions {
  /** Declared class names, in class order; records must use them. */
  labels?: string[];
  limits: DatasetLimits;
}

const MAX_DETAILS = 20;
/** Plain decimal numbers only: what a CSV or JSON writer emits for finite values. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Collects problems; the first one's code names the whole error. */
class Problems {
  readonly details: ErrorDetail[] = [];
  private firstCode: components['schemas']['ErrorCode'] | undefined;
  private total = 0;

  add(code: components['schemas']['ErrorCode'], path: string, message: string): void {
    this.firstCode ??= code;
    this.total += 1;
    if (this.details.length < MAX_DETAILS) this.details.push({ path, message });
  }

  get full(): boolean {
    return this.total >= MAX_DETAILS;
  }

  throwIfAny(what: string): void {
    if (!this.total) return;
    // `/line/4/column/3` reads as "line 4 column 3" in the message; `details` keep the pointer.
    const shown = this.details
      .slice(0, 3)
      .map((d) => `${d.path.slice(1).split('/').join(' ') || 'body'}: ${d.message}`)
      .join('; ');
    const count = this.total >= MAX_DETAILS ? `at least ${MAX_DETAILS} problems` : `${this.total} problem${this.total > 1 ? 's' : ''}`;
    throw new HttpError(400, this.firstCode!, `${what}: ${count} (${shown}${this.total > 3 ? '; …' : ''})`, this.details);
  }
}

export async function parseDataset(format: DatasetFormat, bytes: Uint8Array, options: ParseOptions): Promise<ParsedDataset> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, format === 'csv' ? 'invalid_csv' : 'invalid_json_lines', 'the dataset is not valid UTF-8', [
      { path: '/', message: 'is not valid UTF-8' },
    ]);
  }
  const problems = new Problems();
  const records = new Records(options.limits);
  const labels = new LabelCheck(options.labels);
  if (format === 'csv') await readCsv(text, records, labels, problems);
  else await readJsonLines(text, records, labels, problems);
  labels.report(problems);
  problems.throwIfAny(format === 'csv' ? 'invalid CSV dataset' : 'invalid JSON lines dataset');
  if (records.samples === 0) {
    throw new HttpError(400, 'empty_dataset', 'the dataset has no records', [{ path: '/', message: 'holds no records' }]);
  }
  const classes = options.labels ?? deriveLabels(records.labelNames);
  return { x: records.elements(), y: records.classes(classes), samples: records.samples, width: records.width!, labels: classes };
}

/** Distinct labels in numeric order when all are non-negative integers, else in code-unit order. */
export function deriveLabels(labels: readonly string[]): string[] {
  const distinct = [...new Set(labels)];
  return distinct.every((l) => /^(0|[1-9]\d*)$/.test(l))
    ? distinct.sort((a, b) => Number(a) - Number(b))
    : distinct.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Labels outside the declared ones, reported after the records' own problems (as a second pass would). */
class LabelCheck {
  private readonly declared: Set<string> | undefined;
  private readonly found: { path: string; label: string }[] = [];

  constructor(private readonly labels: string[] | undefined) {
    this.declared = labels && new Set(labels);
  }

  accepts(label: string, path: string): boolean {
    if (!this.declared || this.declared.has(label)) return true;
    if (this.found.length < MAX_DETAILS) this.found.push({ path, label });
    return false;
  }

  report(problems: Problems): void {
    const shown = `${this.labels?.slice(0, 10).join(', ')}${(this.labels?.length ?? 0) > 10 ? ', …' : ''}`;
    for (const { path, label } of this.found) {
      problems.add('unknown_label', path, `label '${label}' is not one of the declared labels (${shown})`);
    }
  }
}

/**
 * The non-blank lines of `text`, one at a time, without splitting it whole (`\n` or `\r\n`; line
 * numbers count blank lines); a line longer than MAX_LINE_CHARS is refused before it is copied.
 */
function* lines(text: string): Generator<{ line: number; content: string }> {
  let line = 0;
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    line += 1;
    if (end - start > MAX_LINE_CHARS) {
      throw tooLarge(
        `line ${line} is ${(end - start).toLocaleString('en-US')} characters long; the limit is ${MAX_LINE_CHARS.toLocaleString('en-US')} characters per line`,
      );
    }
    const content = text.charCodeAt(end - 1) === 13 ? text.slice(start, end - 1) : text.slice(start, end);
    start = end + 1;
    if (content.trim() !== '') yield { line, content };
  }
}

async function readCsv(text: string, records: Records, labels: LabelCheck, problems: Problems): Promise<void> {
  let header: { line: number; fields: number; labelColumn: number; hasHeader: boolean } | undefined;
  let scratch = new Float32Array(0);
  const slicer = new Slicer();
  for (const { line, content } of lines(text)) {
    if (problems.full) break;
    if (slicer.due()) await slicer.pause();
    const cells = splitCsv(content, line, problems);
    if (!header) {
      if (!cells) return;
      const headerLabels = cells.map((f, i) => (f.toLowerCase() === 'label' ? i : -1)).filter((i) => i >= 0);
      if (headerLabels.length > 1) {
        problems.add(
          'invalid_csv',
          `/line/${line}`,
          `the header names ${headerLabels.length} columns 'label'; exactly one holds the labels`,
        );
        return;
      }
      if (cells.length < 2) {
        problems.add('invalid_csv', `/line/${line}`, 'a record needs at least one element and a label');
        return;
      }
      const hasHeader = headerLabels.length === 1;
      header = { line, fields: cells.length, labelColumn: hasHeader ? headerLabels[0]! : cells.length - 1, hasHeader };
      scratch = new Float32Array(cells.length - 1);
      if (hasHeader) continue;
    }
    if (!cells) continue;
    const { fields, labelColumn, hasHeader } = header;
    if (cells.length !== fields) {
      problems.add(
        'row_width_mismatch',
        `/line/${line}`,
        `expected ${fields} fields (${fields - 1} elements and a label${hasHeader ? ', as the header says' : `, as line ${header.line} has`}), found ${cells.length}`,
      );
      continue;
    }
    records.admit(fields - 1);
    let ok = true;
    let element = 0;
    for (let column = 0; column < cells.length; column++) {
      if (column === labelColumn) continue;
      const cell = cells[column]!;
      if (!DECIMAL.test(cell)) {
        problems.add('invalid_csv', `/line/${line}/column/${column + 1}`, `'${cell.slice(0, 40)}' is not a number`);
        ok = false;
      } else scratch[element++] = Number(cell);
    }
    const label = cells[labelColumn]!;
    const labelPath = `/line/${line}/column/${labelColumn + 1}`;
    if (label === '') {
      problems.add('invalid_csv', labelPath, 'the label is empty');
      ok = false;
    }
    if (ok && labels.accepts(label, labelPath)) records.add(scratch, label);
  }
}

/** Splits one CSV line; a field may be wrapped in double quotes that hold no comma, quote or line break. */
function splitCsv(content: string, line: number, problems: Problems): string[] | undefined {
  const cells: string[] = [];
  let bad = false;
  content.split(',').forEach((raw, column) => {
    if (raw.length > MAX_FIELD_CHARS + 2 && raw.trim().length > MAX_FIELD_CHARS + 2) {
      throw tooLarge(
        `line ${line} column ${column + 1} is ${raw.trim().length.toLocaleString('en-US')} characters long; the limit is ${MAX_FIELD_CHARS} characters per field`,
      );
    }
    const field = raw.trim();
    if (!field.includes('"')) return cells.push(field);
    if (field.length >= 2 && field.startsWith('"') && field.endsWith('"') && !field.slice(1, -1).includes('"'))
      return cells.push(field.slice(1, -1));
    problems.add(
      'invalid_csv',
      `/line/${line}/column/${column + 1}`,
      'a quoted field must be one "..." holding no comma, quote or line break',
    );
    bad = true;
  });
  return bad ? undefined : cells;
}

async function readJsonLines(text: string, records: Records, labels: LabelCheck, problems: Problems): Promise<void> {
  const slicer = new Slicer();
  for (const { line, content } of lines(text)) {
    if (problems.full) break;
    if (slicer.due()) await slicer.pause();
    const at = `/line/${line}`;
    let record: unknown;
    try {
      record = JSON.parse(content);
    } catch (error) {
      problems.add('invalid_json_lines', at, `is not JSON: ${(error as Error).message}`);
      continue;
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      problems.add('invalid_json_lines', at, 'must be an object {"tensor": [...], "label": ...}');
      continue;
    }
    const { tensor, label, ...extra } = record as Record<string, unknown>;
    let ok = true;
    for (const key of Object.keys(extra)) {
      problems.add('invalid_json_lines', `${at}/${key}`, 'is not allowed (a record has exactly "tensor" and "label")');
      ok = false;
    }
    if (!Array.isArray(tensor) || tensor.length === 0) {
      problems.add(
        'invalid_json_lines',
        `${at}/tensor`,
        tensor === undefined ? 'is required' : 'must be a non-empty flat array of numbers',
      );
      ok = false;
    } else {
      records.admit(tensor.length);
      const bad = tensor.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v));
      if (bad >= 0) {
        problems.add(
          'invalid_json_lines',
          `${at}/tensor/${bad}`,
          Array.isArray(tensor[bad])
            ? "must be a number (the tensor is flat; the dataset's shape says how to read it)"
            : 'must be a finite number',
        );
        ok = false;
      } else if (records.width !== undefined && tensor.length !== records.width) {
        problems.add('row_width_mismatch', `${at}/tensor`, `has ${tensor.length} elements; the first record has ${records.width}`);
        ok = false;
      }
    }
    let name: string | undefined;
    if (typeof label === 'string' && label !== '') name = label;
    else if (typeof label === 'number' && Number.isInteger(label)) name = String(label);
    else {
      problems.add('invalid_json_lines', `${at}/label`, label === undefined ? 'is required' : 'must be a non-empty string or an integer');
      ok = false;
    }
    if (name !== undefined && name.length > MAX_FIELD_CHARS) {
      throw tooLarge(
        `line ${line}: the label is ${name.length.toLocaleString('en-US')} characters long; the limit is ${MAX_FIELD_CHARS} characters`,
      );
    }
    if (ok && labels.accepts(name!, `${at}/label`)) records.add(tensor as number[], name!);
  }
}
