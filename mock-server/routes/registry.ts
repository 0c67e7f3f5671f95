/** The /v1 control plane for models, versions and aliases. */
import { rm } from 'node:fs/promises';
import type { components } from 'modelport';
import type { RequestContext, RouteTable } from '../server/context';
import { badRequest, conflict } from '../http/errors';
import { paginate } from '../http/pagination';
import { json, type Reply } from '../http/respond';
import type { AliasTarget, ModelConfig } from '../registry/model-config';
import { NameTakenError } from '../registry/repository';
import { aliasesPointingAt, type ModelManager, type ServedVersion } from '../serving/version-service';
import { mediaType } from '../http/body';
import { modelFilter } from '../auth/model-restriction';
import { exportWarnings } from '../export/export-warnings';

type Schemas = components['schemas'];

export const registryRoutes: RouteTable = {
  listModels: ({ state, query, principal }) => {
    const models = state.models
      .modelNames()
      .filter(modelFilter(principal))
      .map((name) => modelView(state.models, name))
      .filter(
        (m) =>
          (query.task === undefined || m.task === query.task) &&
          (query.tag === undefined || m.tags.includes(query.tag)) &&
          (query.status === undefined || m.status === query.status),
      );
    return json(paginate(models, (m) => m.name, query));
  },

  createModel: async ({ state, body }) => {
    const request = body as Schemas['ModelCreate'];
    if (state.models.has(request.name)) throw conflict(`a model named '${request.name}' already exists`, 'model_exists');
    const now = new Date().toISOString();
    const config: ModelConfig = {
      name: request.name,
      task: request.task,
      ...(request.description !== undefined ? { description: request.description } : {}),
      labels: request.labels ?? [],
      tags: request.tags ?? [],
      ...(request.batching ? { batching: request.batching } : {}),
      aliases: {},
      created_at: now,
      updated_at: now,
    };
    try {
      await state.models.createModel(config);
    } catch (error) {
      if (error instanceof NameTakenError) throw conflict(`a model named '${request.name}' already exists`, 'model_exists');
      throw error;
    }
    return json(modelView(state.models, request.name), 201);
  },

  getModel: ({ state, params }) => json(modelView(state.models, params.model_name!)),

  updateModel: async ({ state, params, body }) => {
    const patch = body as Schemas['ModelUpdate'];
    await state.models.updateConfig(params.model_name!, (config) => ({ ...config, ...patch }));
    return json(modelView(state.models, params.model_name!));
  },

  deleteModel: async ({ state, params }) => {
    await state.models.deleteModel(params.model_name!);
    return new Response(null, { status: 204 });
  },

  listVersions: ({ state, params, query }) =>
    json(
      paginate(
        state.models.versions(params.model_name!).map((v) => versionView(state.models, v)),
        (v) => v.version,
        query,
      ),
    ),

  uploadVersion,

  getVersion: ({ state, params }) => json(versionView(state.models, state.models.exactVersion(params.model_name!, params.version!))),

  deleteVersion: async ({ state, params }) => {
    await state.models.deleteVersion(params.model_name!, Number(params.version));
    return new Response(null, { status: 204 });
  },

  loadVersion: async ({ state, params }) => {
    const [served] = await state.models.load(params.model_name!, String(Number(params.version)));
    return json(versionView(state.models, served!));
  },

  unloadVersion: ({ state, params }) => {
    const [served] = state.models.unload(params.model_name!, String(Number(params.version)));
    return json(versionView(state.models, served!));
  },

  listAliases: ({ state, params }) => {
    const config = state.models.config(params.model_name!);
    return json({ data: Object.entries(config.aliases ?? {}).map(([name, targets]) => ({ model: config.name, name, targets })) });
  },

  setAlias: async ({ state, params, body }) => {
    const request = body as Schemas['AliasSet'];
    const targets: AliasTarget[] = request.targets ?? [{ version: request.version!, weight: 100 }];
    const versions = targets.map((t) => t.version);
    if (new Set(versions).size !== versions.length)
      throw badRequest('each version may appear once in an alias', [{ path: '/targets', message: 'duplicate version' }]);
    const saved = await state.models.setAlias(params.model_name!, params.alias!, targets);
    return json({ model: params.model_name, name: params.alias, targets: saved });
  },

  deleteAlias: async ({ state, params }) => {
    await state.models.deleteAlias(params.model_name!, params.alias!);
    return new Response(null, { status: 204 });
  },
};

async function uploadVersion({ state, params, request, rawBody }: RequestContext): Promise<Reply> {
  const name = params.model_name!;
  const model = state.models.config(name); // 404 before any work
  const staged = await state.models.repository.stagingDir(name);
  try {
    // Unpacked, checked and test-loaded in a child process within the upload limits; then loaded here.
    const accepted = await state.uploads.accept(staged, model, {
      body: rawBody!,
      mediaType: mediaType(request)!,
      contentType: request.headers.get('content-type') ?? '',
    });
    const { loaded } = accepted;
    const info = { ...accepted.info, export_warnings: await exportWarnings(state.runtime, model, accepted.info, staged) };
    // The first version of a model without a declared signature defines it.
    if (!model.inputs)
      await state.models.updateConfig(name, (c) => ({ ...c, platform: info.platform, inputs: info.inputs, outputs: info.outputs }));
    const served = await state.models.addVersion(name, staged, info, loaded);
    return json(versionView(state.models, served), 201);
  } catch (error) {
    await rm(staged, { recursive: true, force: true });
    throw error;
  }
}

export function modelView(models: ModelManager, name: string): Schemas['Model'] {
  const config = models.config(name);
  const versions = models.versions(name);
  const status = versions.length === 0 ? 'empty' : versions.some((v) => v.state === 'READY') ? 'ready' : 'unavailable';
  return {
    name,
    task: config.task,
    ...(config.description !== undefined ? { description: config.description } : {}),
    ...(config.platform ? { platform: config.platform } : {}),
    labels: config.labels ?? [],
    tags: config.tags ?? [],
    ...(config.inputs ? { inputs: config.inputs, outputs: config.outputs } : {}),
    status,
    versions: versions.map((v) => v.info.version),
    ...(versions.length ? { latest_version: versions.at(-1)!.info.version } : {}),
    aliases: config.aliases ?? {},
    ...(config.batching ? { batching: config.batching } : {}),
    created_at: config.created_at!,
    updated_at: config.updated_at!,
  };
}

export function versionView(models: ModelManager, served: ServedVersion): Schemas['ModelVersion'] {
  const { info } = served;
  return {
    model: served.name,
    version: info.version,
    platform: info.platform,
    state: served.state,
    ...(served.reason ? { reason: served.reason } : {}),
    inputs: served.config.inputs,
    outputs: served.config.outputs,
    size_bytes: info.size_bytes ?? 0,
    ...(info.params !== undefined ? { params: info.params } : {}),
    ...(info.metrics ? { metrics: info.metrics } : {}),
    ...(info.training ? { training: info.training } : {}),
    ...(info.signature ? { signature: info.signature } : {}),
    ...(served.loaded
      ? { execution: { mode: served.loaded.execution, ...(served.loaded.executionNote ? { note: served.loaded.executionNote } : {}) } }
      : {}),
    ...(info.export_warnings ? { export_warnings: info.export_warnings } : {}),
    aliases: aliasesPointingAt(models.config(served.name), info.version),
    created_at: info.created_at!,
  };
}
