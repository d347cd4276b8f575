import { ConfidentialClientApplication, LogLevel, type Configuration, type INetworkModule } from '@azure/msal-node';
import { TokenCacheError } from '../errors.js';
import type { TokenCacheLogger } from '../log.js';
import { PartitionCachePlugin, type PartitionCachePluginOptions } from '../cache/plugin.js';
import { lazy } from '../lazy.js';

/** How the app authenticates to the identity provider: exactly one of a secret or a certificate. */
export type ClientCredential =
  | { readonly clientSecret: string }
  | {
      readonly clientCertificate: {
        readonly thumbprintSha256: string;
        readonly privateKey: string;
        readonly x5c?: string;
      };
    };

export interface ClientIdentity {
  readonly clientId: string;
  readonly tenantId: string;
  /** Without a trailing slash. */
  readonly authorityHost: string;
  readonly credential: ClientCredential;
  /** msal-node's `clientCapabilities`, declared on every request (empty: none). */
  readonly clientCapabilities: readonly string[];
}

/** What every plugin of this process shares: all plugin options but the partition and the logger. */
export type SharedPluginOptions = Omit<PartitionCachePluginOptions, 'partitionKey' | 'logger'>;

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
  private readonly metadata = lazy(() => this.fetchAuthorityMetadata());

  constructor(
    readonly identity: ClientIdentity,
    private readonly plugins: SharedPluginOptions,
    readonly network: INetworkModule,
  ) {}

  get authority(): string {
    return `${this.identity.authorityHost}/${this.identity.tenantId}`;
  }

  /** The openid-configuration of the authority, fetched once per process (retried after a failure). */
  authorityMetadata(): Promise<string> {
    return this.metadata.get();
  }

  private async fetchAuthorityMetadata(): Promise<string> {
    const url = `${this.authority}/v2.0/.well-known/openid-configuration`;
    let response;
    try {
      response = await this.network.sendGetRequestAsync<Record<string, unknown>>(url);
    } catch (cause) {
      throw new TokenCacheError('authority_unavailable', `authority metadata could not be fetched from ${url}`, {
        cause,
      });
    }
    if (response.status !== 200 || typeof response.body.token_endpoint !== 'string') {
      throw new TokenCacheError('authority_unavailable', `authority metadata request answered HTTP ${response.status}`);
    }
    return JSON.stringify(response.body);
  }

  plugin(partitionKey: string, logger: TokenCacheLogger): PartitionCachePlugin {
    return new PartitionCachePlugin({ ...this.plugins, partitionKey, logger });
  }

  async forPartition(partitionKey: string, logger: TokenCacheLogger): Promise<InvocationClient> {
    const plugin = this.plugin(partitionKey, logger);
    return { client: new ConfidentialClientApplication(await this.configuration(logger, plugin)), plugin };
  }

  /**
   * A client with an in-memory cache only, for steps that run before the user's partition is known (building the
   * sign-in URL, redeeming the code); its entries then go to the partition with `plugin.importEntries`.
   */
  async withoutPersistence(logger: TokenCacheLogger): Promise<ConfidentialClientApplication> {
    return new ConfidentialClientApplication(await this.configuration(logger, undefined));
  }

  private async configuration(
    logger: TokenCacheLogger,
    plugin: PartitionCachePlugin | undefined,
  ): Promise<Configuration> {
    return {
      auth: {
        clientId: this.identity.clientId,
        authority: this.authority,
        knownAuthorities: [new URL(this.identity.authorityHost).host],
        authorityMetadata: await this.authorityMetadata(),
        ...this.identity.credential,
        ...(this.identity.clientCapabilities.length > 0
          ? { clientCapabilities: [...this.identity.clientCapabilities] }
          : {}),
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
