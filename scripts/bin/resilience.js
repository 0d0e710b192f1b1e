#!/usr/bin/env node
// The `resilience` CLI. Configs and scenarios are TypeScript: register tsx's loader first, then
// run the CLI from its source (no build step to forget).
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
