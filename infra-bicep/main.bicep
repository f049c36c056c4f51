metadata name = 'Serverless ML platform'
metadata description = 'Function App (Flex Consumption, .NET isolated) with Durable Task, Event Hubs (facts, feature-log), storage, Log Analytics and Application Insights. One user-assigned identity, data-plane RBAC, no keys or connection strings anywhere.'

targetScope = 'resourceGroup'

import { alwaysReadyType, eventHubType, principalType } from 'modules/types.bicep'

// ---------------------------------------------------------------------------------------------
// Parameters: placement and naming
// ---------------------------------------------------------------------------------------------

@description('Optional. Azure region of every resource (Flex Consumption must be offered there).')
param location string = resourceGroup().location

@description('Optional. Short lowercase prefix for resource names (letters and digits).')
@minLength(2)
@maxLength(8)
param namePrefix string = 'mlsrv'

@description('Optional. Suffix that makes the global names (storage, Event Hubs, Function App) unique.')
@minLength(3)
@maxLength(13)
param nameSuffix string = uniqueString(resourceGroup().id)

@description('Optional. Tags for every resource.')
param tags object = {}

// ---------------------------------------------------------------------------------------------
// Parameters: Flex Consumption scale
// ---------------------------------------------------------------------------------------------

@description('Optional. Memory per Function App instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Optional. Upper bound of Function App scale-out.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Optional. Always Ready instances, e.g. [{ name: \'http\', instanceCount: 1 }]. Empty (default) scales to zero and bills nothing while idle.')
param alwaysReady alwaysReadyType[] = []

// ---------------------------------------------------------------------------------------------
// Parameters: Event Hubs and storage
// ---------------------------------------------------------------------------------------------

@description('Optional. Throughput units of the Standard Event Hubs namespace.')
@minValue(1)
@maxValue(40)
param eventHubsCapacity int = 1

@description('Optional. Partitions per event hub (fixed after creation on Standard).')
@minValue(1)
@maxValue(32)
param eventHubPartitionCount int = 4

@description('Optional. Event retention in days (1 to 7 on Standard).')
@minValue(1)
@maxValue(7)
param eventHubRetentionInDays int = 1

@description('Optional. Storage replication SKU.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_RAGRS'
])
param storageSkuName string = 'Standard_LRS'

