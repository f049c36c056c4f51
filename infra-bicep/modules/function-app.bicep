metadata name = 'Function App (Flex Consumption)'
metadata description = 'Linux Flex Consumption (FC1) plan and a .NET isolated Function App that runs as a user-assigned identity: deployment package, host storage and every connection use that identity, never a key.'

import { alwaysReadyType } from 'types.bicep'

@description('Required. Name of the Function App.')
param name string

@description('Required. Name of the Flex Consumption plan.')
param planName string

@description('Required. Azure region.')
param location string

@description('Optional. Tags for the resources.')
param tags object = {}

@description('Required. Resource ID of the user-assigned identity the app runs as.')
param userAssignedIdentityResourceId string

@description('Required. URL of the blob container holding the deployment package.')
param deploymentContainerUrl string

@description('Optional. Runtime stack name.')
param runtimeName string = 'dotnet-isolated'

@description('Optional. Runtime stack version.')
param runtimeVersion string = '10.0'

@description('Optional. Memory per instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Optional. Upper bound of scale-out.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Optional. Always Ready instances per trigger group or function; empty means scale to zero (nothing billed while idle).')
param alwaysReady alwaysReadyType[] = []

@description('Required. App settings as a name/value map. Values must never carry keys or secrets.')
param appSettings object

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2025-03-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${userAssignedIdentityResourceId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      appSettings: [for setting in items(appSettings): { name: setting.key, value: setting.value }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: userAssignedIdentityResourceId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: alwaysReady
      }
      runtime: {
        name: runtimeName
        version: runtimeVersion
      }
    }
  }
}

// No publishing passwords: deployments authenticate with Microsoft Entra ID.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

@description('The name of the Function App.')
output name string = site.name

@description('The resource ID of the Function App.')
output resourceId string = site.id

@description('The default host name, e.g. <name>.azurewebsites.net.')
output defaultHostName string = site.properties.defaultHostName

@description('The name of the Flex Consumption plan.')
output planName string = plan.name

@description('The resource ID of the Flex Consumption plan.')
output planResourceId string = plan.id
