/** OIP health probes and server metadata. */
import type { RouteTable } from '../server/context';
import { unavailable } from '../http/errors';
import { json } from '../http/respond';

/** Triton's names for the protocol extensions served: `classification` is an output's `parameters.classification: k`. */
export const EXTENSIONS = ['binary_tensor_data', 'classification', 'model_repository', 'statistics'];

export const healthRoutes: RouteTable = {
  serverLive: () => json({ live: true }),

  serverReady: ({ state }) => {
    if (!state.ready) throw unavailable('the server is still loading its models', 1, 'not_ready');
    return json({ ready: true });
  },

  serverMetadata: ({ state }) => {
    const { runtime } = state;
    return json({
      name: 'modelport',
      version: state.version,
      extensions: EXTENSIONS,
      runtime: {
        backend: runtime.backend,
        ...(runtime.tensorflowVersion ? { tensorflow_version: runtime.tensorflowVersion } : {}),
        tfjs_version: runtime.tfjsVersion,
      },
    });
  },
};
