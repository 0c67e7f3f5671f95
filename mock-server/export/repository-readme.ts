/**
 * The README.txt of each export: what the archive holds and the commands that serve it (Triton,
 * TF Serving) or deploy it (KServe: copy to the storage URI, then kubectl apply).
 */
import { KSERVE_CANARY_DIR, KSERVE_STABLE_DIR } from './kserve-manifests';

/** What each archive's README.txt says to run. */
export const readme = {
  triton: (model: string) =>
    [
      `A Triton model repository for '${model}', written by modelport export.`,
      '',
      ...fileTable([
        [`${model}/config.pbtxt`, 'the model configuration (inference.ModelConfig)'],
        [`${model}/<n>/model.savedmodel/`, 'each version as a TensorFlow SavedModel (serving_default)'],
      ]),
      '',
      "Serve it with NVIDIA Triton, from an image that has Triton's TensorFlow backend (/opt/tritonserver/backends/tensorflow):",
      '',
      '  docker run --rm -p 8000:8000 -v "$PWD":/models nvcr.io/nvidia/tritonserver:<release>-py3 \\',
      '    tritonserver --model-repository=/models',
      '',
      `then: curl localhost:8000/v2/models/${model}   (the Open Inference Protocol, as modelport's /v2)`,
      '',
    ].join('\n'),
  tfServing: (model: string) =>
    [
      `A TensorFlow Serving model base path for '${model}', written by modelport export.`,
      '',
      ...fileTable([
        [`${model}/<n>/`, 'each version as a TensorFlow SavedModel (serving_default)'],
        ['models.config', `the model config (tensorflow.serving.ModelServerConfig); its base_path is /models/${model}:`],
        ['', 'change it where the folder is elsewhere'],
      ]),
      '',
      'Serve it with TensorFlow Serving:',
      '',
      '  docker run --rm -p 8501:8501 -v "$PWD":/models tensorflow/serving \\',
      '    --model_config_file=/models/models.config',
      '',
      '  (or: tensorflow_model_server --rest_api_port=8501 --model_config_file=$PWD/models.config, with base_path changed)',
      '',
      `then: curl localhost:8501/v1/models/${model}   (TF Serving's own REST API, not the Open Inference Protocol)`,
      '',
    ].join('\n'),
  kserve: (model: string, manifests: string[], canary: boolean, storageUri: string) =>
    [
      `KServe deployment of '${model}', written by modelport export.`,
      '',
      ...(canary
        ? [
            ...fileTable([
              [`${KSERVE_STABLE_DIR}/${model}/`, `the stable version, a Triton model repository for ${storageUri}/${KSERVE_STABLE_DIR}`],
              [`${KSERVE_CANARY_DIR}/${model}/`, `the canary version, a Triton model repository for ${storageUri}/${KSERVE_CANARY_DIR}`],
              [manifests[0]!, 'the InferenceService serving the stable version (KServe serverless mode)'],
              [manifests[1]!, "the same service rolling out the canary with the alias's traffic split (canaryTrafficPercent)"],
            ]),
            '',
            'Deploy: copy the repositories, then apply the manifests in this order:',
            '',
            `  ${copyCommand(KSERVE_STABLE_DIR, `${storageUri}/${KSERVE_STABLE_DIR}`)}`,
            `  ${copyCommand(KSERVE_CANARY_DIR, `${storageUri}/${KSERVE_CANARY_DIR}`)}`,
          ]
        : [
            ...fileTable([
              [`repository/${model}/`, `a Triton model repository: the content of repository/ goes to ${storageUri}`],
              [manifests[0]!, 'the InferenceService (Triton runtime, Open Inference Protocol v2)'],
            ]),
            '',
            'Deploy: copy the repository, then apply the manifest:',
            '',
            `  ${copyCommand('repository', storageUri)}`,
          ]),
      ...manifests.map((file) => `  kubectl apply -f ${file}`),
      '',
      `then: the service's /v2/models/${model}/infer speaks the Open Inference Protocol, as modelport's /v2 does.`,
      '',
    ].join('\n'),
};

/** Two columns: the path, padded, and what it is. */
function fileTable(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([file]) => file.length)) + 3;
  return rows.map(([file, what]) => `  ${file.padEnd(width)}${what}`);
}

/** The command that copies a folder's content to a storage URI, for the stores KServe reads most (else in words). */
function copyCommand(folder: string, uri: string): string {
  if (uri.startsWith('gs://')) return `gsutil -m cp -r ${folder}/* ${uri}/`;
  if (uri.startsWith('s3://')) return `aws s3 cp --recursive ${folder} ${uri}`;
  return `# copy the content of ${folder}/ to ${uri}`;
}
