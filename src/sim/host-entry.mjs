// Entry of the simulator's worker thread or child process: registers tsx so host.ts runs from source,
// whatever loader the parent used (vitest, the bin shim, plain node with --import tsx).
import { register } from 'tsx/esm/api';

register();
await import('./host.ts');
