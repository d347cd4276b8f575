// NOT COMPILED HERE: the Bicep CLI could not be installed where this template was written (no npm package ships
// the compiler; the one wrapper, bicep-node, downloads the binary at run time). Resource types, API versions and
// property names were checked against Microsoft's reference pages and samples; run `az bicep build --file
// infra/main.bicep` (or `azd provision --preview`) before the first deployment.
//
// What this creates (docs/deploy.md has the steps and the costs):
// - a resource group `rg-<env>`;
// - a Function App on Flex Consumption (Node 22) with a system-assigned managed identity;
// - Cosmos DB serverless (keys disabled): database + container (partition key /id, TTL on per item);
// - a storage account (shared keys disabled): host storage, deployment container, the Table store's table;
// - Key Vault (RBAC) with CACHE_KEYS, SESSION_KEYS and AUTH_CLIENT_SECRET, read through Key Vault references;
// - Application Insights (Entra ID ingestion only) on a Log Analytics workspace;
// - role assignments for the app's identity. No key or connection string reaches an app setting.
//
// One source of truth for settings: `appSettings` below must name every setting app/settings.ts reads, except the
// allow-listed local-only ones; test/settings.test.ts parses this file and fails on a missing or unknown name.

targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name (AZURE_ENV_NAME): names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource; it must offer the Flex Consumption plan.')
param location string

@description('Resource group name. Default: rg-<environmentName>.')
param resourceGroupName string = ''

// ---- App registration (Microsoft Entra ID) ----

@description('AUTH_TENANT_ID: tenant (GUID) of the app registration.')
@minLength(1)
param authTenantId string

@description('AUTH_CLIENT_ID: client id of the app registration; also the web API audience.')
@minLength(1)
param authClientId string

@description('AUTH_CLIENT_SECRET: a client secret of the app registration. Stored in Key Vault.')
@secure()
@minLength(1)
param authClientSecret string

@description('AUTH_AUTHORITY_HOST: the identity provider host.')
param authAuthorityHost string = 'https://login.microsoftonline.com'

@description('AUTH_CLIENT_CAPABILITIES: client capabilities declared on every token request, comma-separated; none declares none. cp1: the app handles claims challenges (Continuous Access Evaluation).')
param authClientCapabilities string = 'cp1'

@description('AUTH_API_AUDIENCES: accepted aud of bearer tokens, comma-separated. Empty: "<clientId>,api://<clientId>".')
param authApiAudiences string = ''

@description('AUTH_ALLOWED_TENANTS: tenant ids (GUIDs) whose users may call, comma-separated. Empty: the app tenant only.')
param authAllowedTenants string = ''

@description('AUTH_V1_ISSUER: issuer of v1.0 access tokens, {tenantId} standing for the token tenant.')
param authV1Issuer string = 'https://sts.windows.net/{tenantId}/'

@description('AUTH_REQUIRED_SCOPE: scope the caller token must carry in scp.')
param authRequiredScope string = 'access_as_user'

// ---- Key rings: generate each entry with
//      node -e "console.log('k1:'+require('crypto').randomBytes(32).toString('base64'))"
//      (current key first; to rotate, put a new entry in front and keep the old ones after it) ----

@description('CACHE_KEYS: key ring "id:base64(32 bytes),..." encrypting cached tokens at rest. Stored in Key Vault.')
@secure()
@minLength(1)
param cacheKeys string

@description('SESSION_KEYS: key ring "id:base64(32 bytes),..." sealing the web app cookies. Stored in Key Vault.')
@secure()
@minLength(1)
param sessionKeys string

// ---- Cache store ----

@description('CACHE_STORE: where token caches live. Both stores are provisioned; this picks the one the app uses.')
@allowed([
  'cosmos'
  'table'
])
param cacheStore string = 'cosmos'

@description('CACHE_COMPRESS: deflate the cache before encrypting it.')
@allowed([
  'true'
  'false'
])
param cacheCompress string = 'true'

