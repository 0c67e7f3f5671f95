/**
 * Upload preflight for production-bound models (#20): when a version is uploaded or trained, the
 * exporter is tried on it once, and why it would not export is kept in its version.json as
 * `export_warnings`, so users learn it on upload rather than on the day they move to Triton.
 */
import { servingConfig, type ModelConfig, type VersionInfo } from '../registry/model-config';
import type { Runtime } from '../runtime/backend';
import { exportBlocker } from './saved-model-export';

export async function exportWarnings(
  runtime: Runtime,
  model: ModelConfig,
  info: Omit<VersionInfo, 'version'>,
  versionDir: string,
): Promise<string[]> {
  try {
    const blocker = await exportBlocker(runtime, servingConfig(model, { ...info, version: 0 }), versionDir);
    return blocker ? [`does not export to Triton, TF Serving or KServe: ${blocker}`] : [];
  } catch (error) {
    // The version serves; only the export check failed, and the warning says so rather than refusing the upload.
    return [`the export check failed: ${(error as Error).message}`];
  }
}
