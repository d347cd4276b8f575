// Key Vault in RBAC mode holding the app's secrets. The function app reads them through Key Vault references
// in its app settings (versionless, so a new secret version is picked up on the next restart or refresh).

@description('Region of the vault.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Vault name: 3-24 letters, digits and hyphens, globally unique.')
@minLength(3)
@maxLength(24)
param name string

@description('CACHE_KEYS: key ring "id:base64(32 bytes),..." (current key first) that encrypts cached tokens.')
@secure()
param cacheKeys string

@description('SESSION_KEYS: key ring "id:base64(32 bytes),..." (current key first) that seals the web app cookies.')
@secure()
param sessionKeys string

@description('AUTH_CLIENT_SECRET: the app registration client secret.')
@secure()
param authClientSecret string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    // Azure RBAC for the data plane (Key Vault Secrets User for the app), no access policies.
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

resource cacheKeysSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'cache-keys'
  properties: {
    value: cacheKeys
    contentType: 'CACHE_KEYS key ring: id:base64(32 bytes),... current key first'
  }
}

resource sessionKeysSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'session-keys'
  properties: {
    value: sessionKeys
    contentType: 'SESSION_KEYS key ring: id:base64(32 bytes),... current key first'
  }
}

resource authClientSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'auth-client-secret'
  properties: {
    value: authClientSecret
    contentType: 'AUTH_CLIENT_SECRET: app registration client secret'
  }
}

output name string = vault.name
// Versionless URIs (`secretUri`, not `secretUriWithVersion`): references follow the latest version.
// (Named without "secret": they are addresses, not values.)
output cacheKeysUri string = cacheKeysSecret.properties.secretUri
output sessionKeysUri string = sessionKeysSecret.properties.secretUri
output clientCredentialUri string = authClientSecretSecret.properties.secretUri
