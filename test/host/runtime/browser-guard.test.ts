// Cross-origin and non-JSON requests to the host's built-in routes, keys on (the default, and `npm start -- --azure`).
import { browserGuardSuite } from './browser-guard-suite';

browserGuardSuite(true);
