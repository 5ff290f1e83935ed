// What the loopback servers (`gpuseg serve`, `gpuseg label`) share: the port check, and running until
// the user stops them (Ctrl-C, or SIGTERM from a service manager).
import { InputError } from './errors.js';

const MAX_PORT = 65535;

export interface LocalServerOptions {
  /** 0: any free port. */
  port: number;
  json?: boolean;
}

/** A running server: its URL and how to stop it. */
export interface LocalServer {
  url: string;
  close(): Promise<void>;
}

/** Refuses a --port that is not 0 (any free port) to 65535. */
export function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > MAX_PORT) throw new InputError(`--port must be from 0 to ${MAX_PORT}, got ${port}`);
}

/** Prints the server's URL (as JSON with `json`), waits for SIGINT or SIGTERM, then closes it. */
export async function serveUntilStopped(server: LocalServer, o: { json?: boolean; what: string }): Promise<void> {
  process.stdout.write(o.json ? `${JSON.stringify({ url: server.url })}\n` : `${o.what} at ${server.url}\n`);
  await new Promise<void>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
}
