/**
 * The logging surface the library needs; an Azure Functions `InvocationContext` satisfies it, and so does `console`.
 * Callers must never pass a token, a secret or a cache's contents: the library only logs codes, sizes and keys.
 */
export interface TokenCacheLogger {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/**
 * Formats an error for a log line: its name, code and message, and those of its causes — never a stack of data.
 *
 * @example
 * ```ts
 * context.warn(`no token: ${describeError(error)}`);
 * ```
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    if (current instanceof Error) {
      const code = (current as { code?: unknown }).code;
      const status = (current as { statusCode?: unknown }).statusCode;
      const tags = [
        typeof code === 'string' ? code : undefined,
        typeof status === 'number' ? `HTTP ${status}` : undefined,
      ]
        .filter(Boolean)
        .join(', ');
      parts.push(`${current.name}${tags ? ` [${tags}]` : ''}: ${firstLine(current.message)}`);
      current = current.cause;
    } else {
      parts.push(typeof current === 'string' ? firstLine(current) : `non-error value (${typeof current})`);
      break;
    }
  }
  return parts.join(' <- ');
}

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
