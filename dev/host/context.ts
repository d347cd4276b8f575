// @azure/functions is CommonJS: Node's ESM loader cannot see its classes as named exports (only `app`).
import functions, { type InvocationContext } from '@azure/functions';
import { AsyncLocalStorage } from 'node:async_hooks';
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

/** The invocation a piece of code runs for: an HTTP request or a timer run the local host started. */
export interface InvocationScope {
  readonly invocationId: string;
  readonly functionName: string;
}

const invocations = new AsyncLocalStorage<InvocationScope>();

/** Runs a function's handler as one invocation: code it calls (and awaits) sees it in {@link currentInvocation}. */
export function runInvocation<T>(context: InvocationContext, handler: () => T): T {
  return invocations.run({ invocationId: context.invocationId, functionName: context.functionName }, handler);
}

/** The local host's invocation the calling code runs for; undefined outside any (a test's or a check's own code). */
export function currentInvocation(): InvocationScope | undefined {
  return invocations.getStore();
}
