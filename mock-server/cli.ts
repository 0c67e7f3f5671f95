#!/usr/bin/env node
/** `modelport serve`: the local model server on a port. */
import { parseArgs } from 'node:util';
import { listen } from './http';
import { createModelServer } from './server';
import { BACKENDS, type BackendName } from './runtime/backend';

const USAGE = `Usage: modelport serve [--port 8700] [--host 127.0.0.1] [--data-dir ./.modelport] [--backend tensorflow|wasm|cpu] [--no-auth]`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'serve') return serve(rest);
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  console.error(`modelport: unknown command '${command}'\n${USAGE}`);
  return 2;
}

async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: process.env.MODELPORT_PORT ?? '8700' },
      host: { type: 'string', default: process.env.MODELPORT_HOST ?? '127.0.0.1' },
      backend: { type: 'string', default: process.env.MODELPORT_BACKEND },
      'data-dir': { type: 'string', default: process.env.MODELPORT_DATA_DIR ?? './.modelport' },
      'no-auth': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535, got '${values.port}'`);
  if (values.backend && !BACKENDS.includes(values.backend as BackendName)) {
    throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}, got '${values.backend}'`);
  }
  const server = await createModelServer({
    backend: values.backend as BackendName | undefined,
    auth: !values['no-auth'],
    dataDir: values['data-dir'],
  });
  const listening = await listen(server.handler, { port, host: values.host });
  const { runtime } = server.state;
  const tfVersion = runtime.tensorflowVersion ? `TensorFlow ${runtime.tensorflowVersion}` : `tfjs ${runtime.tfjsVersion}`;
  console.log(`modelport ${server.state.version} listening on ${listening.url} (backend ${runtime.backend}, ${tfVersion}; models in ${server.state.models.repository.modelsDir})`);
  const stop = async () => {
    await listening.close();
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return new Promise<number>(() => {});
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(`modelport: ${error instanceof Error ? error.message : error}`);
    if (error instanceof UsageError) console.error(USAGE);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
