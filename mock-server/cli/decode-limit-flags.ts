/**
 * `modelport serve`'s flags for how much one request may make the server decode and keep: JSON
 * bodies, inference inputs, encoded images, dataset uploads and the request journal (issue #18; the
 * defaults are server/state.ts's DEFAULT_LIMITS, listed in mock-server/README.md's Limits). Each
 * flag also reads an environment variable.
 */
import { Option, type Command } from 'commander';
import type { ServerOptions } from '../server/state';
import { positive } from './flags';

type DecodeLimitOptions = Pick<
  ServerOptions,
  | 'maxJsonBodyBytes'
  | 'maxInputElements'
  | 'maxInputStrings'
  | 'maxImagePixels'
  | 'maxDatasetRows'
  | 'maxDatasetElements'
  | 'maxJournalBytes'
>;

/** flag, environment variable, help, and the option it sets. */
const FLAGS: [string, string, string, keyof DecodeLimitOptions][] = [
  ['--max-json-body-bytes <bytes>', 'MODELPORT_MAX_JSON_BODY_BYTES', 'largest JSON request body (default 4194304)', 'maxJsonBodyBytes'],
  [
    '--max-input-elements <n>',
    'MODELPORT_MAX_INPUT_ELEMENTS',
    'elements one inference input may declare (default 262144)',
    'maxInputElements',
  ],
  [
    '--max-input-strings <n>',
    'MODELPORT_MAX_INPUT_STRINGS',
    'elements one BYTES inference input may declare (default 262144)',
    'maxInputStrings',
  ],
  [
    '--max-image-pixels <n>',
    'MODELPORT_MAX_IMAGE_PIXELS',
    "pixels an encoded image input's header may declare (default 16777216)",
    'maxImagePixels',
  ],
  ['--max-dataset-rows <n>', 'MODELPORT_MAX_DATASET_ROWS', 'records one dataset upload may have (default 1000000)', 'maxDatasetRows'],
  [
    '--max-dataset-elements <n>',
    'MODELPORT_MAX_DATASET_ELEMENTS',
    'numbers one dataset upload may hold (default 16777216)',
    'maxDatasetElements',
  ],
  [
    '--max-journal-bytes <bytes>',
    'MODELPORT_MAX_JOURNAL_BYTES',
    'bytes the request journal keeps (test controls; default 33554432)',
    'maxJournalBytes',
  ],
];

export function addDecodeLimitFlags(command: Command): Command {
  for (const [flag, env, help] of FLAGS) command.addOption(new Option(flag, help).env(env));
  return command;
}

/** The options the flags set, each a positive integer. */
export function decodeLimitOptions(flags: Record<string, unknown>): DecodeLimitOptions {
  const options: DecodeLimitOptions = {};
  for (const [flag, , , name] of FLAGS) {
    const text = flags[name]; // commander names `--max-input-elements` maxInputElements, as the option is
    if (text !== undefined) options[name] = positive(String(text), flag.split(' ')[0]!);
  }
  return options;
}
