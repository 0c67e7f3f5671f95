#!/usr/bin/env node
/** `modelport serve`: the local model server on a port. */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { listen } from './http';
import { createModelServer } from './server';
import { BACKENDS, type BackendName } from './runtime/backend';

const USAGE = `Usage: modelport serve [options]
  --port 8700              port (0 picks a free one)            MODELPORT_PORT
  --host 127.0.0.1         interface to bind                     MODELPORT_HOST
  --data-dir ./.modelport  the model repository                  MODELPORT_DATA_DIR
  --backend NAME           tensorflow | wasm | cpu               MODELPORT_BACKEND
  --no-auth                no API keys needed
  --mock-controls          enable /_mock test controls (admin only)
  --cors ORIGINS           comma-separated origins, or *         MODELPORT_CORS
  --rate-limit RPS         default per-key rate limit            MODELPORT_RATE_LIMIT
  --tls-cert FILE --tls-key FILE   serve HTTPS
The admin key comes from MODELPORT_API_KEY, or is generated and printed at start.`;

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
      'mock-controls': { type: 'boolean', default: false },
      cors: { type: 'string', default: process.env.MODELPORT_CORS },
      'rate-limit': { type: 'string', default: process.env.MODELPORT_RATE_LIMIT },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
    },
    strict: true,
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535, got '${values.port}'`);
  if (values.backend && !BACKENDS.includes(values.backend as BackendName)) {
    throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}, got '${values.backend}'`);
  }
  const rate = values['rate-limit'] === undefined ? undefined : Number(values['rate-limit']);
  if (rate !== undefined && !(rate > 0)) throw new UsageError(`--rate-limit must be a positive number of requests per second, got '${values['rate-limit']}'`);
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) throw new UsageError('--tls-cert and --tls-key go together');
  const tls = values['tls-cert'] ? { cert: await readFile(values['tls-cert']), key: await readFile(values['tls-key']!) } : undefined;
  const server = await createModelServer({
    backend: values.backend as BackendName | undefined,
    auth: !values['no-auth'],
    dataDir: values['data-dir'],
    mockControls: values['mock-controls'],
    ...(values.cors ? { cors: values.cors === '*' ? '*' : values.cors.split(',').map((o) => o.trim()) } : {}),
    ...(rate ? { defaultRateLimit: { requests_per_second: rate } } : {}),
  });
  const listening = await listen(server.handler, { port, host: values.host, tls });
  const { runtime } = server.state;
  const tfVersion = runtime.tensorflowVersion ? `TensorFlow ${runtime.tensorflowVersion}` : `tfjs ${runtime.tfjsVersion}`;
  if (server.state.options.auth && server.adminKeyGenerated) {
    console.log(`admin API key (shown once; set MODELPORT_API_KEY to choose your own): ${server.adminKey}`);
  }
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
