/** API keys and usage metering (admin). */
import type { components } from 'modelport';
import type { RouteTable } from '../server/context';
import { badRequest, notFound } from '../http/errors';
import { paginate } from '../http/pagination';
import { json } from '../http/respond';
import { modelFilter } from '../auth/model-restriction';

const HOUR = 3_600_000;

export const accessRoutes: RouteTable = {
  listApiKeys: ({ state, query }) => json(paginate(state.keys.list(), (k) => `${k.created_at} ${k.id}`, query)),

  createApiKey: async ({ state, body }) => json(await state.keys.create(body as components['schemas']['ApiKeyCreate']), 201),

  revokeApiKey: async ({ state, params }) => {
    if (!(await state.keys.revoke(params.key_id!))) throw notFound(`no API key '${params.key_id}'`, 'key_not_found');
    return new Response(null, { status: 204 });
  },

  getUsage: ({ state, query, principal }) => {
    const to = query.to ? Date.parse(query.to) : Date.now();
    const from = query.from ? Date.parse(query.from) : to - HOUR;
    if (Number.isNaN(from) || Number.isNaN(to) || from > to)
      throw badRequest('`from` must be a date before `to`', [{ path: 'query/from', message: 'must be an ISO 8601 date before to' }]);
    const { by_key, by_model } = state.usage.report(from, to);
    const visible = modelFilter(principal);
    return json({
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      by_key,
      by_model: by_model.filter((row) => visible(String(row.model))),
    });
  },
};
