/**
 * KServe InferenceService manifests (serving.kserve.io/v1beta1) for an exported Triton repository:
 * model format `tensorflow`, served by KServe's Triton runtime over the Open Inference Protocol
 * (`protocolVersion: v2`; KServe's TF Serving runtime speaks only v1). Pure: the caller writes the
 * repositories where `storageUri` says. Checked against KServe at aaac4e2 (the CRD in ../shared/specs).
 *
 * One version: `inferenceservice.yaml`, storageUri = the given URI, the Triton repository's root.
 * An alias with two targets (a canary) is KServe's canary rollout, which only its Knative
 * (serverless) deployment mode offers: traffic is split between the revision last rolled out and the
 * latest one. So there are two Triton repositories, `<storage-uri>/stable` holding only the older
 * version and `<storage-uri>/canary` only the newer (each `<model>/config.pbtxt` + `<model>/<n>/`),
 * and two manifests of the same InferenceService: `<model>-stable.yaml` (all traffic on the stable
 * repository) is applied first, then `<model>-canary.yaml` (the canary repository, with
 * `canaryTrafficPercent` = the newer version's share of the alias's weights). Promoting the canary is
 * removing `canaryTrafficPercent`; rolling back is applying the stable manifest again.
 */
import { Document, type YAMLMap } from 'yaml';
import { HttpError } from '../http/errors';
import type { ExportAliasTarget } from './export-input';

export interface KServeManifestInput {
  /** The model's registry name; the InferenceService's name is `inferenceServiceName(model)`. */
  model: string;
  /** KServe's `storageUri`: where the Triton repository (or, for a canary, the two repositories) will be copied. */
  storageUri: string;
  /** What is exported: one target (a version, or an alias of one version) or an alias's two weighted targets. */
  targets: readonly ExportAliasTarget[];
  /** The alias exported, for the manifests' comments and the refusal's message. */
  alias?: string;
  namespace?: string;
}

export interface KServeManifest {
  /** The file name: `inferenceservice.yaml`, or `<model>-stable.yaml` and `<model>-canary.yaml`. */
  file: string;
  yaml: string;
}

/** The canary's two repositories, under the storage URI (and in the exported folder). */
export const KSERVE_STABLE_DIR = 'stable';
export const KSERVE_CANARY_DIR = 'canary';
export const KSERVE_MANIFEST_FILE = 'inferenceservice.yaml';

/** The runtime and model format of ../shared/specs/kserve/kserve-tritonserver.yaml that take a TF2 SavedModel over v2. */
const TRITON_RUNTIME = 'kserve-tritonserver';
const MODEL_FORMAT = { name: 'tensorflow', version: '2' };
/**
 * Canary rollouts are Knative mode only, and a cluster's default mode may be Standard (raw
 * deployments: KServe's built-in default, where `defaultDeploymentMode` is not configured), so both
 * canary manifests ask for Knative; the stable one too, as KServe refuses to change the mode of an
 * existing InferenceService. (`Serverless`, the mode's older name, would be refused on the update:
 * KServe compares the annotation with the normalized mode in the status.)
 */
const KNATIVE_MODE = { 'serving.kserve.io/deploymentMode': 'Knative' };
/** KServe names the predictor `<name>-predictor` and Knative its revisions `<that>-00001`: one DNS label of at most 63 characters. */
const MAX_SERVICE_NAME = 63 - '-predictor-00001'.length;

/**
 * The InferenceService name for a model: KServe requires `[a-z]([-a-z0-9]*[a-z0-9])?`, and modelport
 * names may hold capitals, `_` and `.`. Capitals become lower case, every other character `-` (a run
 * of them one `-`), a name not starting with a letter gets `model-` in front, and a name too long for
 * KServe's and Knative's derived names is cut.
 */
export function inferenceServiceName(model: string): string {
  let name = model
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (!/^[a-z]/.test(name)) name = `model-${name}`;
  return name.slice(0, MAX_SERVICE_NAME).replace(/-+$/, '');
}

