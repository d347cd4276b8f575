/** Listening on loopback with a connection cap, and resetting sockets: shared by the TCP and HTTP proxies. */
import type { AddressInfo, Server, Socket } from 'node:net';
import type { MutableCounters } from './faults.js';

export const LOOPBACK = '127.0.0.1';

/**
 * Listens on 127.0.0.1 (`port` 0: a free one) with at most `maxConnections` open client connections — Node drops
 * the ones beyond as they arrive — and keeps the connection counters. Resolves with the port.
 */
export async function listenLoopback(
  server: Server,
  port: number,
  maxConnections: number,
  counters: MutableCounters,
): Promise<number> {
  server.maxConnections = maxConnections;
  server.on('drop', () => counters.connections.rejected++);
  server.on('connection', (socket: Socket) => {
    counters.connections.accepted++;
    counters.connections.active++;
    socket.once('close', () => counters.connections.active--);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: LOOPBACK }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Closes the socket with a TCP RST (the peer sees ECONNRESET), or plainly when it has no connection to reset. */
export function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    // Not connected yet (ERR_SOCKET_CLOSED): nothing to reset.
    socket.destroy();
  }
}

export function validateLimit(name: string, value: number): number {
  if (!(Number.isInteger(value) && value > 0)) throw new RangeError(`${name} must be a positive whole number`);
  return value;
}
