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
  'DEFAULT_COMPRESS',
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
  'StoreCorruptError',
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
  'createNetworkClient',
  'createRedisStore',
  'createTableStore',
  'describeError',
  'entraV1Issuer',
  'formatClaimsChallenge',
  'generateKeySetting',
  'hasClientCapability',
  'hasErrorCode',
  'isForeignSeal',
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
    const { library: ours, msal } = exported();
    expect(ours).toEqual(expect.arrayContaining([...Object.keys(library), 'CacheStore', 'TokenCacheLogger']));
    expect(msal).toEqual(expect.arrayContaining(['ConfidentialClientApplication', 'Logger', 'CacheOptions']));
    expect(ours.filter((name) => msal.includes(name))).toEqual([]);
  });

  it('documents every exported function with an @example', () => {
    expect(
      exported()
        .functions.filter((f) => !f.example)
        .map((f) => f.name),
    ).toEqual([]);
  });
});

interface Exported {
  /** Every name, values and types, that lib/index.ts exports. */
  readonly library: string[];
  /** The same of @azure/msal-node's type entry point. */
  readonly msal: string[];
  /** The functions lib/index.ts exports, and whether their TSDoc has an `@example`. */
  readonly functions: { name: string; example: boolean }[];
}

let found: Exported | undefined;

/** What lib/index.ts and @azure/msal-node export, as TypeScript sees them (once per file: it takes a few seconds). */
function exported(): Exported {
  found ??= exportsOf();
  return found;
}

function exportsOf(): Exported {
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
  const exportsOf = (file: string) => {
    const source = program.getSourceFile(file);
    const module = source && checker.getSymbolAtLocation(source);
    if (!module) throw new Error(`${file} is not a module`);
    return checker.getExportsOfModule(module);
  };
  const ours = exportsOf(entry);
  const functions = ours.flatMap((symbol) => {
    const declarations = checker.getAliasedSymbol(symbol).declarations ?? [];
    if (!declarations.some(ts.isFunctionDeclaration)) return [];
    const example = declarations.some((d) => ts.getJSDocTags(d).some((tag) => tag.tagName.text === 'example'));
    return [{ name: symbol.name, example }];
  });
  return { library: ours.map((s) => s.name), msal: exportsOf(msalTypes).map((s) => s.name), functions };
}