@description('CACHE_LIFETIME_DAYS: a cache document not written for this long may be removed (Cosmos ttl or the sweeper).')
param cacheLifetimeDays string = '90'

@description('CACHE_WARM_TIER_MIB: per-instance warm tier (each recent partition\'s MSAL client kept, revalidated by ETag on every call), in MiB; 0 turns it off.')
param cacheWarmTierMiB string = '32'

@description('COSMOS_DATABASE.')
param cosmosDatabaseName string = 'tokencache'

@description('COSMOS_CONTAINER.')
param cosmosContainerName string = 'msal'

@description('COSMOS_RECORDS_CONTAINER: the app\'s records (background opt-ins, user daemon cursor).')
param cosmosRecordsContainerName string = 'records'

@description('TABLE_NAME.')
param tableName string = 'msalcache'

@description('TABLE_RECORDS_NAME: the app\'s records (background opt-ins, user daemon cursor).')
param recordsTableName string = 'msalrecords'

// ---- Downstream API and daemons ----

@description('DOWNSTREAM_API_URL: what the web API, web app and user daemon call for the user.')
param downstreamApiUrl string = 'https://graph.microsoft.com/v1.0/me'

@description('DOWNSTREAM_SCOPES: delegated scopes for it, space-separated.')
param downstreamScopes string = 'https://graph.microsoft.com/User.Read'

@description('APP_DAEMON_SCHEDULE: NCRONTAB (six fields) of the app daemon. Every run wakes the app.')
param appDaemonSchedule string = '0 */5 * * * *'

@description('APP_DAEMON_API_URL: what the app daemon calls as the app.')
param appDaemonApiUrl string = 'https://graph.microsoft.com/v1.0/organization'

@description('APP_DAEMON_SCOPES: scopes of the app daemon token, space-separated.')
param appDaemonScopes string = 'https://graph.microsoft.com/.default'

@description('USER_DAEMON_SCHEDULE: NCRONTAB (six fields) of the user daemon. Every run wakes the app.')
param userDaemonSchedule string = '0 */15 * * * *'

@description('USER_DAEMON_CONCURRENCY: users the user daemon works on at once.')
param userDaemonConcurrency string = '8'

@description('USER_DAEMON_MAX_USERS: most users per user-daemon run.')
param userDaemonMaxUsers string = '1000'

@description('SWEEPER_SCHEDULE: NCRONTAB (six fields) of the cache sweeper (removes expired Table documents).')
param sweeperSchedule string = '0 30 3 * * *'

@description('SWEEPER_MAX_DELETES: most expired documents the sweeper removes per run.')
param sweeperMaxDeletes string = '1000'

// ---- Scale ----

@description('Most instances the function app scales out to.')
param maximumInstanceCount int = 100

@description('Memory of each instance, in MB.')
@allowed([2048, 4096])
param instanceMemoryMB int = 2048

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-${resourceToken}'
var deploymentContainerName = 'app-package'

resource rg 'Microsoft.Resources/resourceGroups@2022-09-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'st${resourceToken}'
    deploymentContainerName: deploymentContainerName
    tableName: tableName
    recordsTableName: recordsTableName
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'cosmos-${resourceToken}'
    databaseName: cosmosDatabaseName
    containerName: cosmosContainerName
    recordsContainerName: cosmosRecordsContainerName
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'kv-${resourceToken}'
    cacheKeys: cacheKeys
    sessionKeys: sessionKeys
    authClientSecret: authClientSecret
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    location: location
    tags: tags
    planName: 'plan-${resourceToken}'
    name: functionAppName
    serviceName: 'api'
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    nodeVersion: '22'
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
  }
}

