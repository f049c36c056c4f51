using 'main.bicep'

// Parameters for one environment. Deploy with:
//   az deployment group create -g <resource-group> -f infra-bicep/main.bicep -p infra-bicep/main.bicepparam
// Override single values on the command line, e.g. -p deployerPrincipalId=<object id>.

param namePrefix = 'mlsrv'
param tags = {
  workload: 'serverless-ml'
  environment: 'dev'
}

// Flex Consumption: scale to zero while idle. Add e.g. { name: 'http', instanceCount: 1 } to keep
// the ranking endpoint warm (Always Ready instances bill a baseline even with no traffic).
param instanceMemoryMB = 2048
param maximumInstanceCount = 100
param alwaysReady = []

// Event Hubs: facts and feature-log hubs.
param eventHubsCapacity = 1
param eventHubPartitionCount = 4
param eventHubRetentionInDays = 1

param storageSkuName = 'Standard_LRS'
param logRetentionInDays = 30

// App settings (same defaults as functions/local.settings.template.json).
param durableTaskHubName = 'ServerlessHub'
param archiveLiveMaxLimit = 200
param archiveBatchPagesPerSecond = 10
param archiveBatchMaxConcurrency = 1
param archiveBatchQueueLimit = 16
param archiveBatchMaxPageSize = 200
param archiveMaxFutureSkew = '01:00:00'
param archiveRecentHistoryCap = 512
param lumberjackSampleRate = '1'
param lumberjackBufferCapacity = 10000
param lumberjackPublishInterval = '00:00:00.0200000'
param lumberjackLabelHorizon = '30.00:00:00'
param lumberjackLateWindow = '7.00:00:00'
param servingHistoryCacheTtl = '00:00:10'
param servingHistoryCacheSize = 100000
param servingHistoryRefreshAhead = '00:00:02'
param servingDeadline = '00:00:00.2500000'

// Object ID of the person or pipeline that runs operations/tests against the data plane.
// Empty: no role assignments for it. Example: az ad signed-in-user show --query id -o tsv
param deployerPrincipalId = ''
param deployerPrincipalType = 'User'

// Application (client) ID of the Entra app registration with the app role Approver (docs/deploy.md,
// "Who may approve"). Empty: App Service authentication stays off and nobody can approve or roll back.
param authClientId = ''
