import { ConfidentialClientApplication, LogLevel, type Configuration, type INetworkModule } from '@azure/msal-node';
import { type Logger } from '../log.js';
import type { KeyRing } from '../cache/keyring.js';
import type { L1Cache } from '../cache/l1.js';
import { PartitionCachePlugin } from '../cache/plugin.js';
import type { CacheStore } from '../cache/stores/store.js';
import { Coalescer } from './coalesce.js';
import { createNetworkClient } from './network.js';
import type { TokenOutcome } from './tokens.js';
import { lazy } from '../lazy.js';

/** How this app authenticates to the identity provider. */
export type ClientCredential =
  | { readonly clientSecret: string }
  | {
      readonly clientCertificate: {
        readonly thumbprintSha256: string;
        readonly privateKey: string;
        readonly x5c?: string;
      };
    };

export interface IdentityOptions {
  /** The app registration's client id. */
  readonly clientId: string;
  /** The home tenant (GUID or domain) used in the authority URL. */
  readonly tenantId: string;
  /** Authority host, e.g. `https://login.microsoftonline.com`. */
  readonly authorityHost: string;
  readonly credential: ClientCredential;
  /** Extra CA (PEM) to trust for the authority — for a local development authority only. */
  readonly ca?: string;
}

export interface CacheOptions {
  readonly store: CacheStore;
  readonly keyRing: KeyRing;
  /** Deflate before encrypting. Default false. */
  readonly compress?: boolean;
  /** Document lifetime after its last write. Default 90 days. */
  readonly lifetimeMs?: number;
  /** Optional per-instance L1 tier, shared by all invocations of the process. Default none. */
  readonly l1?: L1Cache;
}

/** An MSAL client and the cache plugin bound to the one partition it may touch, for one invocation. */
export interface InvocationClient {
  readonly client: ConfidentialClientApplication;
  readonly plugin: PartitionCachePlugin;
}

/**
 * Builds a fresh `ConfidentialClientApplication` per invocation — so MSAL's in-memory cache never holds two
 * partitions — while sharing, per process, the network client (keep-alive connections) and the authority's
 * metadata (fetched once, so no discovery request per invocation).
 */
export class ClientFactory {
  readonly identity: IdentityOptions;
  readonly cache: CacheOptions;
  /** Shared by MSAL and the JWKS fetch. */
  readonly network: INetworkModule;
  /** Identical token acquisitions in flight in this process (see lib/auth/tokens.ts). */
  readonly inFlight = new Coalescer<TokenOutcome>();
  private readonly metadata = lazy(() => this.fetchAuthorityMetadata());

  constructor(identity: IdentityOptions, cache: CacheOptions) {
    this.identity = identity;
    this.cache = cache;
    this.network = createNetworkClient(identity.ca ? { ca: identity.ca } : {});
  }

  get authority(): string {
    return `${this.identity.authorityHost.replace(/\/+$/, '')}/${this.identity.tenantId}`;
  }

  /** The openid-configuration of the authority, fetched once per process (retried after a failure). */
  authorityMetadata(): Promise<string> {
    return this.metadata.get();
  }

  private async fetchAuthorityMetadata(): Promise<string> {
    const response = await this.network.sendGetRequestAsync<Record<string, unknown>>(
      `${this.authority}/v2.0/.well-known/openid-configuration`,
    );
    if (response.status !== 200 || typeof response.body.token_endpoint !== 'string') {
      throw new Error(`authority metadata request answered HTTP ${response.status}`);
    }
    return JSON.stringify(response.body);
  }

  async forPartition(partitionKey: string, logger: Logger): Promise<InvocationClient> {
    const plugin = new PartitionCachePlugin({ ...this.cache, partitionKey, logger });
    return { client: new ConfidentialClientApplication(await this.configuration(logger, plugin)), plugin };
  }

  /**
   * A client with an in-memory cache only, for steps that run before the user's partition is known (building the
   * sign-in URL, redeeming the code); its entries then go to the partition with `plugin.importEntries`.
   */
  async withoutPersistence(logger: Logger): Promise<ConfidentialClientApplication> {
    return new ConfidentialClientApplication(await this.configuration(logger, undefined));
  }

  private async configuration(logger: Logger, plugin: PartitionCachePlugin | undefined): Promise<Configuration> {
    return {
      auth: {
        clientId: this.identity.clientId,
        authority: this.authority,
        knownAuthorities: [new URL(this.identity.authorityHost).host],
        authorityMetadata: await this.authorityMetadata(),
        ...this.identity.credential,
      },
      ...(plugin ? { cache: { cachePlugin: plugin } } : {}),
      system: {
        networkClient: this.network,
        loggerOptions: {
          piiLoggingEnabled: false,
          logLevel: LogLevel.Warning,
          // MSAL's warnings are routine (e.g. "No client info in response" for every app token): info level.
          loggerCallback: (level, message) => {
            if (level === LogLevel.Error) logger.warn(`msal: ${message}`);
            else logger.info(`msal: ${message}`);
          },
        },
      },
    };
  }
}
