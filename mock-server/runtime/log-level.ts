/** How much native TensorFlow logs, decided before its library loads (see tensorflowLogLevel). */

/**
 * TensorFlow's C++ log level (TF_CPP_MIN_LOG_LEVEL) for this process and the processes it starts:
 * the user's own value wins; MODELPORT_VERBOSE=1 (`modelport serve --verbose`) shows everything
 * (0); otherwise 1, which hides TensorFlow's INFO lines (CPU features, each SavedModel's reader and
 * loader steps, the MLIR pass) and keeps its warnings and errors. Measured on TensorFlow 2.21:
 * two lines ignore every level, because TensorFlow writes them while it loads, before it applies
 * the level: absl's "WARNING: All log messages before absl::InitializeLog() is called are written
 * to STDERR" and "oneDNN custom operations are on" (Python TensorFlow prints them too); only
 * `modelport serve` at a terminal hides those (cli/quiet-start.ts).
 */
export function tensorflowLogLevel(env: NodeJS.ProcessEnv = process.env): string {
  return env.TF_CPP_MIN_LOG_LEVEL ?? (isVerbose(env) ? '0' : '1');
}

/** MODELPORT_VERBOSE: 1, true, yes or on. */
export function isVerbose(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes|on)$/i.test(env.MODELPORT_VERBOSE ?? '');
}
