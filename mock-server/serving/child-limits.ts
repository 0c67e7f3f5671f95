/**
 * Starts a command under resource limits (setrlimit), for the upload inspection child. Node has no
 * setrlimit of its own, so a small wrapper sets them and execs the command in the same process:
 * `prlimit` (util-linux, on every Debian and most Linux systems) when it is on the PATH, else POSIX
 * `sh`'s `ulimit`, else none (Windows), which is logged once. RLIMIT_AS is not among them: Node and
 * TensorFlow reserve tens of GB of address space they never touch (34 GB measured with native
 * TensorFlow loaded, for 0.4 GB resident), so memory is bounded by inspection-process.ts's RSS
 * watchdog instead.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

export interface ProcessLimits {
  /** RLIMIT_CPU: seconds of CPU time (all threads together). */
  cpuSeconds: number;
  /** RLIMIT_FSIZE: bytes one file may grow to. */
  fileBytes: number;
  /** RLIMIT_NOFILE: open file descriptors. */
  openFiles: number;
}

export interface LimitedCommand {
  command: string;
  args: string[];
  /** How the limits are set, or why they are not. */
  enforcedBy: 'prlimit' | 'sh' | 'none';
}

let warned = false;

/** `argv` (a program and its arguments) run under `limits`, with no core dumps. */
export function limitedCommand(argv: string[], limits: ProcessLimits, find = onPath): LimitedCommand {
  const [program, ...rest] = argv as [string, ...string[]];
  const prlimit = find('prlimit');
  if (prlimit) {
    const flags = [`--cpu=${limits.cpuSeconds}`, `--fsize=${limits.fileBytes}`, `--nofile=${limits.openFiles}`, '--core=0'];
    return { command: prlimit, args: [...flags, '--', program, ...rest], enforcedBy: 'prlimit' };
  }
  const sh = find('sh');
  if (sh) {
    // One `ulimit` per limit (dash takes one at a time), each allowed to fail on its own (a hard
    // limit already lower), `-f` in POSIX 512-byte blocks; then exec keeps the process id.
    const blocks = Math.ceil(limits.fileBytes / 512);
    const script = [`-t ${limits.cpuSeconds}`, `-f ${blocks}`, `-n ${limits.openFiles}`, '-c 0']
      .map((flag) => `ulimit ${flag} 2>/dev/null || :`)
      .join('; ');
    return { command: sh, args: ['-c', `${script}; exec "$@"`, 'sh', program, ...rest], enforcedBy: 'sh' };
  }
  if (!warned) {
    warned = true;
    console.warn(
      '[modelport] upload inspection runs without rlimits (neither prlimit nor sh is on the PATH); its timeout and memory watchdog still apply',
    );
  }
  return { command: program, args: rest, enforcedBy: 'none' };
}

const found = new Map<string, string | undefined>();

/** The executable's full path on the PATH, if any (looked up once per name). */
function onPath(name: string): string | undefined {
  if (process.platform === 'win32') return undefined;
  if (!found.has(name)) {
    const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
    found.set(
      name,
      dirs.map((dir) => path.join(dir, name)).find((file) => existsSync(file)),
    );
  }
  return found.get(name);
}
