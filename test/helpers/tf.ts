/**
 * The TensorFlow.js that the server in this process runs on, for tests that build tensors, models
 * or images themselves. It comes from the server's own loader (one tfjs-core, native TensorFlow
 * from modelport's cache), never from @tensorflow/tfjs-node, which the server does not use.
 * Types: `import type * as tfTypes from '../mock-server/runtime/tfjs'`.
 */
import { loadRuntime, type TF } from '../../mock-server/runtime/backend';
import type { NodeExtras } from '../../mock-server/runtime/tfjs';

const runtime = await loadRuntime({ backend: 'tensorflow' });

export const tf: TF = runtime.tf;
/** tfjs-node's `tf.node` (PNG encoding and decoding, SavedModels). */
export const tfNode: NodeExtras = runtime.node!;
