/**
 * Uploaded datasets, JSON lines and CSV, read into flat typed arrays. The formats are exactly
 * the ones openapi.yaml `createDataset` describes; every problem found becomes a `details` entry
 * (`/line/<n>/...`, 1-based) so a user can fix a file in one go rather than one error per upload.
 */
import type { components } from 'modelport';
import { HttpError, type ErrorDetail } from '../http/errors';

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

/** One record as read, before labels become class indices. */
interface Row {
  line: number;
  values: number[];
  label: string;
  /** Where the label sits, for `unknown_label` details. */
  labelPath: string;
}

export function parseDataset(format: DatasetFormat, bytes: Uint8Array, options: ParseOptions = {}): ParsedDataset {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, format === 'csv' ? 'invalid_csv' : 'invalid_json_lines', 'the dataset is not valid UTF-8', [
      { path: '/', message: 'is not valid UTF-8' },
    ]);
  }
  const problems = new Problems();
  const rows = format === 'csv' ? readCsv(text, problems) : readJsonLines(text, problems);
  if (options.labels) {
    const declared = new Set(options.labels);
    for (const row of rows) {
      if (!declared.has(row.label))
        problems.add(
          'unknown_label',
          row.labelPath,
          `label '${row.label}' is not one of the declared labels (${options.labels.slice(0, 10).join(', ')}${options.labels.length > 10 ? ', …' : ''})`,
        );
    }
  }
  problems.throwIfAny(format === 'csv' ? 'invalid CSV dataset' : 'invalid JSON lines dataset');
  if (rows.length === 0) {
    throw new HttpError(400, 'empty_dataset', 'the dataset has no records', [{ path: '/', message: 'holds no records' }]);
  }
  const labels = options.labels ?? deriveLabels(rows.map((r) => r.label));
  const index = new Map(labels.map((label, i) => [label, i]));
  const width = rows[0]!.values.length;
  const x = new Float32Array(rows.length * width);
  const y = new Int32Array(rows.length);
  rows.forEach((row, i) => {
    x.set(row.values, i * width);
    y[i] = index.get(row.label)!;
  });
  return { x, y, samples: rows.length, width, labels };
}

/** Distinct labels in numeric order when all are non-negative integers, else in code-unit order. */
export function deriveLabels(labels: readonly string[]): string[] {
  const distinct = [...new Set(labels)];
  return distinct.every((l) => /^(0|[1-9]\d*)$/.test(l))
    ? distinct.sort((a, b) => Number(a) - Number(b))
    : distinct.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function lines(text: string): { line: number; content: string }[] {
  const out: { line: number; content: string }[] = [];
  text.split('\n').forEach((raw, i) => {
    const content = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (content.trim() !== '') out.push({ line: i + 1, content });
  });
  return out;
}

function readCsv(text: string, problems: Problems): Row[] {
  const all = lines(text);
  if (all.length === 0) return [];
  const first = splitCsv(all[0]!.content, all[0]!.line, problems);
  if (!first) return [];
  const headerLabels = first.map((f, i) => (f.toLowerCase() === 'label' ? i : -1)).filter((i) => i >= 0);
  if (headerLabels.length > 1) {
    problems.add(
      'invalid_csv',
      `/line/${all[0]!.line}`,
      `the header names ${headerLabels.length} columns 'label'; exactly one holds the labels`,
    );
    return [];
  }
  const hasHeader = headerLabels.length === 1;
  const fields = first.length;
  const labelColumn = hasHeader ? headerLabels[0]! : fields - 1;
  if (fields < 2) {
    problems.add('invalid_csv', `/line/${all[0]!.line}`, 'a record needs at least one element and a label');
    return [];
  }
  const rows: Row[] = [];
  for (const { line, content } of hasHeader ? all.slice(1) : all) {
    if (problems.full) break;
    const cells = splitCsv(content, line, problems);
    if (!cells) continue;
    if (cells.length !== fields) {
      problems.add(
        'row_width_mismatch',
        `/line/${line}`,
        `expected ${fields} fields (${fields - 1} elements and a label${hasHeader ? ', as the header says' : ', as line ' + all[0]!.line + ' has'}), found ${cells.length}`,
      );
      continue;
    }
    const values: number[] = [];
    let ok = true;
    cells.forEach((cell, column) => {
      if (column === labelColumn) return;
      if (!DECIMAL.test(cell)) {
        problems.add('invalid_csv', `/line/${line}/column/${column + 1}`, `'${cell.slice(0, 40)}' is not a number`);
        ok = false;
      } else values.push(Number(cell));
    });
    const label = cells[labelColumn]!;
    if (label === '') {
      problems.add('invalid_csv', `/line/${line}/column/${labelColumn + 1}`, 'the label is empty');
      ok = false;
    }
    if (ok) rows.push({ line, values, label, labelPath: `/line/${line}/column/${labelColumn + 1}` });
  }
  return rows;
}

/** Splits one CSV line; a field may be wrapped in double quotes that hold no comma, quote or line break. */
function splitCsv(content: string, line: number, problems: Problems): string[] | undefined {
  const cells: string[] = [];
  let bad = false;
  content.split(',').forEach((raw, column) => {
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

function readJsonLines(text: string, problems: Problems): Row[] {
  const rows: Row[] = [];
  let width: number | undefined;
  for (const { line, content } of lines(text)) {
    if (problems.full) break;
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
      } else if (width !== undefined && tensor.length !== width) {
        problems.add('row_width_mismatch', `${at}/tensor`, `has ${tensor.length} elements; the first record has ${width}`);
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
    if (!ok) continue;
    width ??= (tensor as number[]).length;
    rows.push({ line, values: tensor as number[], label: name!, labelPath: `${at}/label` });
  }
  return rows;
}
