/**
 * KeyVaultDataPort over @azure/keyvault-keys and @azure/keyvault-secrets (data plane).
 *
 * The automation must never be able to read a disk key (BEK). Three layers make sure of it:
 *  1. the vault grants the automation secrets `list` and `recover` only, never `get`;
 *  2. this module never holds a full SecretClient: {@link createSecretMetadataClient} narrows it
 *     to listing and recovery at the type level, so `getSecret` does not type-check here;
 *  3. the port's result types have no `value` field, and the mappers copy named fields only.
 * The SDK's `beginRecoverDeletedSecret` poller detects completion by calling `getSecret`, so
 * secret recovery sends the recover request itself and polls with a version *listing* instead.
 */
import type { TokenCredential } from '@azure/core-auth';
import { KeyClient, type KeyClientOptions, type KeyVaultKey } from '@azure/keyvault-keys';
import { SecretClient, type SecretClientOptions, type SecretProperties } from '@azure/keyvault-secrets';
import { ConflictError, TransientError, UnsupportedError, ValidationError } from '../core/errors';
import { parseKeyVaultObjectId, parseKeyVaultUrl } from '../core/resource-ids';
import { callAzure, callAzureOrUndefined, mapAzureError, SDK_RETRY_OPTIONS } from './errors';
import type { DeletedObjectInfo, EnsureKekResult, KeyInfo, KeyVaultDataPort, SecretVersionProperties } from './ports';

/** The only secret operations this app may perform: list metadata, list deleted, recover. */
interface SecretMetadataClient {
  listPropertiesOfSecretVersions: SecretClient['listPropertiesOfSecretVersions'];
  listDeletedSecrets: SecretClient['listDeletedSecrets'];
  /** POST /deletedsecrets/{name}/recover, without the SDK poller's getSecret. */
  recoverDeletedSecret(name: string): Promise<void>;
}

/** Shape of the generated client inside SecretClient that we call for recovery (checked at runtime). */
interface GeneratedSecretsClient {
  recoverDeletedSecret(name: string, options?: object): Promise<unknown>;
}

/**
 * Builds a SecretClient and hands out only the metadata/recovery surface. Keep the SecretClient
 * local to this function: nothing else in the app gets a reference that could call getSecret.
 */
function createSecretMetadataClient(
  vaultUrl: string,
  credential: TokenCredential,
  options: SecretClientOptions = {},
): SecretMetadataClient {
  const client = new SecretClient(vaultUrl, credential, options);
  return {
    listPropertiesOfSecretVersions: (name, opts) => client.listPropertiesOfSecretVersions(name, opts),
    listDeletedSecrets: (opts) => client.listDeletedSecrets(opts),
    async recoverDeletedSecret(name: string): Promise<void> {
      const generated = (client as unknown as { client?: Partial<GeneratedSecretsClient> }).client;
      if (!generated || typeof generated.recoverDeletedSecret !== 'function') {
        throw new UnsupportedError(
          'This @azure/keyvault-secrets version does not expose recoverDeletedSecret on its generated client; update ' +
            'azure/keyvault-data.ts',
          { code: 'SdkShapeChanged' },
        );
      }
      await generated.recoverDeletedSecret(name, {});
    },
  };
}

export interface KeyVaultDataAdapterOptions {
  keyClientOptions?: KeyClientOptions;
  secretClientOptions?: SecretClientOptions;
  /** Poll interval while waiting for a recovery to finish. */
  pollIntervalMs?: number;
  /** Give up waiting for a recovery after this long (it normally takes seconds). */
  recoveryTimeoutMs?: number;
}

export class KeyVaultDataAdapter implements KeyVaultDataPort {
  private readonly keyClients = new Map<string, KeyClient>();
  private readonly secretClients = new Map<string, SecretMetadataClient>();

  constructor(
    private readonly credential: TokenCredential,
    private readonly options: KeyVaultDataAdapterOptions = {},
  ) {}

  private keys(vaultUrl: string): KeyClient {
    const { vaultUrl: url } = parseKeyVaultUrl(vaultUrl.replace(/\/+$/, ''), 'vaultUrl');
    let client = this.keyClients.get(url);
    if (!client) {
      client = new KeyClient(url, this.credential, { retryOptions: { ...SDK_RETRY_OPTIONS }, ...this.options.keyClientOptions });
      this.keyClients.set(url, client);
    }
    return client;
  }

