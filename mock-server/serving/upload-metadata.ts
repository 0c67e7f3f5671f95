/** The optional `metadata` part of a multipart upload: metrics to record, and which signature and tags of a SavedModel to serve. */
import type { components } from 'modelport';
import { checkJsonDepth } from '../http/body';
import { badRequest } from '../http/errors';

export type UploadMetadata = components['schemas']['VersionUploadMetadata'];

/** The metadata as sent, or a 400 naming each bad field. */
export function checkMetadata(metadata: unknown): UploadMetadata {
  if (metadata === undefined) return {};
  checkJsonDepth(metadata, '/metadata');
  const m = metadata as Record<string, unknown>;
  const details = [];
  if (typeof m !== 'object' || m === null || Array.isArray(m)) details.push({ path: '/metadata', message: 'must be an object' });
  else {
    for (const key of Object.keys(m))
      if (!['metrics', 'signature', 'tags'].includes(key)) details.push({ path: `/metadata/${key}`, message: 'is not allowed' });
    if (m.metrics !== undefined && (typeof m.metrics !== 'object' || m.metrics === null || Array.isArray(m.metrics)))
      details.push({ path: '/metadata/metrics', message: 'must be an object' });
    if (m.signature !== undefined && typeof m.signature !== 'string')
      details.push({ path: '/metadata/signature', message: 'must be a string' });
    if (m.tags !== undefined && !(Array.isArray(m.tags) && m.tags.every((t) => typeof t === 'string')))
      details.push({ path: '/metadata/tags', message: 'must be an array of strings' });
  }
  if (details.length) throw badRequest('invalid upload metadata', details);
  return m as UploadMetadata;
}
