// The same attacks with keys off (`--no-keys`): the origin and content-type guard refuses them on its own.
import { browserGuardSuite } from './browser-guard-suite';

browserGuardSuite(false);
