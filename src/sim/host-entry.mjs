// Entry of the simulator's worker thread or child process: registers tsx so host.ts runs from source,
// whatever loader the parent used (vitest, the bin shim, plain node with --import tsx).
import { register } from 'tsx/esm/api';
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  // A forked simulator shares its parent's process group, so a terminal's Ctrl-C reaches it too; its parent
  // owns its lifetime (a stop message, or the IPC channel closing when the parent dies) and lets in-flight
  // requests finish first, so the child must not die on the signal meant for the parent.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
}

register();
await import('./host.ts');
