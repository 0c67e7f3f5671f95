/**
 * Python TensorFlow 2.21 for the tests that check exported SavedModels with real TensorFlow.
 *
 * It lives in a folder used as PYTHONPATH (`<repo>/.cache/python-tf-2.21.0`, gitignored;
 * MODELPORT_PYTHON_TF names another) and is installed there with pip when missing. When it
 * cannot be had, tests fail with the reason in CI and are skipped with the reason elsewhere.
 * Loading TensorFlow costs seconds, so a test file runs Python once for all its models.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const PYTHON_TF_VERSION = '2.21.0';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PYTHON = process.env.PYTHON ?? 'python3';
const run = promisify(execFile);

export interface PythonTf {
  /** The PYTHONPATH folder holding tensorflow. */
  dir: string;
  /** Runs `python3 <script> ...args` with TensorFlow importable; resolves to stdout, rejects with stderr's tail. */
  run(script: string, args: string[], timeoutMs?: number): Promise<string>;
}

export function pythonTfDir(): string {
  return process.env.MODELPORT_PYTHON_TF ?? path.join(ROOT, '.cache', `python-tf-${PYTHON_TF_VERSION}`);
}

/** Installed means pip's record of tensorflow-cpu at this version is in the folder (importing TF to check costs seconds). */
function installed(dir: string): boolean {
  return (
    existsSync(path.join(dir, 'tensorflow', '__init__.py')) && existsSync(path.join(dir, `tensorflow_cpu-${PYTHON_TF_VERSION}.dist-info`))
  );
}

/** Finds Python TensorFlow, installing it when missing; the reason it cannot be had otherwise. */
export async function findPythonTf(): Promise<PythonTf | { missing: string }> {
  const dir = pythonTfDir();
  if (!installed(dir)) {
    const started = Date.now();
    console.log(`[python-tf] installing tensorflow-cpu==${PYTHON_TF_VERSION} into ${dir} (pip, once) ...`);
    try {
      await run(PYTHON, ['-m', 'pip', 'install', '-q', '--retries', '0', '--target', dir, `tensorflow-cpu==${PYTHON_TF_VERSION}`], {
        timeout: 15 * 60_000,
        maxBuffer: 64 << 20,
      });
    } catch (error) {
      return {
        missing: `pip could not install tensorflow-cpu==${PYTHON_TF_VERSION} into ${dir}: ${failure(error)}`,
      };
    }
    console.log(`[python-tf] installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    if (!installed(dir)) return { missing: `pip ran, but ${dir} holds no tensorflow-cpu ${PYTHON_TF_VERSION}` };
  }
  return {
    dir,
    run: async (script, args, timeoutMs = 120_000) => {
      const env = { ...process.env, PYTHONPATH: dir, TF_CPP_MIN_LOG_LEVEL: '2', CUDA_VISIBLE_DEVICES: '' };
      try {
        return (await run(PYTHON, [script, ...args], { env, timeout: timeoutMs, maxBuffer: 64 << 20 })).stdout;
      } catch (error) {
        throw new Error(`${PYTHON} ${path.basename(script)} failed: ${failure(error)}`);
      }
    },
  };
}

/**
 * For a test file: Python TensorFlow, or undefined to skip (said loudly). In CI (env CI set) a
 * missing TensorFlow throws, so the file fails with the reason instead of passing unchecked.
 */
export async function pythonTfForTests(): Promise<PythonTf | undefined> {
  const found = await findPythonTf();
  if ('run' in found) return found;
  if (process.env.CI) throw new Error(`Python TensorFlow is required in CI: ${found.missing}`);
  console.warn(`\n*** SKIPPED: the export fidelity tests need Python TensorFlow ${PYTHON_TF_VERSION}: ${found.missing} ***\n`);
  return undefined;
}

/** The last lines of a failed command's stderr, or its error (exit code, timeout, missing command). */
function failure(error: unknown): string {
  const stderr = (error as { stderr?: string }).stderr?.trim();
  return stderr ? stderr.split('\n').slice(-6).join('\n') : (error as Error).message;
}