@description('Optional. Log Analytics retention in days.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

// ---------------------------------------------------------------------------------------------
// Parameters: plain app settings (SettingKind.Plain in shared/Hosting/AppSettings.cs)
// functions/local.settings.template.json carries the same defaults.
// ---------------------------------------------------------------------------------------------

@description('Optional. DurableTaskHubName: the Durable Task hub (host.json hubName). Letters and digits, starts with a letter.')
@minLength(3)
@maxLength(45)
param durableTaskHubName string = 'ServerlessHub'

@description('Optional. Archive__LiveMaxLimit: most facts one live (low-latency) archive query returns.')
@minValue(1)
param archiveLiveMaxLimit int = 200

@description('Optional. Archive__BatchPagesPerSecond: pages per second the batch interface may read (throttle that protects live latency).')
@minValue(1)
param archiveBatchPagesPerSecond int = 10

@description('Optional. Archive__BatchMaxConcurrency: batch queries running at once.')
@minValue(1)
param archiveBatchMaxConcurrency int = 1

@description('Optional. Archive__BatchQueueLimit: batch queries waiting for a slot before new ones are refused.')
@minValue(0)
param archiveBatchQueueLimit int = 16

@description('Optional. Archive__BatchMaxPageSize: facts per batch page (Azure Tables returns at most 1000 per page).')
@minValue(1)
@maxValue(1000)
param archiveBatchMaxPageSize int = 200

@description('Optional. Archive__MaxFutureSkew: how far in the future a fact\'s event time may lie (TimeSpan, c format).')
param archiveMaxFutureSkew string = '01:00:00'

@description('Optional. Archive__RecentHistoryCap: current facts a member\'s recent-history entity holds (the live read\'s one point read); reads wanting more go to the fact rows.')
@minValue(1)
@maxValue(10000)
param archiveRecentHistoryCap int = 512

@description('Optional. Archive__ContinuationKey: the secret (16+ characters) that signs the batch interface\'s continuation tokens; altered tokens are refused. Generated per deployment when not given (tokens issued before a redeploy are then refused: callers start their walk again); pass your own to keep them valid.')
@secure()
@minLength(16)
param archiveContinuationKey string = newGuid()

@description('Optional. TimeMachine__SampleRate: share (0..1, decimal string) of each activity stratum of members captured by the daily context snapshot.')
param timeMachineSampleRate string = '0.1'

@description('Optional. TimeMachine__SampleSeed: seed of the context snapshot\'s member sample.')
@minValue(0)
param timeMachineSampleSeed int = 7

@description('Optional. TimeMachine__Strata: activity strata (light to heavy) the context snapshot samples from.')
@minValue(1)
@maxValue(10)
param timeMachineStrata int = 3

@description('Optional. Lumberjack__SampleRate: share of members (0..1, decimal string) whose scored features are logged.')
param lumberjackSampleRate string = '1'

@description('Optional. Lumberjack__BufferCapacity: logged requests waiting to be published before new ones are dropped.')
@minValue(1)
param lumberjackBufferCapacity int = 10000

@description('Optional. Lumberjack__PublishInterval: how long logged requests gather before the publisher wakes to send them (TimeSpan, c format; 00:00:00 sends each at once).')
param lumberjackPublishInterval string = '00:00:00.0200000'

@description('Optional. Lumberjack__LabelHorizon: how long after a request a rating of the title is its label (TimeSpan, c format).')
param lumberjackLabelHorizon string = '30.00:00:00'

@description('Optional. Serving__HistoryCacheTtl: how long a member history read from the archive is reused by ranking (TimeSpan, c format; 00:00:00 turns the cache off).')
param servingHistoryCacheTtl string = '00:00:10'

@description('Optional. Serving__HistoryCacheSize: members whose history one instance keeps in memory.')
@minValue(0)
param servingHistoryCacheSize int = 100000

@description('Optional. Serving__HistoryRefreshAhead: how long before a cached member history expires a hit has it read again in the background (TimeSpan, c format; shorter than the TTL; 00:00:00 turns it off).')
param servingHistoryRefreshAhead string = '00:00:02'

@description('Optional. Serving__Deadline: budget for reading a member history before the popularity fallback answers (TimeSpan, c format).')
param servingDeadline string = '00:00:00.2500000'

@description('Optional. Lumberjack__LateWindow: how long after the horizon late facts may still change a label (TimeSpan, c format).')
param lumberjackLateWindow string = '7.00:00:00'

@description('Optional. Lumberjack__PublishAttempts: attempts to publish one batch of logged requests (the first included) before the rest is dropped and counted.')
@minValue(1)
@maxValue(100)
param lumberjackPublishAttempts int = 5

@description('Optional. Lumberjack__PublishRetryDelay: pause before the first retry of a failed feature-log publish, doubling after each (TimeSpan, c format).')
param lumberjackPublishRetryDelay string = '00:00:00.1000000'

@description('Optional. Lumberjack__PublishRetryTimeout: longest time one feature-log batch may spend in retries before it is dropped and counted (TimeSpan, c format).')
param lumberjackPublishRetryTimeout string = '00:00:10'

@description('Optional. Health__MaxSubstituteShare: largest share (0..1, decimal string) of requests the popularity Substitute may answer over the last minute before /api/health answers 503.')
param healthMaxSubstituteShare string = '0.01'

@description('Optional. Health__MaxFeatureLogLagEvents: most feature-log events the consumer may be behind before /api/health answers 503 (where the lag is measured).')
@minValue(0)
param healthMaxFeatureLogLagEvents int = 50000

@description('Optional. Health__MaxFeatureLogLagAge: oldest age of an unacknowledged feature-log event before /api/health answers 503 (TimeSpan, c format; where the lag is measured).')
param healthMaxFeatureLogLagAge string = '00:00:30'

@description('Optional. Health__MaxDropsPerMinute: feature-log requests that may be dropped per minute before /api/health answers 503.')
@minValue(0)
param healthMaxDropsPerMinute int = 0

@description('Optional. Health__MaxHistoryReadP99: largest p99 of member-history reads over the last minute before /api/health answers 503 (TimeSpan, c format).')
param healthMaxHistoryReadP99 string = '00:00:00.1000000'

@description('Optional. Precompute__Partitions: key partitions a precompute fans out over (one activity and one blob each).')
@minValue(1)
@maxValue(256)
param precomputePartitions int = 8

@description('Optional. Precompute__MaxParallel: partitions a precompute computes at once.')
@minValue(1)
@maxValue(64)
param precomputeMaxParallel int = 4

@description('Optional. Precompute__RefreshInterval: how often a serving instance checks for a new derived-data version (TimeSpan, c format).')
param precomputeRefreshInterval string = '00:00:30'

@description('Optional. Precompute__MaxVersionAge: a current derived-data version whose as-of time is older than this is flagged by /api/health (TimeSpan, c format).')
param precomputeMaxVersionAge string = '2.00:00:00'

@description('Optional. Precompute__CleanupGrace: how long a replaced derived-data version is kept before cleanup may remove it (TimeSpan, c format).')
param precomputeCleanupGrace string = '7.00:00:00'

@description('Optional. Precompute__Schedule: NCRONTAB schedule (6 fields, UTC) of the timer that cleans up old derived-data versions and starts the scheduled precomputes.')
param precomputeSchedule string = '0 0 3 * * *'

@description('Optional. Precompute__ScheduledDatasets: comma-separated derived datasets the timer precomputes (title-stats, similar-titles, member-top-n); empty: cleanup only.')
param precomputeScheduledDatasets string = 'title-stats,similar-titles,member-top-n'

@description('Optional. Sentinel__MinProbeRows: fewest probe rows (golden probe vectors) for the probe-score checks of training, the pipeline and every loader; fewer: the check fails.')
@minValue(1)
param sentinelMinProbeRows int = 1

@description('Optional. Sentinel__CheckScoreSpread: check that probe scores are not all (nearly) the same (a constant model is broken).')
param sentinelCheckScoreSpread bool = true

@description('Optional. Sentinel__MinScoreStdDev: probe scores must have a standard deviation above this.')
param sentinelMinScoreStdDev string = '0.000001'

@description('Optional. Sentinel__MinProbeRowsForSpread: the spread check needs at least this many probe rows (fewer: skipped, and it passes).')
@minValue(2)
param sentinelMinProbeRowsForSpread int = 10

@description('Optional. Sentinel__MinShadowRows: fewest labelled shadow impressions for the shadow checks; fewer: skipped, the holdout floor applies.')
param sentinelMinShadowRows int = 500

@description('Optional. Sentinel__MinShadowRequests: fewest logged requests with a liked title for the shadow accuracy check.')
param sentinelMinShadowRequests int = 30
@description('Optional. Sentinel__MinShadowMembers: fewest distinct members behind the shadow data for the shadow accuracy and calibration checks (their bootstrap resamples members).')
param sentinelMinShadowMembers int = 10

@description('Optional. Sentinel__MaxShadowRows: most recent labelled impressions read as shadow data.')
param sentinelMaxShadowRows int = 20000

@description('Optional. Sentinel__BootstrapResamples: paired bootstrap resamples over members (requests when members are unknown; seeded).')
param sentinelBootstrapResamples int = 200

@description('Optional. Sentinel__AucTolerance: the candidate fails when its shadow AUC is below live\'s by more than this with 95% confidence.')
param sentinelAucTolerance string = '0.01'

@description('Optional. Sentinel__LogLossTolerance: the candidate fails when its shadow log loss is above live\'s by more than this with 95% confidence.')
param sentinelLogLossTolerance string = '0.02'

@description('Optional. Sentinel__NdcgTolerance: the candidate fails when its shadow NDCG@10 is below live\'s by more than this with 95% confidence.')
param sentinelNdcgTolerance string = '0.02'

@description('Optional. Sentinel__MaxPsi: a feature drifts when its population stability index (training set vs live logged vectors) passes this.')
param sentinelMaxPsi string = '0.2'

@description('Optional. Sentinel__MaxCalibrationError: largest expected calibration error (10 bins) on the shadow data.')
param sentinelMaxCalibrationError string = '0.05'

@description('Optional. Sentinel__MaxSumRatioDeviation: sum(predicted)/sum(labels) on the shadow data must lie within 1 +- this.')
param sentinelMaxSumRatioDeviation string = '0.2'

@description('Optional. Sentinel__ServingBudget: largest p99 time to score a 100-candidate batch with the candidate.')
param sentinelServingBudget string = '00:00:00.0500000'

@description('Optional. Sentinel__RepublishOnRefusal: when a serving instance refuses the version "live" points to, move "live" back to the last version that passed.')
param sentinelRepublishOnRefusal bool = true

// ---------------------------------------------------------------------------------------------
// Parameters: the deploying principal
// ---------------------------------------------------------------------------------------------

@description('Optional. Object ID of a person or pipeline that should read/write the data (blobs, tables, queues, events) for operations and tests. Empty (default): no role assignments are created for it.')
param deployerPrincipalId string = ''

@description('Optional. Kind of the deploying principal.')
param deployerPrincipalType principalType = 'User'

@description('Optional. Application (client) ID of the Microsoft Entra app registration with the app role Approver (infra-bicep/entra-app-roles.json; docs/deploy.md). Given: App Service authentication with Entra ID is turned on, and approvals and rollbacks come from a signed-in person holding that role. Empty: nobody can approve or roll back (401).')
param authClientId string = ''

@description('Optional. The Microsoft Entra tenant of that app registration.')
param authTenantId string = tenant().tenantId

// ---------------------------------------------------------------------------------------------
// Names and constants
// ---------------------------------------------------------------------------------------------

var suffix = toLower(nameSuffix)
var names = {
  identity: 'id-${namePrefix}-${suffix}'
  storageAccount: take(toLower('st${namePrefix}${suffix}'), 24)
  eventHubsNamespace: 'evhns-${namePrefix}-${suffix}'
  logAnalytics: 'log-${namePrefix}-${suffix}'
  applicationInsights: 'appi-${namePrefix}-${suffix}'
  plan: 'plan-${namePrefix}-${suffix}'
  functionApp: 'func-${namePrefix}-${suffix}'
}

@description('Blob container that holds the Flex Consumption deployment package.')
var deploymentContainerName = 'app-package'

// The one place the hub and consumer group names live in Bicep. They must equal the app's
// trigger constants: hub "facts" read by consumer group "archive" (Online Archive), hub
// "feature-log" read by consumer group "lumberjack" (feature logging).
var eventHubs eventHubType[] = [
  {
    name: 'facts'
    consumerGroups: [
      'archive'
    ]
  }
  {
    name: 'feature-log'
    consumerGroups: [
      'lumberjack'
    ]
  }
]

// Built-in role definition IDs.
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  eventHubsDataSender: '2b629674-e913-4c01-ae53-ef4638d8f975'
  eventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

// ---------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------

module identity 'modules/managed-identity.bicep' = {
  name: take('${deployment().name}-identity', 64)
  params: {
    name: names.identity
    location: location
    tags: tags
  }
}

module storage 'modules/storage-account.bicep' = {
  name: take('${deployment().name}-storage', 64)
  params: {
    name: names.storageAccount
    location: location
    tags: tags
    skuName: storageSkuName
    deploymentContainerName: deploymentContainerName
  }
}

module eventHubsNamespace 'modules/event-hubs.bicep' = {
  name: take('${deployment().name}-eventhubs', 64)
  params: {
    name: names.eventHubsNamespace
    location: location
    tags: tags
    capacity: eventHubsCapacity
    eventHubs: eventHubs
    partitionCount: eventHubPartitionCount
    messageRetentionInDays: eventHubRetentionInDays
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: take('${deployment().name}-monitoring', 64)
  params: {
    logAnalyticsName: names.logAnalytics
    applicationInsightsName: names.applicationInsights
    location: location
    tags: tags
    retentionInDays: logRetentionInDays
  }
}

// The Function App's identity: host storage (Durable Task hub: queues, tables, blobs; Event Hubs
// checkpoints; deployment package), app data (tables, blobs), events (send and receive) and
// Entra-authenticated telemetry.
module appRoles 'modules/role-assignments.bicep' = {
  name: take('${deployment().name}-app-roles', 64)
  params: {
    // The identity's principal ID exists only once it is created, and it is part of every role
    // assignment name (guid(scope, principalId, role)) on purpose: a recreated identity gets new
    // assignments instead of a failed update of the old ones. What-If therefore cannot predict
    // these names; that is the accepted trade-off.
    #disable-next-line what-if-short-circuiting
    principalId: identity.outputs.principalId
    principalKind: 'ServicePrincipal'
    storageAccountName: names.storageAccount
    storageRoleIds: [
      roles.storageBlobDataOwner
      roles.storageTableDataContributor
      roles.storageQueueDataContributor
    ]
    eventHubsNamespaceName: names.eventHubsNamespace
    eventHubsRoleIds: [
      roles.eventHubsDataSender
      roles.eventHubsDataReceiver
    ]
    applicationInsightsName: names.applicationInsights
    applicationInsightsRoleIds: [
      roles.monitoringMetricsPublisher
    ]
  }
  dependsOn: [
    storage
    eventHubsNamespace
    monitoring
  ]
}

module deployerRoles 'modules/role-assignments.bicep' = if (!empty(deployerPrincipalId)) {
  name: take('${deployment().name}-deployer-roles', 64)
  params: {
    principalId: deployerPrincipalId
    principalKind: deployerPrincipalType
    storageAccountName: names.storageAccount
    storageRoleIds: [
      roles.storageBlobDataContributor
      roles.storageTableDataContributor
      roles.storageQueueDataContributor
    ]
    eventHubsNamespaceName: names.eventHubsNamespace
    eventHubsRoleIds: [
      roles.eventHubsDataSender
      roles.eventHubsDataReceiver
    ]
    applicationInsightsName: names.applicationInsights
  }
  dependsOn: [
    storage
    eventHubsNamespace
    monitoring
  ]
}

// Every setting the app reads (shared/Hosting/AppSettings.cs, AppSettings.All) plus the host's
// own. Connections are identity-based: endpoint + credential + clientId, never a key.
var appSettings = {
  // Functions host storage: Durable Task hub, Event Hubs checkpoints, timers, host locks.
  AzureWebJobsStorage__accountName: storage.outputs.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.outputs.clientId
  // Telemetry: the connection string identifies the component; ingestion uses an Entra token.
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.outputs.clientId};Authorization=AAD'
  // Connection "Storage": app tables (archive, feature-log file index, registry) and blobs (models, snapshots, landed feature logs).
  Storage__tableServiceUri: storage.outputs.tableEndpoint
  Storage__blobServiceUri: storage.outputs.blobEndpoint
  Storage__credential: 'managedidentity'
  Storage__clientId: identity.outputs.clientId
  // Connection "EventHubs": facts and feature-log hubs (triggers and producers).
  EventHubs__fullyQualifiedNamespace: eventHubsNamespace.outputs.fullyQualifiedNamespace
  EventHubs__credential: 'managedidentity'
  EventHubs__clientId: identity.outputs.clientId
  // Plain settings.
  DurableTaskHubName: durableTaskHubName
  Archive__LiveMaxLimit: string(archiveLiveMaxLimit)
  Archive__BatchPagesPerSecond: string(archiveBatchPagesPerSecond)
  Archive__BatchMaxConcurrency: string(archiveBatchMaxConcurrency)
  Archive__BatchQueueLimit: string(archiveBatchQueueLimit)
  Archive__BatchMaxPageSize: string(archiveBatchMaxPageSize)
  Archive__MaxFutureSkew: archiveMaxFutureSkew
  Archive__RecentHistoryCap: string(archiveRecentHistoryCap)
  Archive__ContinuationKey: archiveContinuationKey
  Lumberjack__SampleRate: lumberjackSampleRate
  TimeMachine__SampleRate: timeMachineSampleRate
  TimeMachine__SampleSeed: string(timeMachineSampleSeed)
  TimeMachine__Strata: string(timeMachineStrata)
  Lumberjack__BufferCapacity: string(lumberjackBufferCapacity)
  Lumberjack__PublishInterval: lumberjackPublishInterval
  Lumberjack__LabelHorizon: lumberjackLabelHorizon
  Lumberjack__LateWindow: lumberjackLateWindow
  Lumberjack__PublishAttempts: string(lumberjackPublishAttempts)
  Lumberjack__PublishRetryDelay: lumberjackPublishRetryDelay
  Lumberjack__PublishRetryTimeout: lumberjackPublishRetryTimeout
  Serving__HistoryCacheTtl: servingHistoryCacheTtl
  Serving__HistoryCacheSize: string(servingHistoryCacheSize)
  Serving__HistoryRefreshAhead: servingHistoryRefreshAhead
  Serving__Deadline: servingDeadline
  Health__MaxSubstituteShare: healthMaxSubstituteShare
  Health__MaxFeatureLogLagEvents: string(healthMaxFeatureLogLagEvents)
  Health__MaxFeatureLogLagAge: healthMaxFeatureLogLagAge
  Health__MaxDropsPerMinute: string(healthMaxDropsPerMinute)
  Health__MaxHistoryReadP99: healthMaxHistoryReadP99
  Precompute__Partitions: string(precomputePartitions)
  Precompute__MaxParallel: string(precomputeMaxParallel)
  Precompute__RefreshInterval: precomputeRefreshInterval
  Precompute__MaxVersionAge: precomputeMaxVersionAge
  Precompute__CleanupGrace: precomputeCleanupGrace
  Precompute__Schedule: precomputeSchedule
  Precompute__ScheduledDatasets: precomputeScheduledDatasets
  Sentinel__MinProbeRows: string(sentinelMinProbeRows)
  Sentinel__CheckScoreSpread: string(sentinelCheckScoreSpread)
  Sentinel__MinScoreStdDev: sentinelMinScoreStdDev
  Sentinel__MinProbeRowsForSpread: string(sentinelMinProbeRowsForSpread)
  Sentinel__MinShadowRows: string(sentinelMinShadowRows)
  Sentinel__MinShadowRequests: string(sentinelMinShadowRequests)
  Sentinel__MinShadowMembers: string(sentinelMinShadowMembers)
  Sentinel__MaxShadowRows: string(sentinelMaxShadowRows)
  Sentinel__BootstrapResamples: string(sentinelBootstrapResamples)
  Sentinel__AucTolerance: sentinelAucTolerance
  Sentinel__LogLossTolerance: sentinelLogLossTolerance
  Sentinel__NdcgTolerance: sentinelNdcgTolerance
  Sentinel__MaxPsi: sentinelMaxPsi
  Sentinel__MaxCalibrationError: sentinelMaxCalibrationError
  Sentinel__MaxSumRatioDeviation: sentinelMaxSumRatioDeviation
  Sentinel__ServingBudget: sentinelServingBudget
  Sentinel__RepublishOnRefusal: string(sentinelRepublishOnRefusal)
}

module functionApp 'modules/function-app.bicep' = {
  name: take('${deployment().name}-functionapp', 64)
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    tags: tags
    userAssignedIdentityResourceId: identity.outputs.resourceId
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    runtimeName: 'dotnet-isolated'
    runtimeVersion: '10.0'
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    alwaysReady: alwaysReady
    appSettings: appSettings
  }
  // The app must not start before its identity may read the deployment package and host storage.
  dependsOn: [
    appRoles
  ]
}