export interface KServeCanary {
  stable: ExportAliasTarget;
  canary: ExportAliasTarget;
  /** The canary's share of the alias's weights, as KServe's whole percent, kept within 1–99 so that neither version is left without traffic. */
  canaryTrafficPercent: number;
}

/** Which of an alias's two targets is rolled out: the newer version is the canary, the older the stable one. */
export function kserveCanary(model: string, alias: string, targets: readonly ExportAliasTarget[]): KServeCanary {
  if (targets.length !== 2) {
    throw new HttpError(
      422,
      'not_exportable',
      `'${model}@${alias}' has ${targets.length} targets; a KServe canary rollout splits traffic between 2 revisions (the stable and the canary)`,
    );
  }
  const [stable, canary] = [...targets].sort((a, b) => a.version - b.version) as [ExportAliasTarget, ExportAliasTarget];
  const percent = Math.round((100 * canary.weight) / (stable.weight + canary.weight));
  return { stable, canary, canaryTrafficPercent: Math.min(99, Math.max(1, percent)) };
}

/** The manifests for `targets`: one for a single version, the stable and canary pair for two; more is 422 `not_exportable`. */
export function kserveManifests(input: KServeManifestInput): KServeManifest[] {
  const alias = input.alias ?? 'alias';
  const name = inferenceServiceName(input.model);
  const root = input.storageUri.replace(/\/+$/, '');
  const versions = new Set(input.targets.map((target) => target.version));
  if (versions.size === 0) throw new Error(`no version of '${input.model}' to export`);
  if (versions.size === 1) {
    const [version] = versions;
    const comment = `modelport export: '${input.model}' version ${version} on KServe's Triton runtime (Open Inference Protocol v2).`;
    return [{ file: KSERVE_MANIFEST_FILE, yaml: manifest(name, input.namespace, { storageUri: root }, comment) }];
  }
  const { stable, canary, canaryTrafficPercent } = kserveCanary(input.model, alias, input.targets);
  const stableComment = [
    `modelport export: '${input.model}@${alias}', step 1 of 2: version ${stable.version} takes all traffic.`,
    `Apply this first, then ${input.model}-canary.yaml. Needs KServe's Knative (serverless) mode.`,
  ].join('\n');
  const canaryComment = [
    `modelport export: '${input.model}@${alias}', step 2 of 2: version ${canary.version} takes ${canaryTrafficPercent}% of the traffic,`,
    `version ${stable.version} (the revision rolled out by ${input.model}-stable.yaml) the rest.`,
    'Remove canaryTrafficPercent to promote the canary; apply the stable manifest again to roll back.',
  ].join('\n');
  return [
    {
      file: `${input.model}-stable.yaml`,
      yaml: manifest(name, input.namespace, { storageUri: `${root}/${KSERVE_STABLE_DIR}`, annotations: KNATIVE_MODE }, stableComment),
    },
    {
      file: `${input.model}-canary.yaml`,
      yaml: manifest(
        name,
        input.namespace,
        { storageUri: `${root}/${KSERVE_CANARY_DIR}`, annotations: KNATIVE_MODE, canaryTrafficPercent },
        canaryComment,
      ),
    },
  ];
}

interface PredictorChoice {
  storageUri: string;
  annotations?: Record<string, string>;
  canaryTrafficPercent?: number;
}

function manifest(name: string, namespace: string | undefined, choice: PredictorChoice, comment: string): string {
  const metadata = { name, ...(namespace ? { namespace } : {}), ...(choice.annotations ? { annotations: choice.annotations } : {}) };
  const model = { modelFormat: MODEL_FORMAT, protocolVersion: 'v2', runtime: TRITON_RUNTIME, storageUri: choice.storageUri };
  const predictor = { ...(choice.canaryTrafficPercent !== undefined ? { canaryTrafficPercent: choice.canaryTrafficPercent } : {}), model };
  const document = new Document({ apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', metadata, spec: { predictor } });
  // On the root map, not the document: a document's comment is followed by a blank line.
  (document.contents as YAMLMap).commentBefore = comment
    .split('\n')
    .map((line) => ` ${line}`)
    .join('\n');
  return document.toString();
}
