metadata name = 'User-assigned managed identity'
metadata description = 'The identity the Function App uses for every connection (storage, Event Hubs, Application Insights, deployment package).'

@description('Required. Name of the user-assigned managed identity.')
param name string

@description('Required. Azure region.')
param location string

@description('Optional. Tags for the resource.')
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: name
  location: location
  tags: tags
}

@description('The name of the identity.')
output name string = identity.name

@description('The resource ID of the identity.')
output resourceId string = identity.id

@description('The client (application) ID of the identity; goes into the *__clientId app settings.')
output clientId string = identity.properties.clientId

@description('The principal (object) ID of the identity; the subject of the role assignments.')
output principalId string = identity.properties.principalId
