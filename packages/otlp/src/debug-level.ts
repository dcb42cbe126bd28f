const DEBUG_LEVELS = new Set(['debug', 'verbose', 'all']);

/** Whether OTEL_LOG_LEVEL in `env` asks for the debug log (`debug`, `verbose` or `all`). */
export function debugFromEnv(env: Readonly<Record<string, string | undefined>>): boolean {
  return DEBUG_LEVELS.has((env.OTEL_LOG_LEVEL ?? '').trim().toLowerCase());
}
