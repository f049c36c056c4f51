metadata name = 'Event Hubs namespace'
metadata description = 'Standard Event Hubs namespace with local (SAS) authentication disabled, its event hubs and their consumer groups.'

import { eventHubType } from 'types.bicep'

@description('Required. Name of the Event Hubs namespace (6-50 characters).')
@minLength(6)
@maxLength(50)
param name string

@description('Required. Azure region.')
param location string

@description('Optional. Tags for the resources.')
param tags object = {}

@description('Optional. Throughput units of the Standard namespace (each one bills hourly, even idle).')
@minValue(1)
@maxValue(40)
param capacity int = 1

@description('Required. The event hubs and their consumer groups.')
param eventHubs eventHubType[]

@description('Optional. Partitions per event hub (fixed after creation on Standard).')
@minValue(1)
@maxValue(32)
param partitionCount int = 4

@description('Optional. Event retention in days (Standard allows 1 to 7).')
@minValue(1)
@maxValue(7)
param messageRetentionInDays int = 1

resource namespace 'Microsoft.EventHub/namespaces@2026-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
    capacity: capacity
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    isAutoInflateEnabled: false
    zoneRedundant: false
  }
}

resource hubs 'Microsoft.EventHub/namespaces/eventhubs@2026-01-01' = [
  for hub in eventHubs: {
    parent: namespace
    name: hub.name
    properties: {
      partitionCount: partitionCount
      messageRetentionInDays: messageRetentionInDays
    }
  }
]

// One entry per (hub, consumer group); hubIndex points at the parent in `hubs`.
var consumerGroups = flatten(map(
  range(0, length(eventHubs)),
  i => map(eventHubs[i].consumerGroups, group => { hubIndex: i, name: group })
))

resource groups 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2026-01-01' = [
  for group in consumerGroups: {
    parent: hubs[group.hubIndex]
    name: group.name
  }
]

@description('The name of the Event Hubs namespace.')
output name string = namespace.name

@description('The resource ID of the Event Hubs namespace.')
output resourceId string = namespace.id

@description('The fully qualified namespace, e.g. <name>.servicebus.windows.net (EventHubs__fullyQualifiedNamespace).')
output fullyQualifiedNamespace string = serviceBusHost

// serviceBusEndpoint is https://<name>.servicebus.<cloud suffix>:443/; keep only the host name.
var serviceBusHost = split(split(split(namespace.properties.serviceBusEndpoint, '//')[1], '/')[0], ':')[0]

@description('The names of the event hubs created.')
output eventHubNames string[] = [for (hub, i) in eventHubs: hubs[i].name]
