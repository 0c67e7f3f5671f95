/**
 * `modelport serve`'s flags for how long a request may take to arrive and how large a training job
 * may be (issue #18; the defaults are server/state.ts's and training/budget.ts's, listed in
 * mock-server/README.md's Limits). Each flag also reads an environment variable.
 */
import { Option, type Command } from 'commander';
import type { ServerOptions } from '../server/state';
import { positive } from './flags';
import { UsageError } from './output';

type RequestLimitOptions = Pick<
  ServerOptions,
  | 'headersTimeoutMs'
  | 'bodyIdleTimeoutMs'
  | 'bodyTimeoutMs'
  | 'maxBodyBytesInProgress'
  | 'maxTrainingParams'
  | 'maxTrainingMemoryBytes'
  | 'maxTrainingWork'
  | 'maxTrainingEpochs'
  | 'maxTrainingJobs'
  | 'maxTrainingJobsPerKey'
  | 'maxEvaluations'
  | 'maxEvaluationsPerKey'
>;

/** flag, environment variable, help, the option it sets, and how a value becomes it. */
const FLAGS: [string, string, string, keyof RequestLimitOptions, (n: number) => number][] = [
  [
    '--headers-timeout-ms <ms>',
    'MODELPORT_HEADERS_TIMEOUT_MS',
    'request headers must arrive within this (default 20000)',
    'headersTimeoutMs',
    (n) => n,
  ],
  [
    '--body-idle-timeout-ms <ms>',
    'MODELPORT_BODY_IDLE_TIMEOUT_MS',
    'a body with no byte for this long gets 408 (default 30000)',
    'bodyIdleTimeoutMs',
    (n) => n,
  ],
  [
    '--body-timeout-ms <ms>',
    'MODELPORT_BODY_TIMEOUT_MS',
    'a body not complete after this long gets 408 (default 300000)',
    'bodyTimeoutMs',
    (n) => n,
  ],
  [
    '--max-body-bytes-in-progress <bytes>',
    'MODELPORT_MAX_BODY_BYTES_IN_PROGRESS',
    'bytes of request bodies received at once; beyond, 503 (default 1 GiB)',
    'maxBodyBytesInProgress',
    (n) => n,
  ],
  [
    '--max-training-params <n>',
    'MODELPORT_MAX_TRAINING_PARAMS',
    "a training job's estimated parameters (default 50000000)",
    'maxTrainingParams',
    (n) => n,
  ],
  [
    '--max-training-memory-mb <mb>',
    'MODELPORT_MAX_TRAINING_MEMORY_MB',
    "a training job's estimated memory (default 2048)",
    'maxTrainingMemoryBytes',
    (n) => n * 1024 * 1024,
  ],
  [
    '--max-training-work <n>',
    'MODELPORT_MAX_TRAINING_WORK',
    "a training job's multiply-adds, per sample × samples × epochs (default 1e12)",
    'maxTrainingWork',
    (n) => n,
  ],
  [
    '--max-training-epochs <n>',
    'MODELPORT_MAX_TRAINING_EPOCHS',
    'epochs one training job may ask for (default 200)',
    'maxTrainingEpochs',
    (n) => n,
  ],
  ['--max-training-jobs <n>', 'MODELPORT_MAX_TRAINING_JOBS', 'training jobs queued or running (default 64)', 'maxTrainingJobs', (n) => n],
  [
    '--max-training-jobs-per-key <n>',
    'MODELPORT_MAX_TRAINING_JOBS_PER_KEY',
    'training jobs queued or running per API key (default 8)',
    'maxTrainingJobsPerKey',
    (n) => n,
  ],
  ['--max-evaluations <n>', 'MODELPORT_MAX_EVALUATIONS', 'evaluations queued or running (default 64)', 'maxEvaluations', (n) => n],
  [
    '--max-evaluations-per-key <n>',
    'MODELPORT_MAX_EVALUATIONS_PER_KEY',
    'evaluations queued or running per API key (default 8)',
    'maxEvaluationsPerKey',
    (n) => n,
  ],
];

export function addRequestLimitFlags(command: Command): Command {
  for (const [flag, env, help] of FLAGS) command.addOption(new Option(flag, help).env(env));
  return command;
}

/** The options the flags set; each a positive number (work may be written 1e12). */
export function requestLimitOptions(flags: Record<string, unknown>): RequestLimitOptions {
  const options: RequestLimitOptions = {};
  for (const [flag, , , name, convert] of FLAGS) {
    const key = camel(flag.split(' ')[0]!.slice(2));
    const text = flags[key];
    if (text === undefined) continue;
    const value = name === 'maxTrainingWork' ? Number(text) : positive(String(text), flag.split(' ')[0]!);
    if (!(value >= 1) || !Number.isFinite(value)) throw new UsageError(`${flag.split(' ')[0]} must be a positive number, got '${text}'`);
    options[name] = convert(value);
  }
  return options;
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
