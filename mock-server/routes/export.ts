/** `GET /v1/models/{model}/versions/{version}/export`: a version, or an alias's versions, as a Triton, TF Serving or KServe repository (tar.gz). */
import type { RequestContext, RouteTable } from '../server/context';
import { badRequest, notFound } from '../http/errors';
import { repositoryArchive } from '../export/repository-archive';
import { writeRepository, type ExportFormat, type RepositoryRequest } from '../export/repository-layout';
import { aliasTargets, type ModelManager } from '../serving/version-service';

export const exportRoutes: RouteTable = {
  exportModel: async ({ state, params, query }: RequestContext) => {
    const name = params.model_name!;
    const format = query.format as ExportFormat;
    const request: RepositoryRequest = {
      format,
      ...exportedVersions(state.models, name, params.version!),
      ...storageUri(format, query.storage_uri),
    };
    // Dated as the newest version exported: the same export twice is the same bytes.
    const mtime = new Date(request.versions.at(-1)!.config.info.created_at ?? 0);
    const archive = await state.exports.run(() => repositoryArchive((writer) => writeRepository(state.runtime, request, writer), mtime));
    return new Response(archive, {
      status: 200,
      headers: { 'content-type': 'application/gzip', 'content-disposition': `attachment; filename="${name}-${format}.tar.gz"` },
    });
  },
};

/** The model and the versions `versionOrAlias` names: one version, or every target of an alias (oldest first). */
function exportedVersions(
  models: ModelManager,
  name: string,
  versionOrAlias: string,
): Pick<RepositoryRequest, 'model' | 'versions' | 'alias'> {
  const model = models.config(name); // 404 model_not_found first
  const version = /^[1-9]\d*$/.test(versionOrAlias) ? models.versions(name).find((v) => v.version === versionOrAlias) : undefined;
  const targets = version ? undefined : aliasTargets(model, versionOrAlias);
  if (!version && !targets) throw notFound(`model '${name}' has no version or alias '${versionOrAlias}'`, 'version_not_found');
  const served = version
    ? [version]
    : targets!.map((t) => models.exactVersion(name, t.version)).sort((a, b) => a.info.version - b.info.version);
  return {
    model,
    versions: served.map((v) => ({ config: v.config, dir: models.repository.versionDir(name, v.version) })),
    ...(targets ? { alias: { name: versionOrAlias, targets } } : {}),
  };
}

/** KServe's `storageUri`: required for `kserve`, refused for the other formats (it would be silently unused). */
function storageUri(format: ExportFormat, uri: string | undefined): { storageUri?: string } {
  if (format === 'kserve') {
    if (uri === undefined)
      throw badRequest('format kserve needs storage_uri: where the repository will be copied for KServe (e.g. s3://bucket/models/iris)', [
        { path: 'query/storage_uri', message: 'is required for format kserve' },
      ]);
    return { storageUri: uri.replace(/(?<=:\/\/.+?)\/+$/, '') };
  }
  if (uri !== undefined)
    throw badRequest(`storage_uri is for format kserve only; format ${format} has no storage location`, [
      { path: 'query/storage_uri', message: `is not used by format ${format}` },
    ]);
  return {};
}
