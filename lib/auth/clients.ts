import {
  ConfidentialClientApplication,
  LogLevel,
  type Configuration,
  type INetworkModule,
  type NetworkResponse,
} from '@azure/msal-node';
import { TokenCacheError } from '../errors.js';
import type { TokenCacheLogger } from '../log.js';
import { PartitionCachePlugin, type PartitionCachePluginOptions } from '../cache/plugin.js';
import { KnownAssertions } from '../cache/obo.js';
import { WarmTier, type WarmTierUsage } from '../cache/warm-tier.js';
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

/** Where a client's MSAL log lines go: the logger of the invocation using the client now. */
interface LogTarget {
  current: TokenCacheLogger | undefined;
}

/** An MSAL client and the cache plugin bound to the one partition it may touch, for one invocation at a time. */
export interface InvocationClient {
  readonly client: ConfidentialClientApplication;
  readonly plugin: PartitionCachePlugin;
  readonly log: LogTarget;
  /** The on-behalf-of incoming tokens this client served (kept with it in the warm tier). */
  readonly assertions: KnownAssertions;
}

/** The authority's openid-configuration, parsed once per process. */
type AuthorityMetadata = Readonly<Record<string, unknown>>;

type CreateAuthority = ConfidentialClientApplication['createAuthority'];
type ResolvedAuthority = Awaited<ReturnType<CreateAuthority>>;

/**
 * A `ConfidentialClientApplication` whose authority is the process's one resolved `Authority`. msal-node builds and
 * resolves a new `Authority` on every acquire call (`createAuthority`: URL parsing, metadata lookups — about a fifth
 * of a warm call's CPU in a profile); the authority of this process never changes (one tenant, no region, no cloud
 * options), so every client shares the first one resolved. Anything else goes to msal-node as usual.
 */
class PartitionClientApplication extends ConfidentialClientApplication {
  constructor(
    configuration: Configuration,
    private readonly shared: {
      readonly url: string;
      get(resolve: () => Promise<ResolvedAuthority>): Promise<ResolvedAuthority>;
    },
  ) {
    super(configuration);
  }

  protected override createAuthority(...args: Parameters<CreateAuthority>): ReturnType<CreateAuthority> {
    const [authority, , region, cloud] = args;
    if (authority !== this.shared.url || region?.azureRegion || cloud) return super.createAuthority(...args);
    return this.shared.get(() => super.createAuthority(...args));
  }
}

/**
 * Builds the MSAL clients of one process: one per partition and invocation — so MSAL's in-memory cache never holds
 * two partitions — kept in the warm tier between the partition's invocations when the tier is on. Shared by every
 * client: the network client (keep-alive connections) and the authority's metadata, fetched and parsed once and
 * handed to each client's authority discovery as an already parsed answer (so no client parses it again).
 */
export class ClientFactory {
  private readonly metadata = lazy(() => this.fetchAuthorityMetadata());
  private resolvedAuthority: Promise<ResolvedAuthority> | undefined;
  private readonly sharedAuthority: ConstructorParameters<typeof PartitionClientApplication>[1];
  private readonly tier: WarmTier<InvocationClient> | undefined;
  /** MSAL's network module: `network`, except the authority's metadata, answered from memory. */
  private readonly msalNetwork: INetworkModule;

  constructor(
    readonly identity: ClientIdentity,
    private readonly plugins: SharedPluginOptions,
    readonly network: INetworkModule,
    warmTierBytes = 0,
  ) {
    this.tier = warmTierBytes > 0 ? new WarmTier(warmTierBytes) : undefined;
    this.sharedAuthority = {
      url: this.authority,
      get: (resolve) =>
        (this.resolvedAuthority ??= resolve().catch((error: unknown) => {
          this.resolvedAuthority = undefined; // a failed resolution is not kept: the next call resolves again
          throw error;
        })),
    };
    const metadataUrl = this.metadataUrl.toLowerCase();
    this.msalNetwork = {
      sendGetRequestAsync: async <T>(url: string, options?: unknown, timeout?: number) => {
        if (url.toLowerCase() !== metadataUrl) return network.sendGetRequestAsync<T>(url, options as never, timeout);
        const body = await this.metadata.get();
        return { headers: {}, body: body as T, status: 200 } satisfies NetworkResponse<T>;
      },
      sendPostRequestAsync: (url, options) => network.sendPostRequestAsync(url, options),
    };
  }

  get authority(): string {
    return `${this.identity.authorityHost}/${this.identity.tenantId}`;
  }

  private get metadataUrl(): string {
    return `${this.authority}/v2.0/.well-known/openid-configuration`;
  }

  /** The openid-configuration of the authority, fetched once per process (retried after a failure). */
  authorityMetadata(): Promise<AuthorityMetadata> {
    return this.metadata.get();
  }

