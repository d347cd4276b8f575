/**
 * dev/cosmos-if-none-match.ts: a Cosmos DB server opted in answers a conditional point read 304 without a body, as
 * the service does, while a server not opted in (in the same process) keeps the package's 200.
 */
import { CosmosClient, type Container } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCosmosServer, type CosmosServer } from '../dev/emulators.js';

let answering: CosmosServer;
let plain: CosmosServer;
const disposals: (() => void)[] = [];

beforeAll(async () => {
  [answering, plain] = await Promise.all([startCosmosServer({ answerIfNoneMatch: true }), startCosmosServer()]);
});

afterAll(async () => {
  for (const dispose of disposals) dispose();
  await Promise.all([answering?.close(), plain?.close()]);
});

async function containerOn(server: CosmosServer): Promise<Container> {
  const client = new CosmosClient({
    endpoint: server.endpoint,
    key: server.key,
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  disposals.push(() => client.dispose());
  const { database } = await client.databases.createIfNotExists({ id: 'conditional' });
  const { container } = await database.containers.createIfNotExists({ id: 'c', partitionKey: { paths: ['/id'] } });
  return container;
}

const ifNoneMatch = (condition: string) => ({ accessCondition: { type: 'IfNoneMatch', condition } });

describe('a Cosmos DB server answering If-None-Match', () => {
  it("answers 304 without a body when the header lists the item's etag (weak or strong) or *, 200 with the item otherwise", async () => {
    const container = await containerOn(answering);
    const { resource: created } = await container.items.create({ id: 'item', data: 'v1' });
    const etag = created!._etag;
    const item = container.item('item', 'item');

    const unchanged = await item.read(ifNoneMatch(etag));
    expect(unchanged.statusCode).toBe(304);
    expect(unchanged.resource).toBeNull();
    expect(unchanged.etag).toBe(etag);
    expect((await item.read(ifNoneMatch('*'))).statusCode).toBe(304);
    expect((await item.read(ifNoneMatch(`"other", ${etag}`))).statusCode).toBe(304);
    expect((await item.read(ifNoneMatch(`W/${etag}`))).statusCode).toBe(304);

    const other = await item.read<{ data: string }>(ifNoneMatch('"other"'));
    expect(other.statusCode).toBe(200);
    expect(other.resource?.data).toBe('v1');

    await item.replace({ id: 'item', data: 'v2' });
    const changed = await item.read<{ data: string }>(ifNoneMatch(etag));
    expect(changed.statusCode).toBe(200);
    expect(changed.resource?.data).toBe('v2');
    expect((await container.item('missing', 'missing').read(ifNoneMatch(etag))).statusCode).toBe(404);
  });

  it('leaves a server not opted in answering 200 with the item', async () => {
    const container = await containerOn(plain);
    const { resource: created } = await container.items.create({ id: 'item', data: 'v1' });
    const read = await container.item('item', 'item').read<{ data: string }>(ifNoneMatch(created!._etag));
    expect(read.statusCode).toBe(200);
    expect(read.resource?.data).toBe('v1');
  });
});