  private secrets(vaultUrl: string): SecretMetadataClient {
    const { vaultUrl: url } = parseKeyVaultUrl(vaultUrl.replace(/\/+$/, ''), 'vaultUrl');
    let client = this.secretClients.get(url);
    if (!client) {
      client = createSecretMetadataClient(url, this.credential, {
        retryOptions: { ...SDK_RETRY_OPTIONS },
        ...this.options.secretClientOptions,
      });
      this.secretClients.set(url, client);
    }
    return client;
  }

  async ensureKek(vaultUrl: string, keyName: string, options: { keySize: 2048 | 3072 | 4096 }): Promise<EnsureKekResult> {
    checkObjectName(keyName, 'keyName');
    if (![2048, 3072, 4096].includes(options.keySize))
      throw new ValidationError(`KEK size must be 2048, 3072 or 4096: got ${options.keySize}`, { field: 'keySize' });
    const client = this.keys(vaultUrl);
    const existing = await callAzureOrUndefined(`Read key ${keyName} in ${vaultUrl}`, () => client.getKey(keyName));
    if (existing) return { ...checkKek(toKeyInfo(existing)), created: false, recovered: false };

    try {
      // wrapKey/unwrapKey is all ADE does with a KEK; nothing else needs to be allowed.
      const created = await client.createRsaKey(keyName, { keySize: options.keySize, keyOps: ['wrapKey', 'unwrapKey'] });
      return { ...toKeyInfo(created), created: true, recovered: false };
    } catch (error) {
      const mapped = mapAzureError(error, `Create key ${keyName} in ${vaultUrl}`);
      // 409 ObjectIsDeletedButRecoverable: the name is held by a soft-deleted key; recover it
      // (creating under another name would orphan whatever it protected).
      if (mapped.kind === 'conflict' && /deleted/i.test(`${mapped.code ?? ''} ${mapped.message}`)) {
        const recovered = await this.recoverDeletedKey(vaultUrl, keyName);
        return { ...checkKek(recovered), created: false, recovered: true };
      }
      throw mapped;
    }
  }

  async getKeyVersionedId(vaultUrl: string, keyName: string): Promise<string | undefined> {
    const key = await callAzureOrUndefined(`Read key ${keyName} in ${vaultUrl}`, () => this.keys(vaultUrl).getKey(keyName));
    return key ? toKeyInfo(key).versionedId : undefined;
  }

  async findSecretVersionProperties(secretUrl: string): Promise<SecretVersionProperties | undefined> {
    const id = parseKeyVaultObjectId(secretUrl, 'secretUrl');
    if (id.kind !== 'secrets' || !id.version)
      throw new ValidationError(`secretUrl must be a versioned secret URL: ${secretUrl}`, { field: 'secretUrl' });
    const wanted = id.version.toLowerCase();
    return callAzureOrUndefined(`List versions of secret ${id.name} in ${id.vaultUrl}`, async () => {
      for await (const properties of this.secrets(id.vaultUrl).listPropertiesOfSecretVersions(id.name)) {
        if (properties.version?.toLowerCase() === wanted) return toSecretVersionProperties(properties);
      }
      return undefined;
    });
  }

  async getDeletedSecret(vaultUrl: string, secretName: string): Promise<DeletedObjectInfo | undefined> {
    checkObjectName(secretName, 'secretName');
    // getDeletedSecret needs secrets/get (and can carry a value); the listing needs only secrets/list.
    return callAzure(`List deleted secrets in ${vaultUrl}`, async () => {
      for await (const deleted of this.secrets(vaultUrl).listDeletedSecrets()) {
        if (deleted.name.toLowerCase() === secretName.toLowerCase()) {
          return toDeletedInfo(deleted);
        }
      }
      return undefined;
    });
  }

  async recoverDeletedSecret(vaultUrl: string, secretName: string): Promise<void> {
    checkObjectName(secretName, 'secretName');
    const client = this.secrets(vaultUrl);
    await callAzure(`Recover deleted secret ${secretName} in ${vaultUrl}`, () => client.recoverDeletedSecret(secretName));
    // Recovery is asynchronous: the versions listing answers 404 until the secret is back.
    await this.waitUntil(`secret ${secretName} in ${vaultUrl} to be recovered`, async () => {
      const first = await callAzureOrUndefined(`List versions of secret ${secretName}`, async () => {
        const page = await client.listPropertiesOfSecretVersions(secretName).byPage({ maxPageSize: 1 }).next();
        return page.done ? [] : page.value;
      });
      return first !== undefined && first.length > 0;
    });
  }

  async getDeletedKey(vaultUrl: string, keyName: string): Promise<DeletedObjectInfo | undefined> {
    checkObjectName(keyName, 'keyName');
    const deleted = await callAzureOrUndefined(`Read deleted key ${keyName} in ${vaultUrl}`, () =>
      this.keys(vaultUrl).getDeletedKey(keyName),
    );
    if (!deleted) return undefined;
    return toDeletedInfo(deleted);
  }

