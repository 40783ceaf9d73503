/**
 * Azure built-in role definition ids, from Microsoft's built-in roles reference
 * (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles). Built-in ids are the same in
 * every tenant and never change. Each id here was cross-checked against that reference and several public
 * templates that use it (azure-quickstart-templates, Azure Verified Modules role maps).
 *
 * `grantsAccessManagement` marks roles that can write role assignments (privilege escalation); the templates
 * must never assign them. `broaderThanContributor` marks roles above Contributor.
 */
export interface BuiltInRole {
  name: string;
  grantsAccessManagement: boolean;
  broaderThanContributor: boolean;
}

export const BUILT_IN_ROLES: Readonly<Record<string, BuiltInRole>> = {
  '8e3af657-a8ff-443c-a75c-2fe8c4bcb635': { name: 'Owner', grantsAccessManagement: true, broaderThanContributor: true },
  '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9': { name: 'User Access Administrator', grantsAccessManagement: true, broaderThanContributor: true },
  'f58310d9-a9f6-439a-9e8d-f62e7b41a168': {
    name: 'Role Based Access Control Administrator',
    grantsAccessManagement: true,
    broaderThanContributor: true,
  },
  'b24988ac-6180-42a0-ab88-20f7382dd24c': { name: 'Contributor', grantsAccessManagement: false, broaderThanContributor: false },
  'acdd72a7-3385-48ef-bd42-f606fba81ae7': { name: 'Reader', grantsAccessManagement: false, broaderThanContributor: false },
  '9980e02c-c2be-4d73-94e8-173b1dc7cf3c': {
    name: 'Virtual Machine Contributor',
    grantsAccessManagement: false,
    broaderThanContributor: false,
  },
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': { name: 'Storage Blob Data Owner', grantsAccessManagement: false, broaderThanContributor: false },
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe': {
    name: 'Storage Blob Data Contributor',
    grantsAccessManagement: false,
    broaderThanContributor: false,
  },
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88': {
    name: 'Storage Queue Data Contributor',
    grantsAccessManagement: false,
    broaderThanContributor: false,
  },
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3': {
    name: 'Storage Table Data Contributor',
    grantsAccessManagement: false,
    broaderThanContributor: false,
  },
  '3913510d-42f4-4e42-8a64-420c390055eb': {
    name: 'Monitoring Metrics Publisher',
    grantsAccessManagement: false,
    broaderThanContributor: false,
  },
  'f25e0fa2-a7c8-4377-a976-54943a77a395': { name: 'Key Vault Contributor', grantsAccessManagement: false, broaderThanContributor: false },
  '1e241071-0855-49ea-94dc-649edcd759de': { name: 'EventGrid Contributor', grantsAccessManagement: false, broaderThanContributor: false },
  'd5a91429-5739-47e2-a06b-3470a27159e7': { name: 'EventGrid Data Sender', grantsAccessManagement: false, broaderThanContributor: false },
  '428e0ff0-5e57-4d9c-a221-2c70d0e0a443': {
    name: 'EventGrid EventSubscription Contributor',
    grantsAccessManagement: false,
    broaderThanContributor: false,
  },
  'de139f84-1756-47ae-9be6-808fbbe84772': { name: 'Website Contributor', grantsAccessManagement: false, broaderThanContributor: false },
  // https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/integration#durable-task-data-contributor
  '0ad04412-c4d5-4796-b79c-f76d14c8d402': {
    name: 'Durable Task Data Contributor',
    grantsAccessManagement: false,
    broaderThanContributor: false,
  },
  'f1a07417-d97a-45cb-824c-7a7467783830': {
    name: 'Managed Identity Operator',
    grantsAccessManagement: false,
    broaderThanContributor: false,
  },
};

/** "Storage Blob Data Owner" and "storageBlobDataOwner" both become "storageblobdataowner". */
export function roleKey(nameOrVariableKey: string): string {
  return nameOrVariableKey.replace(/\s+/g, '').toLowerCase();
}
