/**
 * Azure built-in role definitions the simulator knows, with their real `actions`, `notActions`,
 * `dataActions` and `notDataActions`, as published in Microsoft's built-in roles reference
 * (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles, the JSON block of each role).
 * Built-in ids are the same in every tenant. A role assignment naming any other id needs a custom role
 * (`Microsoft.Authorization/roleDefinitions` PUT) or is refused with RoleDefinitionDoesNotExist.
 */

export interface Permission {
  actions: string[];
  notActions: string[];
  dataActions: string[];
  notDataActions: string[];
}

export interface RoleDefinition {
  /** GUID (the `name` of the role definition resource). */
  name: string;
  roleName: string;
  description: string;
  roleType: 'BuiltInRole' | 'CustomRole';
  permissions: Permission[];
  assignableScopes: string[];
}

function builtIn(name: string, roleName: string, description: string, p: Partial<Permission>): RoleDefinition {
  return {
    name,
    roleName,
    description,
    roleType: 'BuiltInRole',
    assignableScopes: ['/'],
    permissions: [
      {
        actions: p.actions ?? [],
        notActions: p.notActions ?? [],
        dataActions: p.dataActions ?? [],
        notDataActions: p.notDataActions ?? [],
      },
    ],
  };
}

const KEY_VAULT_READS = [
  'Microsoft.Authorization/*/read',
  'Microsoft.Insights/alertRules/*',
  'Microsoft.Resources/deployments/*',
  'Microsoft.Resources/subscriptions/resourceGroups/read',
  'Microsoft.Support/*',
  'Microsoft.KeyVault/checkNameAvailability/read',
  'Microsoft.KeyVault/deletedVaults/read',
  'Microsoft.KeyVault/locations/*/read',
  'Microsoft.KeyVault/vaults/*/read',
  'Microsoft.KeyVault/operations/read',
];