  private async fetchAuthorityMetadata(): Promise<AuthorityMetadata> {
    const url = this.metadataUrl;
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
    // Every client reads this one object: frozen, so none can change it for the others.
    return Object.freeze(response.body);
  }

  plugin(partitionKey: string, logger: TokenCacheLogger): PartitionCachePlugin {
    return new PartitionCachePlugin({ ...this.plugins, partitionKey, logger });
  }

  /**
   * The partition's warm client for one invocation, taken out of the tier (no other invocation can use it meanwhile)
   * with its revalidating store read started (the SDKs write it only after the current synchronous work and its
   * microtasks: node-redis on the next event-loop turn); undefined when the tier holds none (use {@link newClient}).
   * Give it back with {@link release}.
   */
  takeWarm(partitionKey: string, logger: TokenCacheLogger): InvocationClient | undefined {
    const warm = this.tier?.take(partitionKey);
    if (!warm) return undefined;
    warm.plugin.reuse(logger);
    warm.log.current = logger;
    // load() never rejects: a failed read is an unavailable partition, for the flow to deal with.
    void warm.plugin.load();
    return warm;
  }

  /**
   * A new client bound to the partition. It joins the tier only when given back with {@link release} (the wrapped
   * flows do; a client handed to a flow this library does not wrap never is).
   */
  async newClient(partitionKey: string, logger: TokenCacheLogger): Promise<InvocationClient> {
    const plugin = this.plugin(partitionKey, logger);
    const log: LogTarget = { current: logger };
    const client = new PartitionClientApplication(await this.configuration(log, plugin), this.sharedAuthority);
    plugin.bindClient(client);
    return { client, plugin, log, assertions: new KnownAssertions() };
  }

  /**
   * The invocation that used `bound` succeeded: the tier keeps the client for the partition's next invocation when
   * the client holds exactly the stored document at a known ETag, remembering the on-behalf-of `incoming` token the
   * invocation checked against the partition (see {@link KnownAssertions}). A failed invocation's client is not given
   * back.
   */
  release(bound: InvocationClient, incoming?: { readonly assertion: string; readonly hash: string }): void {
    if (!this.tier) return;
    bound.log.current = undefined;
    const heldBytes = bound.plugin.endInvocation();
    if (heldBytes === undefined) return;
    if (incoming) bound.assertions.add(incoming.assertion, incoming.hash);
    this.tier.put(bound.plugin.partitionKey, bound, heldBytes + bound.assertions.bytes);
  }

  /**
   * The hash of an on-behalf-of incoming token that the partition's warm client served (so it was checked to be a
   * token of that partition's caller then), or undefined: see {@link KnownAssertions}.
   */
  knownAssertionHash(partitionKey: string, assertion: string): string | undefined {
    return this.tier?.peek(partitionKey)?.assertions.hashOf(assertion);
  }

  /** Drops the partition's warm client (its document was deleted). */
  forget(partitionKey: string): void {
    this.tier?.drop(partitionKey);
  }

  /** The warm tier's size: partitions held and their estimated bytes. */
  get warmTier(): WarmTierUsage {
    return { partitions: this.tier?.size ?? 0, bytes: this.tier?.bytes ?? 0, maxBytes: this.tier?.maxBytes ?? 0 };
  }

  /**
   * A client with an in-memory cache only, for steps that run before the user's partition is known (building the
   * sign-in URL, redeeming the code); its entries then go to the partition with `plugin.importEntries`.
   */
  async withoutPersistence(logger: TokenCacheLogger): Promise<ConfidentialClientApplication> {
    return new PartitionClientApplication(
      await this.configuration({ current: logger }, undefined),
      this.sharedAuthority,
    );
  }

  private async configuration(log: LogTarget, plugin: PartitionCachePlugin | undefined): Promise<Configuration> {
    // Fails here, with this library's error, when the authority cannot be reached (and primes the shared copy).
    await this.metadata.get();
    return {
      auth: {
        clientId: this.identity.clientId,
        authority: this.authority,
        knownAuthorities: [new URL(this.identity.authorityHost).host],
        ...this.identity.credential,
        ...(this.identity.clientCapabilities.length > 0
          ? { clientCapabilities: [...this.identity.clientCapabilities] }
          : {}),
      },
      ...(plugin ? { cache: { cachePlugin: plugin } } : {}),
      system: {
        networkClient: this.msalNetwork,
        loggerOptions: {
          piiLoggingEnabled: false,
          logLevel: LogLevel.Warning,
          // MSAL's warnings are routine (e.g. "No client info in response" for every app token): info level.
          loggerCallback: (level, message) => {
            if (level === LogLevel.Error) log.current?.warn(`msal: ${message}`);
            else log.current?.info(`msal: ${message}`);
          },
        },
      },
    };
  }
}
