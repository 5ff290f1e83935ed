// The tests run in Node: src/gpu/ gets Node's platform, as the CLI's entry gives it (src/gpu/host.ts).
import { setHost } from '../src/gpu/host.js';
import { nodeHost } from '../src/gpu/node-host.js';

setHost(nodeHost);
