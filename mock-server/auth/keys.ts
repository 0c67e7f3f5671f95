/**
 * API keys. A key is `mp_<id>_<secret>`; the server stores only a SHA-256 hash of it (keys.json,
 * written atomically, one write at a time, each with every change so far: see SnapshotFile), looks
 * it up by its public id and compares hashes in constant time. A creation or revocation is
 * answered only once keys.json holding it is on disk. Revocation takes effect on the next request. The bootstrap admin key (MODELPORT_API_KEY or
 * generated at start) is held as a hash in memory only.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { components } from 'modelport';
import { SnapshotFile } from '../registry/atomic';

export type Scope = components['schemas']['Scope'];
export type ApiKeyView = components['schemas']['ApiKey'];
export type RateLimitConfig = components['schemas']['RateLimit'];

interface StoredKey extends ApiKeyView {
  hash: string;
}

export interface Principal {
  /** Key id, or `admin` for the bootstrap key. */
  keyId: string;
  scopes: Scope[];
  models?: string[];
  rateLimit?: RateLimitConfig;
}

const KEY_PATTERN = /^mp_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$/;
/** Verified tokens remembered at most (the cache starts over beyond). */
const MAX_VERIFIED = 1024;

export class KeyStore {
  private keys = new Map<string, StoredKey>();
  private readonly keysJson: SnapshotFile;
  /**
   * Tokens that verified → their principal, so a request does not hash its token again. Only
   * valid tokens are kept, and every change to the keys (create, revoke, reset) empties it, so a
   * revocation still takes effect on the next request.
   */
  private readonly verified = new Map<string, Principal>();

  private constructor(
    dataDir: string,
    private readonly adminHash: Buffer,
  ) {
    this.keysJson = new SnapshotFile(path.join(dataDir, 'keys.json'), () => `${JSON.stringify([...this.keys.values()], null, 2)}\n`);
  }

  static async open(dataDir: string, adminKey: string): Promise<KeyStore> {
    const store = new KeyStore(dataDir, sha256(adminKey));
    try {
      const stored = JSON.parse(await readFile(store.keysJson.file, 'utf8')) as StoredKey[];
      for (const key of stored) store.keys.set(key.id, key);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    return store;
  }

  /** Who holds this bearer token, or undefined for a bad or revoked one. */
  verify(token: string): Principal | undefined {
    const known = this.verified.get(token);
    if (known) return known;
    const principal = this.check(token);
    if (principal) {
      if (this.verified.size >= MAX_VERIFIED) this.verified.clear();
      this.verified.set(token, Object.freeze(principal));
    }
    return principal;
  }

  private check(token: string): Principal | undefined {
    const hash = sha256(token);
    if (timingSafeEqual(hash, this.adminHash)) return { keyId: 'admin', scopes: ['admin'] };
    const id = KEY_PATTERN.exec(token)?.[1];
    const key = id ? this.keys.get(id) : undefined;
    // Compare even when the id is unknown, so timing does not tell which ids exist.
    const stored = key ? Buffer.from(key.hash, 'hex') : this.adminHash;
    if (!timingSafeEqual(hash, stored) || !key || key.revoked_at) return undefined;
    return {
      keyId: key.id,
      scopes: key.scopes,
      ...(key.models ? { models: key.models } : {}),
      ...(key.rate_limit ? { rateLimit: key.rate_limit } : {}),
    };
  }

  async create(request: components['schemas']['ApiKeyCreate']): Promise<components['schemas']['ApiKeyCreated']> {
    const id = randomBytes(6).toString('hex');
    const secret = `mp_${id}_${randomBytes(32).toString('base64url')}`;
    const key: StoredKey = {
      id,
      name: request.name,
      prefix: `mp_${id}`,
      scopes: request.scopes,
      ...(request.models ? { models: request.models } : {}),
      ...(request.rate_limit ? { rate_limit: request.rate_limit } : {}),
      created_at: new Date().toISOString(),
      hash: sha256(secret).toString('hex'),
    };
    this.keys.set(id, key);
    this.verified.clear();
    try {
      await this.keysJson.save();
    } catch (error) {
      // Not on disk, so not created: the caller gets an error, not a secret that a restart would forget.
      this.keys.delete(id);
      this.verified.clear();
      throw error;
    }
    return { ...view(key), secret };
  }

  list(): ApiKeyView[] {
    return [...this.keys.values()].map(view).sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
  }

  /** Revokes a key; false when there is no such key. */
  async revoke(id: string): Promise<boolean> {
    const key = this.keys.get(id);
    if (!key) return false;
    key.revoked_at ??= new Date().toISOString();
    this.verified.clear();
    // Stays revoked in memory even if this write fails (the caller sees the error and retries).
    await this.keysJson.save();
    return true;
  }

  async reset(): Promise<void> {
    this.keys.clear();
    this.verified.clear();
    await this.keysJson.save();
  }
}

export function generateAdminKey(): string {
  return `mp_admin_${randomBytes(24).toString('base64url')}`;
}

function view({ hash: _hash, ...key }: StoredKey): ApiKeyView {
  return key;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
