// @azure/functions is CommonJS: Node's ESM loader cannot see its classes as named exports (only `app`).
import functions, { type InvocationContext } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import { format } from 'node:util';

export type HostLog = (level: string, functionName: string, message: string) => void;

export const stdoutLog: HostLog = (level, name, message) =>
  process.stdout.write(`[${new Date().toISOString()}] ${level.padEnd(11)} ${name}: ${message}\n`);

/**
 * An invocation context whose log lines go to the host's log, formatted as the Azure Functions worker formats them
 * (`util.format`: an error's stack and cause included).
 */
export function createContext(functionName: string, log: HostLog): InvocationContext {
  return new functions.InvocationContext({
    invocationId: randomUUID(),
    functionName,
    logHandler: (level, ...args) => log(level, functionName, format(...args)),
  });
}
