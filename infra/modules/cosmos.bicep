// Cosmos DB for NoSQL, serverless, keys disabled: the database and the container the Cosmos store uses.
// The container has TTL on without a default (defaultTtl -1): each item carries its own `ttl`
// (CACHE_LIFETIME_DAYS after its last write), so nothing expires unless the store says so.

@description('Region of the account.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Account name: 3-44 lowercase letters, digits and hyphens, globally unique.')
@minLength(3)
@maxLength(44)
param name string

@description('COSMOS_DATABASE.')
param databaseName string

@description('COSMOS_CONTAINER.')
param containerName string

@description('COSMOS_RECORDS_CONTAINER.')
param recordsContainerName string

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  name: name
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    capabilities: [
      {
        name: 'EnableServerless'
      }
    ]
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    // Microsoft Entra ID only (data-plane RBAC); no account keys.
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: 'Enabled'
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
  }
}

// Serverless: no throughput options. The token caches' container, and the app's records (opt-ins, daemon cursor)
// in their own, laid out alike.
resource containers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = [
  for name in [containerName, recordsContainerName]: {
  parent: database
  name: name
  properties: {
    resource: {
      id: name
      partitionKey: {
        paths: [
          '/id'
        ]
        kind: 'Hash'
      }
      // TTL on, per item.
      defaultTtl: -1
      // Only what the store's list query filters on (key prefix, expiry) is indexed; the encrypted payload
      // (`data`, up to 2 MB of base64) is not, which keeps write RUs down.
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [
          {
            path: '/key/?'
          }
          {
            path: '/expiresAt/?'
          }
          {
            path: '/updatedAt/?'
          }
        ]
        excludedPaths: [
          {
            path: '/*'
          }
        ]
      }
    }
  }
}
]

output name string = account.name
output endpoint string = account.properties.documentEndpoint