  async recoverDeletedKey(vaultUrl: string, keyName: string): Promise<KeyInfo> {
    checkObjectName(keyName, 'keyName');
    const client = this.keys(vaultUrl);
    // The keys poller checks completion with getKey (keys/get: public key material only), which is fine.
    const recovered = await callAzure(`Recover deleted key ${keyName} in ${vaultUrl}`, async () => {
      const poller = await client.beginRecoverDeletedKey(
        keyName,
        this.options.pollIntervalMs === undefined ? {} : { intervalInMs: this.options.pollIntervalMs },
      );
      return poller.pollUntilDone();
    });
    if (recovered.id && recovered.properties.version) return toKeyInfo(recovered as KeyVaultKey);
    const key = await callAzure(`Read key ${keyName} in ${vaultUrl}`, () => client.getKey(keyName));
    return toKeyInfo(key);
  }

  private async waitUntil(what: string, done: () => Promise<boolean>): Promise<void> {
    const interval = this.options.pollIntervalMs ?? 2_000;
    const deadline = Date.now() + (this.options.recoveryTimeoutMs ?? 120_000);
    for (;;) {
      if (await done()) return;
      if (Date.now() >= deadline) throw new TransientError(`Timed out waiting for ${what}`, { code: 'RecoveryPending' });
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
  }
}

function toKeyInfo(key: KeyVaultKey): KeyInfo {
  if (!key.id) throw new ValidationError(`Key Vault returned key ${key.name} without an id`, { field: 'id' });
  const id = parseKeyVaultObjectId(key.id, 'key.id');
  if (!id.version) throw new ValidationError(`Key Vault returned an unversioned key id for ${key.name}`, { field: 'id' });
  const info: KeyInfo = { versionedId: key.id, name: key.name, version: id.version };
  if (key.keyType) info.keyType = key.keyType;
  if (key.properties.enabled !== undefined) info.enabled = key.properties.enabled;
  return info;
}

/** ADE needs an enabled RSA KEK (EC is not supported, docs/ade-behaviour.md#secrets-keys-and-vaults). */
function checkKek(key: KeyInfo): KeyInfo {
  if (key.keyType && !key.keyType.toUpperCase().startsWith('RSA')) {
    throw new ConflictError(`Key ${key.name} exists but is ${key.keyType}; ADE needs an RSA key encryption key`, { code: 'KekNotRsa' });
  }
  if (key.enabled === false)
    throw new ConflictError(`Key ${key.name} exists but is disabled; ADE needs an enabled key encryption key`, { code: 'KekDisabled' });
  return key;
}

function toSecretVersionProperties(p: SecretProperties): SecretVersionProperties {
  // Named fields only: whatever else the SDK object carries is never copied.
  const out: SecretVersionProperties = {
    id: p.id ?? `${p.vaultUrl.replace(/\/+$/, '')}/secrets/${p.name}/${p.version ?? ''}`,
    vaultUrl: p.vaultUrl,
    name: p.name,
    version: p.version ?? '',
    tags: { ...(p.tags ?? {}) },
  };
  if (p.enabled !== undefined) out.enabled = p.enabled;
  if (p.contentType !== undefined) out.contentType = p.contentType;
  if (p.createdOn) out.createdOn = p.createdOn.toISOString();
  if (p.updatedOn) out.updatedOn = p.updatedOn.toISOString();
  return out;
}

/** A deleted secret or key as the SDKs list it: its name, and when and until when it can be recovered. */
interface DeletedObjectLike {
  name: string;
  properties: { recoveryId?: string; deletedOn?: Date; scheduledPurgeDate?: Date; tags?: Record<string, string> };
}

function toDeletedInfo({ name, properties }: DeletedObjectLike): DeletedObjectInfo {
  const { recoveryId, deletedOn, scheduledPurgeDate, tags } = properties;
  const info: DeletedObjectInfo = { name, tags: { ...(tags ?? {}) } };
  if (recoveryId) info.recoveryId = recoveryId;
  if (deletedOn) info.deletedOn = deletedOn.toISOString();
  if (scheduledPurgeDate) info.scheduledPurgeDate = scheduledPurgeDate.toISOString();
  return info;
}

function checkObjectName(name: string, field: string): void {
  if (!/^[0-9A-Za-z-]{1,127}$/.test(name))
    throw new ValidationError(`${field} must be 1–127 letters, digits or hyphens: got ${JSON.stringify(name)}`, { field });
}