export const BUILT_IN_ROLE_DEFINITIONS: readonly RoleDefinition[] = [
  builtIn(
    '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
    'Owner',
    'Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.',
    {
      actions: ['*'],
    },
  ),
  builtIn(
    'b24988ac-6180-42a0-ab88-20f7382dd24c',
    'Contributor',
    'Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, ' +
      'manage assignments in Azure Blueprints, or share image galleries.',
    {
      actions: ['*'],
      notActions: [
        'Microsoft.Authorization/*/Delete',
        'Microsoft.Authorization/*/Write',
        'Microsoft.Authorization/elevateAccess/Action',
        'Microsoft.Blueprint/blueprintAssignments/write',
        'Microsoft.Blueprint/blueprintAssignments/delete',
        'Microsoft.Compute/galleries/share/action',
        'Microsoft.Purview/consents/write',
        'Microsoft.Purview/consents/delete',
        'Microsoft.Resources/deploymentStacks/manageDenySetting/action',
        'Microsoft.Subscription/cancel/action',
        'Microsoft.Subscription/enable/action',
      ],
    },
  ),
  builtIn('acdd72a7-3385-48ef-bd42-f606fba81ae7', 'Reader', 'View all resources, but does not allow you to make any changes.', {
    actions: ['*/read'],
  }),
  builtIn('18d7d88d-d35e-4fb5-a5c3-7773c20a72d9', 'User Access Administrator', 'Lets you manage user access to Azure resources.', {
    actions: ['*/read', 'Microsoft.Authorization/*', 'Microsoft.Support/*'],
  }),
  builtIn(
    'f58310d9-a9f6-439a-9e8d-f62e7b41a168',
    'Role Based Access Control Administrator',
    'Manage access to Azure resources by assigning roles using Azure RBAC. This role does not allow you ' +
      'to manage access using other ways, such as Azure Policy.',
    {
      actions: [
        'Microsoft.Authorization/roleAssignments/write',
        'Microsoft.Authorization/roleAssignments/delete',
        '*/read',
        'Microsoft.Support/*',
      ],
    },
  ),
  builtIn(
    '9980e02c-c2be-4d73-94e8-173b1dc7cf3c',
    'Virtual Machine Contributor',
    'Create and manage virtual machines, manage disks, install and run software, reset password of the ' +
      'root user of the virtual machine using VM extensions, and manage local user accounts using VM ' +
      'extensions. This role does not grant you management access to the virtual network or storage ' +
      'account the virtual machines are connected to. This role does not allow you to assign roles in ' +
      'Azure RBAC.',
    {
      actions: [
        'Microsoft.Authorization/*/read',
        'Microsoft.Compute/availabilitySets/*',
        'Microsoft.Compute/locations/*',
        'Microsoft.Compute/virtualMachines/*',
        'Microsoft.Compute/virtualMachineScaleSets/*',
        'Microsoft.Compute/disks/write',
        'Microsoft.Compute/disks/read',
        'Microsoft.Compute/disks/delete',
        'Microsoft.DevTestLab/schedules/*',
        'Microsoft.Insights/alertRules/*',
        'Microsoft.Network/applicationGateways/backendAddressPools/join/action',
        'Microsoft.Network/loadBalancers/backendAddressPools/join/action',
        'Microsoft.Network/loadBalancers/inboundNatPools/join/action',
        'Microsoft.Network/loadBalancers/inboundNatRules/join/action',
        'Microsoft.Network/loadBalancers/probes/join/action',
        'Microsoft.Network/loadBalancers/read',
        'Microsoft.Network/locations/*',
        'Microsoft.Network/networkInterfaces/*',
        'Microsoft.Network/networkSecurityGroups/join/action',
        'Microsoft.Network/networkSecurityGroups/read',
        'Microsoft.Network/publicIPAddresses/join/action',
        'Microsoft.Network/publicIPAddresses/read',
        'Microsoft.Network/virtualNetworks/read',
        'Microsoft.Network/virtualNetworks/subnets/join/action',
        'Microsoft.RecoveryServices/locations/*',
        'Microsoft.RecoveryServices/Vaults/backupFabrics/backupProtectionIntent/write',
        'Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/*/read',
        'Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/read',
        'Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/write',
        'Microsoft.RecoveryServices/Vaults/backupPolicies/read',
        'Microsoft.RecoveryServices/Vaults/backupPolicies/write',
        'Microsoft.RecoveryServices/Vaults/read',
        'Microsoft.RecoveryServices/Vaults/usages/read',
        'Microsoft.RecoveryServices/Vaults/write',
        'Microsoft.ResourceHealth/availabilityStatuses/read',
        'Microsoft.Resources/deployments/*',
        'Microsoft.Resources/subscriptions/resourceGroups/read',
        'Microsoft.SqlVirtualMachine/*',
        'Microsoft.Storage/storageAccounts/listKeys/action',
        'Microsoft.Storage/storageAccounts/read',
        'Microsoft.Support/*',
      ],
    },
  ),
  builtIn('f25e0fa2-a7c8-4377-a976-54943a77a395', 'Key Vault Contributor', 'Lets you manage key vaults, but not access to them.', {
    actions: [
      'Microsoft.Authorization/*/read',
      'Microsoft.Insights/alertRules/*',
      'Microsoft.KeyVault/*',
      'Microsoft.Resources/deployments/*',
      'Microsoft.Resources/subscriptions/resourceGroups/read',
      'Microsoft.Support/*',
    ],
    notActions: [
      'Microsoft.KeyVault/locations/deletedVaults/purge/action',
      'Microsoft.KeyVault/hsmPools/*',
      'Microsoft.KeyVault/managedHsms/*',
    ],
  }),
  builtIn(
    '00482a5a-887f-4fb3-b363-3b7fe8e74483',
    'Key Vault Administrator',
    'Perform all data plane operations on a key vault and all objects in it, including certificates, ' +
      'keys, and secrets. Cannot manage key vault resources or manage role assignments. Only works for key ' +
      "vaults that use the 'Azure role-based access control' permission model.",
    { actions: KEY_VAULT_READS, dataActions: ['Microsoft.KeyVault/vaults/*'] },
  ),
  builtIn(
    'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
    'Key Vault Secrets Officer',
    'Perform any action on the secrets of a key vault, except manage permissions. Only works for key ' +
      "vaults that use the 'Azure role-based access control' permission model.",
    { actions: KEY_VAULT_READS, dataActions: ['Microsoft.KeyVault/vaults/secrets/*'] },
  ),
  builtIn(
    '4633458b-17de-408a-b874-0445c86b69e6',
    'Key Vault Secrets User',
    "Read secret contents. Only works for key vaults that use the 'Azure role-based access control' permission model.",
    { dataActions: ['Microsoft.KeyVault/vaults/secrets/getSecret/action', 'Microsoft.KeyVault/vaults/secrets/readMetadata/action'] },
  ),
  builtIn('1e241071-0855-49ea-94dc-649edcd759de', 'EventGrid Contributor', 'Lets you manage EventGrid operations.', {
    actions: [
      'Microsoft.Authorization/*/read',
      'Microsoft.EventGrid/*',
      'Microsoft.Insights/alertRules/*',
      'Microsoft.Resources/deployments/*',
      'Microsoft.Resources/subscriptions/resourceGroups/read',
      'Microsoft.Support/*',
    ],
  }),
  builtIn(
    '428e0ff0-5e57-4d9c-a221-2c70d0e0a443',
    'EventGrid EventSubscription Contributor',
    'Lets you manage EventGrid event subscription operations.',
    {
      actions: [
        'Microsoft.Authorization/*/read',
        'Microsoft.EventGrid/eventSubscriptions/*',
        'Microsoft.EventGrid/topicTypes/eventSubscriptions/read',
        'Microsoft.EventGrid/locations/eventSubscriptions/read',
        'Microsoft.EventGrid/locations/topicTypes/eventSubscriptions/read',
        'Microsoft.Insights/alertRules/*',
        'Microsoft.Resources/deployments/*',
        'Microsoft.Resources/subscriptions/resourceGroups/read',
        'Microsoft.Support/*',
      ],
    },
  ),
  builtIn('d5a91429-5739-47e2-a06b-3470a27159e7', 'EventGrid Data Sender', 'Allows send access to event grid events.', {
    actions: [
      'Microsoft.Authorization/*/read',
      'Microsoft.EventGrid/topics/read',
      'Microsoft.EventGrid/domains/read',
      'Microsoft.EventGrid/partnerNamespaces/read',
      'Microsoft.Resources/subscriptions/resourceGroups/read',
      'Microsoft.EventGrid/namespaces/read',
    ],
    dataActions: ['Microsoft.EventGrid/events/send/action'],
  }),
  builtIn(
    'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
    'Storage Blob Data Owner',
    'Allows for full access to Azure Storage blob containers and data, including assigning POSIX access control.',
    {
      actions: [
        'Microsoft.Storage/storageAccounts/blobServices/containers/*',
        'Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action',
      ],
      dataActions: ['Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*'],
    },
  ),
  builtIn(
    '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
    'Storage Queue Data Contributor',
    'Read, write, and delete Azure Storage queues and queue messages.',
    {
      actions: [
        'Microsoft.Storage/storageAccounts/queueServices/queues/delete',
        'Microsoft.Storage/storageAccounts/queueServices/queues/read',
        'Microsoft.Storage/storageAccounts/queueServices/queues/write',
      ],
      dataActions: [
        'Microsoft.Storage/storageAccounts/queueServices/queues/messages/delete',
        'Microsoft.Storage/storageAccounts/queueServices/queues/messages/read',
        'Microsoft.Storage/storageAccounts/queueServices/queues/messages/write',
        'Microsoft.Storage/storageAccounts/queueServices/queues/messages/process/action',
      ],
    },
  ),
  builtIn(
    '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
    'Storage Table Data Contributor',
    'Allows for read, write and delete access to Azure Storage tables and entities',
    {
      actions: [
        'Microsoft.Storage/storageAccounts/tableServices/tables/read',
        'Microsoft.Storage/storageAccounts/tableServices/tables/write',
        'Microsoft.Storage/storageAccounts/tableServices/tables/delete',
      ],
      dataActions: [
        'Microsoft.Storage/storageAccounts/tableServices/tables/entities/read',
        'Microsoft.Storage/storageAccounts/tableServices/tables/entities/write',
        'Microsoft.Storage/storageAccounts/tableServices/tables/entities/delete',
        'Microsoft.Storage/storageAccounts/tableServices/tables/entities/add/action',
        'Microsoft.Storage/storageAccounts/tableServices/tables/entities/update/action',
      ],
    },
  ),
  builtIn('f1a07417-d97a-45cb-824c-7a7467783830', 'Managed Identity Operator', 'Read and Assign User Assigned Identity', {
    actions: [
      'Microsoft.ManagedIdentity/userAssignedIdentities/*/read',
      'Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action',
      'Microsoft.Authorization/*/read',
      'Microsoft.Insights/alertRules/*',
      'Microsoft.Resources/subscriptions/resourceGroups/read',
      'Microsoft.Resources/deployments/*',
      'Microsoft.Support/*',
    ],
  }),
  builtIn('3913510d-42f4-4e42-8a64-420c390055eb', 'Monitoring Metrics Publisher', 'Enables publishing metrics against Azure resources', {
    actions: ['Microsoft.Insights/Register/Action', 'Microsoft.Support/*', 'Microsoft.Resources/subscriptions/resourceGroups/read'],
    dataActions: ['Microsoft.Insights/Metrics/Write', 'Microsoft.Insights/Telemetry/Write'],
  }),
  builtIn(
    'de139f84-1756-47ae-9be6-808fbbe84772',
    'Website Contributor',
    'Lets you manage websites (not web plans), but not access to them.',
    {
      actions: [
        'Microsoft.Authorization/*/read',
        'Microsoft.Insights/alertRules/*',
        'Microsoft.Insights/components/*',
        'Microsoft.ResourceHealth/availabilityStatuses/read',
        'Microsoft.Resources/deployments/*',
        'Microsoft.Resources/subscriptions/resourceGroups/read',
        'Microsoft.Support/*',
        'Microsoft.Web/certificates/*',
        'Microsoft.Web/listSitesAssignedToHostName/read',
        'Microsoft.Web/serverFarms/join/action',
        'Microsoft.Web/serverFarms/read',
        'Microsoft.Web/sites/*',
      ],
    },
  ),
];

