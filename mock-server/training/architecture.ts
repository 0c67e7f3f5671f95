/** Keras-style layer lists and optimizer settings → TF.js models and optimizers. */
import type * as tfTypes from '../runtime/tfjs';
import type { components } from 'modelport';

type Layer = components['schemas']['Layer'];
type Optimizer = components['schemas']['Optimizer'];
type Architecture = NonNullable<components['schemas']['TrainingJobCreate']['architecture']>;

/**
 * Builds the model; `seed` makes weight initialisation repeatable. The input tensor takes the
 * declared name, and the last layer is called `probabilities` (softmax) or `output`, so the
 * served signature reads well.
 */
export function buildModel(tf: typeof tfTypes, architecture: Architecture, seed: number): tfTypes.LayersModel {
  let layerSeed = seed;
  const init = () => tf.initializers.glorotUniform({ seed: layerSeed++ });
  const input = tf.input({
    shape: architecture.input.shape,
    name: architecture.input.name,
    dtype: architecture.input.datatype === 'INT32' ? 'int32' : 'float32',
  });
  let x: tfTypes.SymbolicTensor = input;
  architecture.layers.forEach((layer, i) => {
    const last = i === architecture.layers.length - 1;
    const name = layer.name ?? (last ? (layer.activation === 'softmax' ? 'probabilities' : 'output') : undefined);
    x = makeLayer(tf, layer, name ? { name } : {}, init).apply(x) as tfTypes.SymbolicTensor;
  });
  return tf.model({ inputs: input, outputs: x });
}

function makeLayer(
  tf: typeof tfTypes,
  layer: Layer,
  base: Record<string, unknown>,
  init: () => ReturnType<typeof tfTypes.initializers.glorotUniform>,
): tfTypes.layers.Layer {
  const activation = layer.activation as never;
  switch (layer.type) {
    case 'dense':
      return tf.layers.dense({
        ...base,
        units: need(layer, 'units'),
        activation,
        useBias: layer.use_bias ?? true,
        kernelInitializer: init(),
      });
    case 'conv2d':
      return tf.layers.conv2d({
        ...base,
        filters: need(layer, 'filters'),
        kernelSize: need(layer, 'kernel_size') as number,
        strides: (layer.strides ?? 1) as number,
        padding: layer.padding ?? 'valid',
        activation,
        kernelInitializer: init(),
      });
    case 'maxPooling2d':
      return tf.layers.maxPooling2d({
        ...base,
        poolSize: (layer.pool_size ?? 2) as number,
        ...(layer.strides ? { strides: layer.strides as number } : {}),
      });
    case 'flatten':
      return tf.layers.flatten(base);
    case 'dropout':
      return tf.layers.dropout({ ...base, rate: need(layer, 'rate') });
    case 'batchNormalization':
      return tf.layers.batchNormalization(base);
    case 'embedding':
      return tf.layers.embedding({
        ...base,
        inputDim: need(layer, 'input_dim'),
        outputDim: need(layer, 'output_dim'),
        embeddingsInitializer: init(),
      });
    case 'lstm':
      return tf.layers.lstm({
        ...base,
        units: need(layer, 'units'),
        returnSequences: layer.return_sequences ?? false,
        kernelInitializer: init(),
      });
  }
}

function need<K extends keyof Layer>(layer: Layer, key: K): NonNullable<Layer[K]> {
  const value = layer[key];
  if (value === undefined) throw new LayerError(`layer '${layer.type}' needs '${String(key)}'`);
  return value as NonNullable<Layer[K]>;
}

export class LayerError extends Error {}

/** The optimizer a job asked for, with each optimizer's usual defaults. */
export function buildOptimizer(tf: typeof tfTypes, spec: Optimizer): tfTypes.Optimizer {
  switch (spec.name) {
    case 'sgd':
      return tf.train.sgd(spec.learning_rate ?? 0.01);
    case 'momentum':
      return tf.train.momentum(spec.learning_rate ?? 0.01, spec.momentum ?? 0.9, spec.use_nesterov ?? false);
    case 'adagrad':
      return tf.train.adagrad(spec.learning_rate ?? 0.01, spec.initial_accumulator_value ?? 0.1);
    case 'rmsprop':
      return tf.train.rmsprop(spec.learning_rate ?? 0.001, spec.rho ?? 0.9, spec.momentum ?? 0, spec.epsilon ?? 1e-7);
    case 'adam':
      return tf.train.adam(spec.learning_rate ?? 0.001, spec.beta1 ?? 0.9, spec.beta2 ?? 0.999, spec.epsilon ?? 1e-7);
  }
}

export const LOSSES: Record<string, string> = {
  categorical_crossentropy: 'categoricalCrossentropy',
  sparse_categorical_crossentropy: 'sparseCategoricalCrossentropy',
  mean_squared_error: 'meanSquaredError',
};
