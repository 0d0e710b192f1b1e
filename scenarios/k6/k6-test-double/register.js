// Test double (see README.md): makes `k6`, `k6/http` and `k6/execution` resolve to this folder.
import { register } from 'node:module';

register('./hooks.js', import.meta.url);
