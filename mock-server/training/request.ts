/**
 * What a training request needs from the server: checked when the job is created (as 4xx), and
 * resolved again when it starts, since the base version or the model may change while it waits.
 */
import { badRequest } from '../http/errors';
import type { ModelManager } from '../serving/version-service';
import { checkBudget, estimateArchitecture, estimateFineTuning, type TrainingLimits } from './budget';
import { datasetShape, type DatasetRef } from './data';
import type { TrainingJobCreate } from './protocol';

/** Everything that can be checked before a job is queued is checked here, as a 4xx: its budget too (413). */
export async function checkRequest(request: TrainingJobCreate, models: ModelManager, limits: TrainingLimits): Promise<void> {
  if ((request.architecture === undefined) === (request.base_version === undefined)) {
    throw badRequest('give either architecture (a new model) or base_version (fine-tuning), not both or neither', [
      { path: '/architecture', message: 'exactly one of architecture and base_version' },
    ]);
  }
  if (request.freeze_layers !== undefined && request.base_version === undefined) {
    throw badRequest('freeze_layers applies to fine-tuning only', [{ path: '/freeze_layers', message: 'needs base_version' }]);
  }
  const shape = await datasetShape(datasetRef(request.dataset, models));
  const input = inputShape(request, models);
  const features = input.reduce((a, b) => a * b, 1);
  if (features !== shape.features) {
    throw badRequest(
      `the model's input [${input}] has ${features} elements; dataset '${request.dataset}' samples have ${shape.features}`,
      [{ path: '/architecture/input/shape', message: `needs ${shape.features} elements` }],
      'shape_mismatch',
    );
  }
  const last = request.architecture?.layers.at(-1);
  if (last?.type === 'dense' && last.units !== shape.classes && (request.loss ?? 'categorical_crossentropy') !== 'mean_squared_error') {
    throw badRequest(
      `the last layer has ${last.units} units; dataset '${request.dataset}' has ${shape.classes} classes`,
      [{ path: `/architecture/layers/${request.architecture!.layers.length - 1}/units`, message: `must be ${shape.classes}` }],
      'shape_mismatch',
    );
  }
  if (request.batch_size !== undefined && request.batch_size > shape.samples) {
    throw badRequest(`batch_size ${request.batch_size} exceeds the ${shape.samples} samples of '${request.dataset}'`, [
      { path: '/batch_size', message: `at most ${shape.samples}` },
    ]);
  }
  const data = { samples: shape.samples, features: shape.features };
  const estimate = request.architecture
    ? estimateArchitecture(request, request.architecture, data)
    : estimateFineTuning(request, models.exactVersion(request.model, request.base_version!).info, data);
  checkBudget(request, estimate, limits);
}

export function datasetRef(name: string, models: ModelManager): DatasetRef {
  return { name, dataDir: models.repository.dataDir };
}

/** The shape of one sample as the model takes it: the architecture's, or the base version's. */
export function inputShape(request: TrainingJobCreate, models: ModelManager): number[] {
  if (request.architecture) {
    if (models.has(request.model)) {
      const declared = models.config(request.model).inputs?.[0]?.shape.slice(1);
      if (declared && declared.join() !== request.architecture.input.shape.join()) {
        throw badRequest(
          `model '${request.model}' takes [${declared}]; the architecture's input is [${request.architecture.input.shape}]`,
          [{ path: '/architecture/input/shape', message: `must be [${declared}]` }],
          'signature_mismatch',
        );
      }
    }
    return request.architecture.input.shape;
  }
  const base = models.exactVersion(request.model, request.base_version!);
  if (base.info.platform !== 'tfjs_layers') {
    throw badRequest(
      `fine-tuning needs a TF.js layers model; version ${request.base_version} of '${request.model}' is ${base.info.platform}`,
      undefined,
      'unsupported_model',
    );
  }
  return base.config.inputs[0]!.shape.slice(1);
}
