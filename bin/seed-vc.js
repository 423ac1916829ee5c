#!/usr/bin/env node
// Entry point of the `seed-vc` command: the sources are TypeScript, run through tsx (no build step).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
