// Where the experiment queue lives: a redis:// or rediss:// URL (host, port, database number), turned
// into ioredis options that fail fast on the first connection (a wrong URL is one line, not a hang) and
// reconnect for as long as it takes afterwards (a Redis restart must not end a worker's hour-long cell).
import type { RedisOptions } from 'bullmq';
import { InputError, errorMessage } from '../util/errors.js';

export interface RedisTarget {
  /** The URL for messages, with any password replaced by '***'. */
  shown: string;
  options: RedisOptions;
}

const DEFAULT_PORT = 6379;
/** How long one connection attempt may take before it counts as failed. */
const CONNECT_TIMEOUT_MS = 5_000;
/** Connection attempts before the first successful connection: then the URL is wrong or Redis is down. */
const FIRST_CONNECT_ATTEMPTS = 3;
const FIRST_RETRY_MS = 300;
/** Once connected, reconnect at most this far apart (ioredis retries for as long as the process lives). */
const RECONNECT_MAX_MS = 2_000;

function integerIn(text: string, min: number, max: number): number | null {
  if (!/^\d+$/.test(text)) return null;
  const n = Number(text);
  return n >= min && n <= max ? n : null;
}

/** Parses `--queue URL`; anything but redis:// or rediss:// with a host is an InputError naming it. */
export function parseRedisUrl(text: string, flag = '--queue'): RedisTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InputError(`${flag} '${text}' is not a URL (expected redis://HOST:PORT/DB)`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new InputError(`${flag} '${text}': only redis:// and rediss:// URLs are supported, not ${url.protocol}//`);
  }
  // IPv6 literals come bracketed ('[::1]'); ioredis wants them bare.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new InputError(`${flag} '${text}' names no host (expected redis://HOST:PORT/DB)`);
  const port = url.port === '' ? DEFAULT_PORT : integerIn(url.port, 1, 65_535);
  if (port === null) throw new InputError(`${flag} '${text}': bad port '${url.port}'`);
  const path = url.pathname.replace(/^\//, '');
  const db = path === '' ? 0 : integerIn(path, 0, 2 ** 31 - 1);
  if (db === null) throw new InputError(`${flag} '${text}': the path must be a database number (redis://HOST:PORT/0), got '/${path}'`);
  if (url.search || url.hash) throw new InputError(`${flag} '${text}': query strings and fragments are not supported`);
  const shownUrl = new URL(url.href);
  if (shownUrl.password) shownUrl.password = '***';
  return {
    shown: shownUrl.href,
    options: {
      host,
      port,
      db,
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(url.protocol === 'rediss:' ? { tls: { servername: host } } : {}),
      connectTimeout: CONNECT_TIMEOUT_MS,
    },
  };
}

/**
 * The target's options with a retry strategy that gives up after a few attempts until `connected()` is
 * called, and keeps reconnecting after that. ioredis calls the strategy once per failed attempt.
 */
export function withRetries(target: RedisTarget): { options: RedisOptions; connected: () => void } {
  let everConnected = false;
  const retryStrategy = (attempt: number): number | null => {
    if (everConnected) return Math.min(attempt * 200, RECONNECT_MAX_MS);
    return attempt < FIRST_CONNECT_ATTEMPTS ? FIRST_RETRY_MS : null;
  };
  return { options: { ...target.options, retryStrategy }, connected: () => (everConnected = true) };
}

/** Node's and Redis's signs that the URL itself is wrong (not that the server is down): exit 2. */
const WRONG_URL = /ENOTFOUND|EAI_AGAIN|NOAUTH|WRONGPASS|invalid password|DB index is out of range|invalid DB index/i;

/** Why the first connection failed, on one line naming the URL; an InputError when the URL is at fault. */
export function connectionError(target: RedisTarget, cause: unknown): Error {
  const why = errorMessage(cause);
  const message = `cannot reach Redis at ${target.shown} (${why})`;
  return WRONG_URL.test(why) ? new InputError(message) : new Error(message);
}

/** A key read once to see a command answered (BullMQ's client wrapper has no PING); it need not exist. */
const ROUND_TRIP_KEY = 'gpuseg:connection-check';

/** What firstConnection needs of a BullMQ Queue or Worker. */
interface Connecting {
  on(event: 'error', listener: (err: Error) => void): unknown;
  waitUntilReady(): Promise<unknown>;
  client: Promise<{ get(key: string): Promise<unknown> }>;
}

/**
 * Waits for the first connection of a BullMQ Queue or Worker and one round trip, remembering the last
 * error the client reported: ioredis rejects with "Connection is closed" once it gives up, and the
 * refusal or timeout before it is what names the problem; and a database number the server does not
 * have is only an error event (ioredis then carries on in database 0), which must not pass.
 */
export async function firstConnection(target: RedisTarget, connecting: Connecting): Promise<void> {
  let last: unknown = null;
  connecting.on('error', (err) => (last = err));
  try {
    await connecting.waitUntilReady();
    await (await connecting.client).get(ROUND_TRIP_KEY);
  } catch (err) {
    throw connectionError(target, last ?? err);
  }
  if (last !== null) throw connectionError(target, last);
}
