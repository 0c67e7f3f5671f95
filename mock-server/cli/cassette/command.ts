/** `modelport cassette ...`: commands on recorded cassettes (the file format of `modelport record`). */
import { Command } from 'commander';
import { diffCommand } from './diff';

export function cassetteCommand(): Command {
  return new Command('cassette').description('work with cassettes recorded by `modelport record`').addCommand(diffCommand());
}
