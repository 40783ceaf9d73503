/**
 * The simulator's certificate authority. Generated on first start and kept in the state folder so
 * clients can trust it once (NODE_EXTRA_CA_CERTS / REQUESTS_CA_BUNDLE). Leaf certificates for the
 * Azure host names are issued on demand; vault and Event Grid hosts get one wildcard per parent domain.
 */
import { createSign, generateKeyPairSync, randomBytes, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import forge from 'node-forge';

const CA_SUBJECT = [
  { name: 'commonName', value: 'ADE Autopilot Azure Simulator Root CA' },
  { name: 'organizationName', value: 'ade-autopilot azure-sim' },
];

export interface CaFiles {
  dir: string;
  certPath: string;
  keyPath: string;
}

export class CertificateAuthority {
  readonly certPath: string;
  readonly certPem: string;
  private readonly caKeyPem: string;
  private readonly caCert: forge.pki.Certificate;
  /** One key pair for all leaf certificates: generating RSA keys per host would be slow. */
  private readonly leafKeyPem: string;
  private readonly leafPublic: forge.pki.rsa.PublicKey;
  private readonly contexts = new Map<string, SecureContext>();

  private constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.certPath = join(dir, 'ca.crt');
    const keyPath = join(dir, 'ca.key');
    if (!existsSync(this.certPath) || !existsSync(keyPath)) {
      const { cert, keyPem } = createCa();
      writeFileSync(keyPath, keyPem, { mode: 0o600 });
      writeFileSync(this.certPath, forge.pki.certificateToPem(cert));
    }
    this.certPem = readFileSync(this.certPath, 'utf8');
    this.caCert = forge.pki.certificateFromPem(this.certPem);
    this.caKeyPem = readFileSync(keyPath, 'utf8');
    const leafKeyPath = join(dir, 'leaf.key');
    if (!existsSync(leafKeyPath)) writeFileSync(leafKeyPath, newRsaKeyPem(2048), { mode: 0o600 });
    this.leafKeyPem = readFileSync(leafKeyPath, 'utf8');
    this.leafPublic = forge.pki.publicKeyFromPem(
      createPublicKey(createPrivateKey(this.leafKeyPem)).export({ type: 'spki', format: 'pem' }).toString(),
    );
  }

  static openOrCreate(dir: string): CertificateAuthority {
    return new CertificateAuthority(dir);
  }

  /** TLS context for a host name the proxy terminates (cached per certificate name). */
  secureContextFor(host: string): SecureContext {
    const name = certificateNameFor(host);
    let ctx = this.contexts.get(name);
    if (!ctx) {
      const certPem = this.issue(name);
      ctx = createSecureContext({ key: this.leafKeyPem, cert: certPem + this.certPem });
      this.contexts.set(name, ctx);
    }
    return ctx;
  }

  private issue(dnsName: string): string {
    const cert = forge.pki.createCertificate();
    cert.publicKey = this.leafPublic;
    cert.serialNumber = serial();
    const now = new Date();
    cert.validity.notBefore = new Date(now.getTime() - 24 * 3600_000);
    cert.validity.notAfter = new Date(now.getTime() + 397 * 24 * 3600_000);
    cert.setSubject([{ name: 'commonName', value: dnsName }]);
    cert.setIssuer(this.caCert.subject.attributes);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: dnsName }] },
    ]);
    signWithNode(cert, this.caKeyPem);
    return forge.pki.certificateToPem(cert);
  }
}

/** `myvault.vault.azure.net` → `*.vault.azure.net`; fixed hosts keep their own name. */
export function certificateNameFor(host: string): string {
  const labels = host.split('.');
  if (labels.length > 3 && (host.endsWith('.vault.azure.net') || host.endsWith('.eventgrid.azure.net'))) {
    return `*.${labels.slice(1).join('.')}`;
  }
  return host;
}

function createCa(): { cert: forge.pki.Certificate; keyPem: string } {
  const keyPem = newRsaKeyPem(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(createPublicKey(keyPem).export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = serial();
  const now = new Date();
  cert.validity.notBefore = new Date(now.getTime() - 24 * 3600_000);
  cert.validity.notAfter = new Date(now.getTime() + 10 * 365 * 24 * 3600_000);
  cert.setSubject(CA_SUBJECT);
  cert.setIssuer(CA_SUBJECT);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  signWithNode(cert, keyPem);
  return { cert, keyPem };
}

/** Same as forge's cert.sign(key, sha256) but with native RSA (forge's pure-JS signing takes ~200 ms). */
export function signWithNode(cert: forge.pki.Certificate, keyPem: string): void {
  const oid = forge.pki.oids.sha256WithRSAEncryption!;
  cert.signatureOid = oid;
  cert.siginfo.algorithmOid = oid;
  // getTBSCertificate exists at runtime but is missing from @types/node-forge.
  const tbs = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(cert);
  (cert as unknown as { tbsCertificate: forge.asn1.Asn1 }).tbsCertificate = tbs;
  const der = Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary');
  cert.signature = createSign('RSA-SHA256').update(der).sign(keyPem).toString('binary');
}

/** node:crypto generates keys natively (forge's pure-JS keygen takes seconds). */
export function newRsaKeyPem(bits: number): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 0x10001 });
  return privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
}

function serial(): string {
  // Positive 16-byte serial (high bit cleared).
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}
