#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so `npx find-capacity` works right after `npm install`.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
