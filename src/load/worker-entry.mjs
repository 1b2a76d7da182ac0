// Entry of a load-generator worker thread: registers tsx so worker-host.ts runs from source, whatever loader the
// parent used (vitest, the bin shim, plain node with --import tsx). Same pattern as src/sim/host-entry.mjs.
import { register } from 'tsx/esm/api';

register();
await import('./worker-host.ts');
