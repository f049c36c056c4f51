metadata name = 'App Service authentication with Microsoft Entra ID'
metadata description = 'Turns on App Service authentication (authsettingsV2) for a Function App with Microsoft Entra ID as the identity provider. Requests pass through unauthenticated (function keys still guard the routes); a signed-in caller reaches the app as the X-MS-CLIENT-PRINCIPAL header, which clients cannot set, and the app requires the app role Approver in it to approve or roll back.'

@description('Required. The name of the Function App.')
param functionAppName string

@description('Required. The application (client) ID of the Microsoft Entra app registration that defines the app roles (see infra-bicep/entra-app-roles.json).')
param clientId string

@description('Optional. The Microsoft Entra tenant that issues the tokens.')
param tenantId string = tenant().tenantId

@description('Optional. Token audiences the app accepts. Default: the registration\'s application ID URI (api://<clientId>) and its client ID.')
param allowedAudiences string[] = []

resource site 'Microsoft.Web/sites@2025-03-01' existing = {
  name: functionAppName
}

resource auth 'Microsoft.Web/sites/config@2025-03-01' = {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      // Reads and serving are called by services with function keys and no token: let them through.
      // Code decides who may approve or roll back, from the principal the platform passes on.
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: clientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: empty(allowedAudiences) ? [
            'api://${clientId}'
            clientId
          ] : allowedAudiences
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}

@description('The name of the authentication settings resource.')
output name string = auth.name

@description('The resource ID of the authentication settings resource.')
output resourceId string = auth.id
