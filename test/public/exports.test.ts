/**
 * The library's public API, as another app sees it: this folder imports nothing of lib/ but its entry point.
 * Each value export is exercised by a test in test/public/; this file pins the list, so an export added without a
 * test here fails.
 */
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as library from '../../lib/index.js';

const EXERCISED = [
  'BearerError',
  'COSMOS_MAX_ITEM_BYTES',
  'DEFAULT_AUTHORITY_HOST',
  'DEFAULT_CACHE_LIFETIME_MS',
  'DEFAULT_CLOCK_TOLERANCE_SECONDS',
  'DEFAULT_COSMOS_CONTAINER_ID',
  'DEFAULT_COSMOS_DATABASE_ID',
  'DEFAULT_COSMOS_OPERATION_TIMEOUT_MS',
  'DEFAULT_COSMOS_REQUEST_TIMEOUT_MS',
  'DEFAULT_JWKS_TIMEOUT_MS',
  'DEFAULT_LIST_PAGE_SIZE',
  'DEFAULT_MAX_WRITE_ATTEMPTS',
  'DEFAULT_NETWORK_TIMEOUT_MS',
  'DEFAULT_REDIS_CONNECT_TIMEOUT_MS',
  'DEFAULT_REDIS_KEY_PREFIX',
  'DEFAULT_REDIS_MAX_DOCUMENT_BYTES',
  'DEFAULT_REDIS_MIN_TTL_MS',
  'DEFAULT_REDIS_OPERATION_TIMEOUT_MS',
  'DEFAULT_SWEEP_BUDGET',
  'DEFAULT_TABLE_MAX_RETRIES',
  'DEFAULT_TABLE_NAME',
  'DEFAULT_TABLE_OPERATION_TIMEOUT_MS',
  'DEFAULT_TABLE_REQUEST_TIMEOUT_MS',
  'DEFAULT_WARM_TIER_BYTES',
  'MAX_CLAIMS_LENGTH',
  'MAX_OBO_TOKENS_PER_TARGET',
  'PartitionNotSavedError',
  'PartitionedTokenCache',
  'StoreConflictError',
  'StoreError',
  'StoreTooLargeError',
  'TABLE_MAX_ENTITY_BYTES',
  'TOKEN_TELEMETRY_PREFIX',
  'TokenCacheError',
  'appPartitionKey',
  'classifyTokenError',
  'createBearerValidator',
  'createCosmosStore',
  'createKeyRing',
  'createMemoryStore',
  'createRedisStore',
  'createTableStore',
  'describeError',
  'entraV1Issuer',
  'formatClaimsChallenge',
  'generateKeySetting',
  'hasClientCapability',
  'hasErrorCode',
  'openRecord',
  'parseClaimsChallenge',
  'parseKeyRing',
  'partitionKeyOfAccount',
  'sealRecord',
  'sweepExpired',
  'userPartitionKey',
];

describe('the entry point', () => {
  it('exports exactly the values test/public/ exercises', () => {
    expect(Object.keys(library).sort()).toEqual([...EXERCISED].sort());
  });

  it('exports no name msal-node also exports', async () => {
    const msal = await import('@azure/msal-node');
    expect(Object.keys(library).filter((name) => name in msal)).toEqual([]);
  });

  it('exports no name msal-node also exports, types included', () => {
    const { library: ours, msal } = exportedNames();
    expect(ours).toEqual(expect.arrayContaining([...Object.keys(library), 'CacheStore', 'TokenCacheLogger']));
    expect(msal).toEqual(expect.arrayContaining(['ConfidentialClientApplication', 'Logger', 'CacheOptions']));
    expect(ours.filter((name) => msal.includes(name))).toEqual([]);
  });
});

/** Every name, values and types, that lib/index.ts and @azure/msal-node's type entry point export (TypeScript's view). */
function exportedNames(): { library: string[]; msal: string[] } {
  const libDir = join(import.meta.dirname, '..', '..', 'lib');
  const config = ts.getParsedCommandLineOfConfigFile(
    join(libDir, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    },
  );
  if (!config) throw new Error('lib/tsconfig.json could not be read');
  const entry = join(libDir, 'index.ts');
  const msalTypes = ts.resolveModuleName('@azure/msal-node', entry, config.options, ts.sys).resolvedModule
    ?.resolvedFileName;
  if (!msalTypes) throw new Error('the types of @azure/msal-node could not be resolved');
  const program = ts.createProgram([entry, msalTypes], { ...config.options, noEmit: true });
  const checker = program.getTypeChecker();
  const namesOf = (file: string) => {
    const source = program.getSourceFile(file);
    const module = source && checker.getSymbolAtLocation(source);
    if (!module) throw new Error(`${file} is not a module`);
    return checker.getExportsOfModule(module).map((symbol) => symbol.name);
  };
  return { library: namesOf(entry), msal: namesOf(msalTypes) };
}