module roles 'modules/role-assignments.bicep' = {
  name: 'role-assignments'
  scope: rg
  params: {
    principalId: functionApp.outputs.principalId
    storageAccountName: storage.outputs.name
    cosmosAccountName: cosmos.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

var appHost = functionApp.outputs.defaultHostName

// Every app setting of the function app (app-settings.bicep replaces the whole set with this object).
// Values are strings. Secrets are Key Vault references; stores and the host are reached with the managed identity.
// Deliberately absent (test/settings.test.ts keeps the list): AUTH_CA_PATH, AUTH_CLIENT_CERTIFICATE_PATH,
// CACHE_CREATE_IF_MISSING, COSMOS_KEY, TABLE_CONNECTION_STRING and every REDIS_* setting.
var appSettings = {
  // Functions host: identity-based host storage, Application Insights with Entra ID ingestion.
  AzureWebJobsStorage__accountName: storage.outputs.name
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'

  // app/settings.ts: identity
  AUTH_TENANT_ID: authTenantId
  AUTH_CLIENT_ID: authClientId
  AUTH_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.clientCredentialUri})'
  AUTH_AUTHORITY_HOST: authAuthorityHost
  AUTH_CLIENT_CAPABILITIES: authClientCapabilities
  AUTH_API_AUDIENCES: !empty(authApiAudiences) ? authApiAudiences : '${authClientId},api://${authClientId}'
  AUTH_ALLOWED_TENANTS: !empty(authAllowedTenants) ? authAllowedTenants : authTenantId
  AUTH_V1_ISSUER: authV1Issuer
  AUTH_REQUIRED_SCOPE: authRequiredScope

  // app/settings.ts: downstream API and web app
  DOWNSTREAM_API_URL: downstreamApiUrl
  DOWNSTREAM_SCOPES: downstreamScopes
  WEBAPP_REDIRECT_URI: 'https://${appHost}/api/auth/callback'
  WEBAPP_POST_LOGOUT_URI: 'https://${appHost}/api/home'
  SESSION_KEYS: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.sessionKeysUri})'

  // app/settings.ts: daemons and sweeper
  APP_DAEMON_SCHEDULE: appDaemonSchedule
  APP_DAEMON_API_URL: appDaemonApiUrl
  APP_DAEMON_SCOPES: appDaemonScopes
  USER_DAEMON_SCHEDULE: userDaemonSchedule
  USER_DAEMON_CONCURRENCY: userDaemonConcurrency
  USER_DAEMON_MAX_USERS: userDaemonMaxUsers
  SWEEPER_SCHEDULE: sweeperSchedule
  SWEEPER_MAX_DELETES: sweeperMaxDeletes

  // app/settings.ts: cache
  CACHE_STORE: cacheStore
  CACHE_KEYS: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.cacheKeysUri})'
  CACHE_COMPRESS: cacheCompress
  CACHE_LIFETIME_DAYS: cacheLifetimeDays
  CACHE_WARM_TIER_MIB: cacheWarmTierMiB
  COSMOS_ENDPOINT: cosmos.outputs.endpoint
  COSMOS_DATABASE: cosmosDatabaseName
  COSMOS_CONTAINER: cosmosContainerName
  COSMOS_RECORDS_CONTAINER: cosmosRecordsContainerName
  TABLE_ACCOUNT_URL: storage.outputs.tableEndpoint
  TABLE_NAME: tableName
  TABLE_RECORDS_NAME: recordsTableName
}

module settings 'modules/app-settings.bicep' = {
  name: 'app-settings'
  scope: rg
  params: {
    functionAppName: functionApp.outputs.name
    appSettings: appSettings
  }
  // The identity must hold its roles before the host starts with these settings (Key Vault references,
  // identity-based AzureWebJobsStorage).
  dependsOn: [
    roles
  ]
}

// azd stores these in .azure/<env>/.env (`azd env get-values`).
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = 'https://${appHost}'
// Register this as a Web redirect URI of the app registration.
output WEBAPP_REDIRECT_URI string = 'https://${appHost}/api/auth/callback'
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output COSMOS_ENDPOINT string = cosmos.outputs.endpoint
output TABLE_ACCOUNT_URL string = storage.outputs.tableEndpoint
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