const BY_GUID = new Map(BUILT_IN_ROLE_DEFINITIONS.map((r) => [r.name.toLowerCase(), r]));

export function builtInRole(guid: string): RoleDefinition | undefined {
  return BY_GUID.get(guid.toLowerCase());
}

export function builtInRoleByName(roleName: string): RoleDefinition | undefined {
  return BUILT_IN_ROLE_DEFINITIONS.find((r) => r.roleName.toLowerCase() === roleName.toLowerCase());
}

/**
 * Whether an action string matches a permission pattern. Azure compares case-insensitively, and `*` matches
 * any run of characters (also across `/`): `*` is everything, `Microsoft.Compute/*` every Compute operation,
 * `Microsoft.Compute/*\/read` every Compute read, `*\/read` every read
 * (https://learn.microsoft.com/azure/role-based-access-control/role-definitions#actions).
 */
export function actionMatches(pattern: string, action: string): boolean {
  const p = pattern.toLowerCase();
  const a = action.toLowerCase();
  if (!p.includes('*')) return p === a;
  // A `/*/` segment also matches no segment: Managed Identity Operator's `userAssignedIdentities/*/assign/action`
  // grants `userAssignedIdentities/assign/action`.
  const escape = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  const source = p
    .split('/*/')
    .map((segment) => segment.split('*').map(escape).join('.*'))
    .join('/(?:.*/)?');
  return new RegExp(`^${source}$`).test(a);
}

/**
 * Whether one role grants an operation: some permission block lists it in actions (dataActions) and the same
 * block does not exclude it with notActions (notDataActions). NotActions are subtractions, not denies: another
 * role (or block) may still grant the operation.
 */
export function roleGrants(role: RoleDefinition, operation: string, kind: 'action' | 'dataAction'): boolean {
  return role.permissions.some((p) => {
    const allow = kind === 'action' ? p.actions : p.dataActions;
    const exclude = kind === 'action' ? p.notActions : p.notDataActions;
    return allow.some((x) => actionMatches(x, operation)) && !exclude.some((x) => actionMatches(x, operation));
  });
}

/** Whether an assignment at `assignmentScope` applies to `scope`: same scope or a parent of it (inheritance). */
export function scopeCovers(assignmentScope: string, scope: string): boolean {
  const a = assignmentScope.replace(/\/+$/, '').toLowerCase();
  const s = scope.replace(/\/+$/, '').toLowerCase();
  return a === '' || s === a || s.startsWith(`${a}/`);
}
