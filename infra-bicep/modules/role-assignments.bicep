metadata name = 'Data-plane role assignments'
metadata description = 'Assigns built-in roles to one principal on the storage account, the Event Hubs namespace and (optionally) Application Insights. Names are guid(scope id, principal id, role definition id), so redeployments are idempotent.'

import { principalType } from 'types.bicep'

@description('Required. Object (principal) ID that receives the roles.')
param principalId string

@description('Optional. Kind of principal; ServicePrincipal for managed identities.')
param principalKind principalType = 'ServicePrincipal'

@description('Required. Name of the storage account in this resource group.')
param storageAccountName string

@description('Required. Role definition IDs (GUIDs) to assign on the storage account.')
param storageRoleIds string[]

@description('Required. Name of the Event Hubs namespace in this resource group.')
param eventHubsNamespaceName string

@description('Required. Role definition IDs (GUIDs) to assign on the Event Hubs namespace.')
param eventHubsRoleIds string[]

@description('Required. Name of the Application Insights component in this resource group.')
param applicationInsightsName string

@description('Optional. Role definition IDs (GUIDs) to assign on Application Insights.')
param applicationInsightsRoleIds string[] = []

resource storageAccount 'Microsoft.Storage/storageAccounts@2026-06-01' existing = {
  name: storageAccountName
}

resource eventHubsNamespace 'Microsoft.EventHub/namespaces@2026-01-01' existing = {
  name: eventHubsNamespaceName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in storageRoleIds: {
    name: guid(storageAccount.id, principalId, subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId))
    scope: storageAccount
    properties: {
      principalId: principalId
      principalType: principalKind
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    }
  }
]

resource eventHubsRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in eventHubsRoleIds: {
    name: guid(eventHubsNamespace.id, principalId, subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId))
    scope: eventHubsNamespace
    properties: {
      principalId: principalId
      principalType: principalKind
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    }
  }
]

resource applicationInsightsRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in applicationInsightsRoleIds: {
    name: guid(applicationInsights.id, principalId, subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId))
    scope: applicationInsights
    properties: {
      principalId: principalId
      principalType: principalKind
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    }
  }
]

@description('The resource IDs of the role assignments on the storage account.')
output storageRoleAssignmentIds string[] = [for (roleId, i) in storageRoleIds: storageRoles[i].id]

@description('The resource IDs of the role assignments on the Event Hubs namespace.')
output eventHubsRoleAssignmentIds string[] = [for (roleId, i) in eventHubsRoleIds: eventHubsRoles[i].id]

@description('The resource IDs of the role assignments on Application Insights.')
output applicationInsightsRoleAssignmentIds string[] = [
  for (roleId, i) in applicationInsightsRoleIds: applicationInsightsRoles[i].id
]
