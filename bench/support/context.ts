/** Invocation contexts and requests as the Functions host builds them (`@azure/functions` is CommonJS). */
import functions, { type HttpRequest, type InvocationContext } from '@azure/functions';
import { TOKEN_TELEMETRY_PREFIX, type TokenCacheLogger } from '../../lib/index.js';

/** What the handler's telemetry line reports about its cache use. */
export interface TelemetryLine {
  readonly reads: number;
  readonly writes: number;
  readonly conflicts: number;
  readonly storeMs: number;
  readonly fromCache?: boolean;
}

/**
 * A context whose warnings and errors go to `logger.warn`, whose token-cache telemetry line goes to `onTelemetry`,
 * and whose other lines are dropped.
 */
export function benchContext(
  functionName: string,
  logger: TokenCacheLogger,
  onTelemetry?: (line: TelemetryLine) => void,
): InvocationContext {
  return new functions.InvocationContext({
    functionName,
    logHandler: (level, ...args) => {
      if (level === 'warning' || level === 'error') logger.warn(...args);
      const [first] = args;
      if (onTelemetry && typeof first === 'string' && first.startsWith(`${TOKEN_TELEMETRY_PREFIX} `)) {
        onTelemetry(JSON.parse(first.slice(TOKEN_TELEMETRY_PREFIX.length + 1)) as TelemetryLine);
      }
    },
  });
}

export function bearerRequest(url: string, token: string): HttpRequest {
  return new functions.HttpRequest({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
}
