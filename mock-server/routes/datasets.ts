/** /v1/datasets: labelled data to evaluate models on (built-in held-out splits and uploads). */
import { mediaType } from '../http/body';
import type { RequestContext, RouteTable } from '../server/context';
import { badRequest, type ErrorDetail } from '../http/errors';
import { parseDataset, type DatasetFormat } from '../datasets/formats';
import { paginate } from '../http/pagination';
import { json, type RouteResult } from '../http/respond';

const FORMATS: Record<string, DatasetFormat> = { 'text/csv': 'csv', 'application/x-ndjson': 'jsonl', 'application/jsonl': 'jsonl' };

export const datasetRoutes: RouteTable = {
  listDatasets: async ({ state, query }) => json(paginate((await state.lab.open()).datasets.list(), (d) => d.name, query)),

  createDataset,

  getDataset: async ({ state, params }) => json((await state.lab.open()).datasets.info(params.dataset_name!)),

  deleteDataset: async ({ state, params }) => {
    await (await state.lab.open()).datasets.delete(params.dataset_name!);
    return new Response(null, { status: 204 });
  },
};

async function createDataset({ state, request, query, rawBody }: RequestContext): Promise<RouteResult> {
  const { datasets } = await state.lab.open();
  const format = FORMATS[mediaType(request) ?? '']!; // the contract admits only these media types
  const labels = query.labels === undefined ? undefined : declaredLabels(query.labels);
  const { maxDatasetRows: maxRows, maxDatasetElements: maxElements } = state.options;
  const parsed = await parseDataset(format, rawBody!, { ...(labels ? { labels } : {}), limits: { maxRows, maxElements } });
  const shape = query.shape === undefined ? [parsed.width] : query.shape.split(',').map(Number);
  const elements = shape.reduce((n, d) => n * d, 1);
  if (elements !== parsed.width) {
    throw badRequest(
      `shape [${shape}] has ${elements} elements but each record has ${parsed.width}`,
      [{ path: 'query/shape', message: `must multiply to ${parsed.width}, the record width` }],
      'shape_mismatch',
    );
  }
  const info = await datasets.create(query.name!, parsed, {
    format,
    shape,
    ...(query.task !== undefined ? { task: query.task } : {}),
    ...(query.description !== undefined ? { description: query.description } : {}),
  });
  return json(info, 201);
}

/** `a,b,c` → ['a', 'b', 'c']: names trimmed, none empty, none twice. */
function declaredLabels(text: string): string[] {
  const labels = text.split(',').map((l) => l.trim());
  const details: ErrorDetail[] = [];
  labels.forEach((label, i) => {
    if (label === '') details.push({ path: 'query/labels', message: `label ${i + 1} is empty` });
    else if (labels.indexOf(label) !== i) details.push({ path: 'query/labels', message: `'${label}' is given twice` });
  });
  if (details.length) throw badRequest(`invalid labels: ${details[0]!.message}`, details);
  return labels;
}
