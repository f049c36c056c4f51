metadata name = 'Shared types'
metadata description = 'User-defined types shared by main.bicep and its modules.'

@export()
@description('An event hub and the consumer groups its readers use.')
type eventHubType = {
  @description('Required. Name of the event hub (the app\'s EventHubName).')
  @minLength(1)
  @maxLength(256)
  name: string

  @description('Required. Consumer groups created on the hub (the app\'s ConsumerGroup values).')
  consumerGroups: string[]
}

@export()
@description('A Flex Consumption Always Ready entry: a trigger group (http, blob, durable) or "function:<name>".')
type alwaysReadyType = {
  @description('Required. Trigger group or function, e.g. "http", "durable" or "function:Rank".')
  name: string

  @description('Required. Instances kept warm (billed while idle).')
  @minValue(0)
  instanceCount: int
}

@export()
@description('Who a set of data-plane role assignments is for.')
type principalType = 'ServicePrincipal' | 'User' | 'Group'
