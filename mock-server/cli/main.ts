#!/usr/bin/env node
/**
 * The `modelport` command: `serve` runs the server; everything else talks to a server through
 * the SDK. Configuration: flags, then MODELPORT_* environment variables, then defaults.
 */
import { Command, Option } from 'commander';
import type { Modelport as ModelportClient } from 'modelport';
import { PACKAGE_VERSION } from '../server/package-paths';
import { cassetteCommand } from './cassette/command';
import { conformanceCommand } from './conformance';
import { doctorCommand } from './doctor';
import { evaluateCommand } from './evaluate';
import { exportCommand } from './export';
import { EXIT, fail, output } from './output';
import { predictCommand } from './predict';
import { recordCommand } from './record';
import { aliasCommand, keysCommand, modelsCommand, versionsCommand, type Context } from './registry';
import { selectCommand } from './select';
import { serveCommand } from './serve';
import { trainCommand } from './train';

const program = new Command('modelport')
  .version(PACKAGE_VERSION)
  .description('models as a service, locally: a model server with real TensorFlow models, and its client')
  .addOption(new Option('--url <url>', 'server URL').env('MODELPORT_URL').default('http://127.0.0.1:8700'))
  .addOption(new Option('--api-key <key>', 'API key').env('MODELPORT_API_KEY'))
  .option('--json', 'machine-readable output', false)
  .showHelpAfterError()
  .exitOverride();

// The SDK (and ky) is loaded only for the commands that talk to a server, not for `serve`:
// start-up time is measured to /v2/health/ready.
let Modelport: typeof ModelportClient | undefined;
program.hook('preAction', async (_program, action) => {
  if (action.name() !== 'serve') ({ Modelport } = await import('modelport'));
});

const context: Context = () => {
  const options = program.opts();
  return { client: new Modelport!({ baseUrl: options.url, apiKey: options.apiKey }), out: output(options.json) };
};

program.addCommand(serveCommand());
program.addCommand(modelsCommand(context));
program.addCommand(versionsCommand(context));
program.addCommand(aliasCommand(context));
program.addCommand(predictCommand(context));
program.addCommand(evaluateCommand(context));
program.addCommand(selectCommand(context));
program.addCommand(trainCommand(context));
program.addCommand(exportCommand(context));
program.addCommand(keysCommand(context));
program.addCommand(doctorCommand(context));
program.addCommand(conformanceCommand());
program.addCommand(recordCommand());
program.addCommand(cassetteCommand());

// Subcommands built on their own do not inherit exitOverride: give it to every one, so usage
// errors anywhere exit with the usage code rather than commander's own exit.
const override = (command: Command): void => {
  command.exitOverride().showHelpAfterError();
  command.commands.forEach(override);
};
override(program);

// No top-level await: tsup also builds this entry as CommonJS, which has none.
program.parseAsync(process.argv).catch((error: unknown) => {
  const code = (error as { code?: string }).code;
  if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') process.exit(EXIT.ok);
  if (code?.startsWith('commander.')) process.exit(EXIT.usage);
  process.exit(fail(error, program.opts().json));
});
