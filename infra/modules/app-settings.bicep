// The function app's app settings, applied as one `appsettings` config resource. main.bicep deploys this module
// after the role assignments, so the Key Vault references resolve and the host finds its storage on first start.
// This resource REPLACES the whole set: every setting the app needs is in main.bicep's `appSettings`.

@description('Name of the function app.')
param functionAppName string

@description('Every app setting, name to value (all strings). No keys or connection strings: see main.bicep.')
param appSettings object

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: appSettings
}
