/**
 * Access tokens: RS256 JWTs signed with the simulator's token-signing key (kept in the state folder
 * so tokens stay valid across restarts). Every service validates them and derives the caller's
 * Principal from the claims, like Azure's services do.
 */
import { createHash, createPrivateKey, createPublicKey, createSign, createVerify, randomUUID, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newRsaKeyPem } from './ca';
import type { Principal } from '../contract';

/** Access tokens live one hour on the one (real) clock, which clients also cache them by. */
export const TOKEN_LIFETIME_SECONDS = 3599;

export interface TokenClaims {
  aud: string;
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
  tid: string;
  oid: string;
  sub: string;
  appid: string;
  azp?: string;
  app_displayname?: string;
  idtyp: 'app';
  ver: '1.0';
  /** Simulator claim: the principal kind (servicePrincipal | managedIdentity | platform). */
  sim_kind: Principal['kind'];
  uti: string;
  xms_mirid?: string;
  /** Application permissions granted on the audience's resource (app role values). */
  roles?: string[];
}

export type TokenCheck =
  | { ok: true; claims: TokenClaims }
  | { ok: false; reason: 'malformed' | 'signature' | 'expired' | 'notYetValid'; message: string; claims?: TokenClaims };

export class TokenIssuer {
  readonly kid: string;
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;

  constructor(keyDir: string) {
    const keyPath = join(keyDir, 'token-signing.key');
    if (!existsSync(keyPath)) writeFileSync(keyPath, newRsaKeyPem(2048), { mode: 0o600 });
    this.privateKey = createPrivateKey(readFileSync(keyPath, 'utf8'));
    this.publicKey = createPublicKey(this.privateKey);
    const der = this.publicKey.export({ type: 'spki', format: 'der' });
    this.kid = createHash('sha256').update(der).digest('base64url').slice(0, 27);
  }

  /** JWKS document as served at the OpenID `jwks_uri`. */
  jwks(): { keys: unknown[] } {
    const jwk = this.publicKey.export({ format: 'jwk' }) as { n: string; e: string };
    return { keys: [{ kty: 'RSA', use: 'sig', kid: this.kid, x5t: this.kid, n: jwk.n, e: jwk.e }] };
  }

  issue(principal: Principal, audience: string): { token: string; expiresIn: number; expiresOn: number } {
    const now = Math.floor(Date.now() / 1000);
    const claims: TokenClaims = {
      aud: audience,
      iss: `https://sts.windows.net/${principal.tenantId}/`,
      iat: now,
      nbf: now - 5 * 60,
      exp: now + TOKEN_LIFETIME_SECONDS,
      tid: principal.tenantId,
      oid: principal.objectId,
      sub: principal.objectId,
      appid: principal.appId,
      azp: principal.appId,
      app_displayname: principal.displayName,
      idtyp: 'app',
      ver: '1.0',
      sim_kind: principal.kind,
      uti: randomUUID().replace(/-/g, '').slice(0, 22),
    };
    if (principal.roles && principal.roles.length > 0) claims.roles = [...principal.roles];
    const header = { typ: 'JWT', alg: 'RS256', kid: this.kid, x5t: this.kid };
    const signingInput = `${b64json(header)}.${b64json(claims)}`;
    const signature = createSign('RSA-SHA256').update(signingInput).sign(this.privateKey).toString('base64url');
    return { token: `${signingInput}.${signature}`, expiresIn: TOKEN_LIFETIME_SECONDS, expiresOn: claims.exp };
  }

  verify(token: string): TokenCheck {
    const parts = token.split('.');
    if (parts.length !== 3)
      return { ok: false, reason: 'malformed', message: 'the token is not a JWT (expected three dot-separated parts)' };
    let claims: TokenClaims;
    let header: { alg?: string; kid?: string };
    try {
      header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as { alg?: string; kid?: string };
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as TokenClaims;
    } catch {
      return { ok: false, reason: 'malformed', message: 'the token header or payload is not base64url JSON' };
    }
    if (header.alg !== 'RS256' || header.kid !== this.kid) {
      return { ok: false, reason: 'signature', message: 'the token was not signed by this identity provider' };
    }
    const valid = createVerify('RSA-SHA256').update(`${parts[0]}.${parts[1]}`).verify(this.publicKey, Buffer.from(parts[2]!, 'base64url'));
    if (!valid) return { ok: false, reason: 'signature', message: 'the token signature is invalid' };
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.exp !== 'number' || claims.exp <= now)
      return { ok: false, reason: 'expired', message: 'the token has expired', claims };
    if (typeof claims.nbf === 'number' && claims.nbf > now + 300)
      return { ok: false, reason: 'notYetValid', message: 'the token is not yet valid', claims };
    return { ok: true, claims };
  }
}

export function principalFromClaims(claims: TokenClaims): Principal {
  return {
    tenantId: claims.tid,
    objectId: claims.oid,
    appId: claims.appid,
    kind: claims.sim_kind,
    displayName: claims.app_displayname ?? claims.appid,
    audience: claims.aud,
    roles: Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [],
  };
}

function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
