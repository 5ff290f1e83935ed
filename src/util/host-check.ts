// The loopback servers (`gpuseg serve`, `gpuseg label`) listen on 127.0.0.1 only, but that alone does
// not stop a page elsewhere from reading them: through DNS rebinding, evil.example can resolve to
// 127.0.0.1 and its script then talks to our port as same-origin. Such a request still names
// evil.example in its Host header, so only our own names, with our exact port, are answered.

/** The names a browser on this machine uses for the server (what `url` prints, and the usual alias). */
const LOCAL_NAMES = ['127.0.0.1', 'localhost'] as const;
/** HTTP's default port: a browser leaves it out of Host and Origin. */
const DEFAULT_HTTP_PORT = 80;

/** The `host[:port]` forms a request to our server on `port` may carry, lower case. */
function localAuthorities(port: number): string[] {
  const out = LOCAL_NAMES.map((name) => `${name}:${port}`);
  if (port === DEFAULT_HTTP_PORT) out.push(...LOCAL_NAMES);
  return out;
}

/** Whether a Host header names this machine's server on `port` (missing or anything else: false). */
export function isLocalHost(host: string | undefined, port: number): boolean {
  return host !== undefined && localAuthorities(port).includes(host.toLowerCase());
}

/**
 * Whether an Origin header allows a state-changing request: absent (a request that no page sent, e.g.
 * curl), or a page of this very server. `null` (a sandboxed frame, a file:// page) and other sites fail,
 * which stops cross-site form posts.
 */
export function isLocalOrigin(origin: string | undefined, port: number): boolean {
  if (origin === undefined) return true;
  return localAuthorities(port).some((authority) => origin.toLowerCase() === `http://${authority}`);
}
