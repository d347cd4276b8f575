/**
 * The library's network client to the identity provider (lib/auth/network.ts) against a real local HTTPS server:
 * a kept-alive connection that the server resets as a request goes out on it.
 */
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createNetworkClient } from '../../lib/auth/network.js';
import { createTlsMaterial } from '../../dev/authority/tls.js';

interface ResettingServer {
  readonly url: string;
  readonly ca: string;
  /** Requests that reached the server, answered or reset. */
  readonly requests: () => number;
  readonly close: () => Promise<void>;
}

/**
 * Answers with JSON the requests `answers` accepts (given the request's number on its connection and overall, from 0);
 * closes the connection unanswered when any other arrives.
 */
async function resettingServer(answers: (onConnection: number, overall: number) => boolean): Promise<ResettingServer> {
  const { key, cert } = await createTlsMaterial();
  const served = new WeakMap<Socket, number>();
  let requests = 0;
  const server: Server = createServer({ key, cert }, (req, res) => {
    const socket = req.socket;
    const count = served.get(socket) ?? 0;
    served.set(socket, count + 1);
    if (!answers(count, requests++)) {
      socket.destroy();
      return;
    }
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `https://127.0.0.1:${port}/token`,
    ca: cert,
    requests: () => requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('network client', () => {
  const closers: Array<() => unknown> = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });
  const started = async (answers: (onConnection: number, overall: number) => boolean) => {
    const server = await resettingServer(answers);
    const client = createNetworkClient({ ca: server.ca });
    closers.push(server.close, () => client.close());
    return { server, client };
  };

  it('sends a request once more on a new connection when the kept-alive one it went out on is reset unanswered', async () => {
    const { server, client } = await started((onConnection) => onConnection === 0);
    const refresh = { body: 'grant_type=refresh_token&refresh_token=r' };
    expect((await client.sendPostRequestAsync(server.url, refresh)).status).toBe(200);
    const second = await client.sendPostRequestAsync<{ ok: boolean }>(server.url, refresh);
    expect(second).toMatchObject({ status: 200, body: { ok: true } });
    expect(server.requests()).toBe(3);
  });

  it('sends nothing more when a new connection is reset', async () => {
    const { server, client } = await started(() => false);
    await expect(client.sendGetRequestAsync(server.url)).rejects.toThrow(/identity provider request to .* failed/);
    expect(server.requests()).toBe(1);
  });

  it('sends a request at most twice when the resent one is reset too', async () => {
    const { server, client } = await started((_, overall) => overall === 0);
    expect((await client.sendGetRequestAsync(server.url)).status).toBe(200);
    const obo = { body: 'grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a' };
    await expect(client.sendPostRequestAsync(server.url, obo)).rejects.toThrow(/failed/);
    expect(server.requests()).toBe(3);
  });

  it('does not send an authorization code again: the server may have redeemed it before the reset', async () => {
    const { server, client } = await started((onConnection) => onConnection === 0);
    expect((await client.sendGetRequestAsync(server.url)).status).toBe(200);
    const code = { body: 'grant_type=authorization_code&code=c&code_verifier=v' };
    await expect(client.sendPostRequestAsync(server.url, code)).rejects.toThrow(/failed/);
    expect(server.requests()).toBe(2);
  });

  it('refuses a timeout that is not a positive number of milliseconds Node can wait, or extra CAs that are not PEM, when made', () => {
    // 2 ** 31 ms: longer than Node's timers wait (they fire after 1 ms instead).
    const invalid = [
      { timeoutMs: -1 },
      { timeoutMs: 0 },
      { timeoutMs: Number.NaN },
      { timeoutMs: '5' },
      { timeoutMs: 2 ** 31 },
    ];
    for (const options of invalid) {
      expect(() => createNetworkClient(options as { timeoutMs: number }), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: 'invalid_options' }) as Error,
      );
    }
    expect(() => createNetworkClient({ ca: 'not a certificate' })).toThrow(/PEM/);
    createNetworkClient({ timeoutMs: 1 }).close();
    createNetworkClient({ timeoutMs: 2 ** 31 - 1 }).close();
  });
});
