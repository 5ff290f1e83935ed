// What the loopback servers (`gpuseg serve`, `gpuseg label`) share: the port check, listening on
// 127.0.0.1 only, closing with the browser's kept-alive connections, and running until the user stops
// them (Ctrl-C, or SIGTERM from a service manager).
import { type RequestListener, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InputError } from './errors.js';

/** Loopback only: what these servers hold is for this machine's browser, never the network. */
export const LOOPBACK = '127.0.0.1';

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

/**
 * Listens on 127.0.0.1:port (0: any free port; checkPort first); the handler gets the port bound, for
 * its Host check. A port taken or not allowed is the user's to fix (one line naming --port).
 */
export async function listenLocal(port: number, handler: (bound: number) => RequestListener): Promise<LocalServer> {
  let respond: RequestListener = () => {};
  const server = createServer((req, res) => respond(req, res));
  await new Promise<void>((done, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' || err.code === 'EACCES' ? new InputError(`--port ${port}: cannot listen on ${LOOPBACK} (${err.code})`) : err);
    });
    server.listen(port, LOOPBACK, () => done());
  });
  const bound = (server.address() as AddressInfo).port;
  respond = handler(bound);
  return {
    url: `http://${LOOPBACK}:${bound}/`,
    close: () =>
      new Promise((done) => {
        server.close(() => done());
        // A browser keeps its connections open; they must not hold the process after a signal.
        server.closeAllConnections();
      }),
  };
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