// Approvals come from a signed-in person: App Service authentication with Microsoft Entra ID.
module appServiceAuth 'modules/app-service-auth.bicep' = if (!empty(authClientId)) {
  name: take('${deployment().name}-auth', 64)
  params: {
    functionAppName: names.functionApp
    clientId: authClientId
    tenantId: authTenantId
  }
  dependsOn: [
    functionApp
  ]
}

// ---------------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------------

@description('The name of the Function App.')
output functionAppName string = functionApp.outputs.name

@description('The default host name of the Function App (https://<host>/api/...).')
output functionAppHostName string = functionApp.outputs.defaultHostName

@description('The name of the storage account.')
output storageAccountName string = storage.outputs.name

@description('The table endpoint of the storage account.')
output storageTableEndpoint string = storage.outputs.tableEndpoint

@description('The blob endpoint of the storage account.')
output storageBlobEndpoint string = storage.outputs.blobEndpoint

@description('The name of the Event Hubs namespace.')
output eventHubsNamespaceName string = eventHubsNamespace.outputs.name

@description('The fully qualified Event Hubs namespace.')
output eventHubsFullyQualifiedNamespace string = eventHubsNamespace.outputs.fullyQualifiedNamespace

@description('The client ID of the Function App\'s user-assigned identity.')
output identityClientId string = identity.outputs.clientId

@description('The principal ID of the Function App\'s user-assigned identity.')
output identityPrincipalId string = identity.outputs.principalId

@description('The name of the Application Insights component.')
output applicationInsightsName string = monitoring.outputs.name

@description('The name of the resource group the stack was deployed to.')
output resourceGroupName string = resourceGroup().name
