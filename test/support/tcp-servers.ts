/** Two tiny real TCP servers on loopback for the proxy tests: one echoes, one accepts and never reads. */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface LoopbackServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

async function serve(onSocket: (socket: Socket) => void): Promise<LoopbackServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Writes back whatever it reads. */
export function startEchoServer(): Promise<LoopbackServer> {
  return serve((socket) => socket.pipe(socket));
}

/** Accepts connections and never reads from them: whoever writes to it fills the kernel buffers and stalls. */
export function startStallingServer(): Promise<LoopbackServer> {
  return serve((socket) => socket.pause());
}

/** Connects a plain socket; resolves once connected. */
export function connectTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Resolves with the error code a connection attempt fails with, or 'connected'. */
export function connectOutcome(port: number): Promise<string> {
  return connectTo(port).then(
    (socket) => {
      socket.destroy();
      return 'connected';
    },
    (error: NodeJS.ErrnoException) => error.code ?? error.message,
  );
}
