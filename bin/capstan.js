#!/usr/bin/env -S node --no-node-snapshot
// Capstan runs from its TypeScript sources through tsx; isolated-vm needs --no-node-snapshot.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../core/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
