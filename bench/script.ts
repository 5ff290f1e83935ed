// The entry of a benchmark script run directly (`node --import tsx bench/X.ts`): runs main and exits
// (Dawn's instance would keep the event loop alive after the result is written), with the stack of a
// failure on stderr and status 1. Imported, the module runs nothing.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function runIfMain(moduleUrl: string, main: () => Promise<unknown>): void {
  if (!process.argv[1] || resolve(process.argv[1]) !== fileURLToPath(moduleUrl)) return;
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
