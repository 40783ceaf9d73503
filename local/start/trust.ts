/**
 * Trusting the simulator's CA inside an already-running process. Node reads NODE_EXTRA_CA_CERTS only
 * at start-up, and the launcher creates the CA after it started, so the CA is added to every default
 * secure context instead (the simulator README's "Trusting the CA"). SDK clients stay unmodified.
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

const trusted = new Set<string>();
let patched = false;

export function trustCertificateAuthority(caCertPath: string): void {
  const pem = readFileSync(caCertPath, 'utf8');
  trusted.add(pem);
  if (patched) return;
  patched = true;
  const original = tls.createSecureContext;
  tls.createSecureContext = ((options?: tls.SecureContextOptions) => {
    const context = original(options);
    // A caller that brings its own CA list meant exactly that list.
    if (!options?.ca) for (const ca of trusted) (context.context as { addCACert(pem: string): void }).addCACert(ca);
    return context;
  }) as typeof tls.createSecureContext;
}
