metadata name = 'Monitoring'
metadata description = 'Log Analytics workspace and a workspace-based Application Insights component, both with local (key) authentication disabled.'

@description('Required. Name of the Log Analytics workspace.')
param logAnalyticsName string

@description('Required. Name of the Application Insights component.')
param applicationInsightsName string

@description('Required. Azure region.')
param location string

@description('Optional. Tags for the resources.')
param tags object = {}

@description('Optional. Log retention in days.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

@description('Optional. Daily ingestion cap in GB for the workspace; -1 means no cap.')
param dailyQuotaGb int = -1

resource workspace 'Microsoft.OperationalInsights/workspaces@2026-03-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    workspaceCapping: {
      dailyQuotaGb: dailyQuotaGb
    }
    features: {
      disableLocalAuth: true
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
    IngestionMode: 'LogAnalytics'
  }
}

@description('The name of the Application Insights component.')
output name string = applicationInsights.name

@description('The resource ID of the Application Insights component.')
output resourceId string = applicationInsights.id

@description('The Application Insights connection string. It names the component (instrumentation key id and endpoints) but grants nothing: local auth is disabled, so ingestion needs an Entra token.')
output connectionString string = applicationInsights.properties.ConnectionString

@description('The name of the Log Analytics workspace.')
output logAnalyticsName string = workspace.name

@description('The resource ID of the Log Analytics workspace.')
output logAnalyticsResourceId string = workspace.id
