/**
 * TensorFlow Serving's models.config (`--model_config_file`): the `tensorflow.serving.ModelServerConfig`
 * message of TF Serving's model_server_config.proto in protobuf text format. One model, the exported
 * versions as its version policy, and modelport's aliases as `version_labels`.
 */
import { type ExportAliasTarget, sortedVersions } from './export-input';
import { ProtoTextWriter } from './proto-text';

export interface TfServingModelInput {
  /** The model's name: TF Serving serves it at `/v1/models/<name>`. */
  name: string;
  /** Where the server finds `<n>/saved_model.pb`; default `/models/<name>`, as in TF Serving's Docker image. */
  basePath?: string;
  /** The versions in `<base_path>/<n>/`: the version policy serves exactly these. */
  versions: readonly number[];
  /** modelport's aliases: each becomes a version label when the version it resolves to is served. */
  aliases?: Readonly<Record<string, readonly ExportAliasTarget[]>>;
}

/**
 * The version a label names for an alias. A TF Serving label is one version and TF Serving splits
 * no traffic, so a weighted canary (several targets) cannot be a label as it is: the label names
 * the target with the largest weight, the version most requests get (on a tie, the older version,
 * the one already serving). Exporting the canary's versions one by one, by number, stays possible.
 */
export function labelVersion(targets: readonly ExportAliasTarget[]): number | undefined {
  let chosen: ExportAliasTarget | undefined;
  for (const target of targets) {
    if (!chosen || target.weight > chosen.weight || (target.weight === chosen.weight && target.version < chosen.version)) chosen = target;
  }
  return chosen?.version;
}

/**
 * The labels TF Serving gets: an alias whose version is not exported is left out, because TF
 * Serving refuses a label on a version its policy does not serve (and this keeps every label
 * pointing at a served version, which the tests check).
 */
export function tfServingVersionLabels(model: Pick<TfServingModelInput, 'versions' | 'aliases'>): [string, number][] {
  const served = new Set(model.versions);
  const labels: [string, number][] = [];
  for (const [alias, targets] of Object.entries(model.aliases ?? {})) {
    const version = labelVersion(targets);
    if (version !== undefined && served.has(version)) labels.push([alias, version]);
  }
  return labels.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export function tfServingModelConfig(model: TfServingModelInput): string {
  const versions = sortedVersions(model.versions, model.name);
  const labels = tfServingVersionLabels({ versions, aliases: model.aliases });
  return new ProtoTextWriter()
    .comment(`TensorFlow Serving model config (tensorflow.serving.ModelServerConfig) written by modelport export for '${model.name}'.`)
    .message('model_config_list', (list) =>
      list.message('config', (config) => {
        config
          .field('name', model.name)
          .field('base_path', model.basePath ?? `/models/${model.name}`)
          .field('model_platform', 'tensorflow')
          .message('model_version_policy', (policy) => policy.message('specific', (specific) => specific.list('versions', versions)));
        for (const [label, version] of labels) {
          config.message('version_labels', (entry) => entry.field('key', label).field('value', version));
        }
      }),
    )
    .text();
}
