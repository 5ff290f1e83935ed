// The tuning table: which variant (register tile, split) of a kernel ran fastest on this adapter for a
// given shape, as measured by src/kernels/autotune.ts, kept in a JSON file per adapter so that a
// measurement is taken once per machine. Kernels look their shape up here and fall back to their own
// heuristic when it has no entry (or an entry they cannot use).
//
// Keys are derived, never written by hand: the kernel's name, a hash of its shader text (a changed
// shader makes the old entries unreachable) and the shape's fields in sorted order.
//
// Files and hashing go through the platform (src/gpu/platform.ts): kernels look entries up in a page too,
// where the table stays empty.
import { errorMessage } from '../util/errors.js';
import type { AdapterSummary } from './adapter-info.js';
import { host } from './host.js';

/**
 * Bumped when the file's layout changes; a file of another format is ignored. 2: the conv kernels'
 * variants carry their kind, with the same field names in every kernel (src/kernels/conv/variant.ts).
 */
export const TUNING_FORMAT = 2;

export interface TuningEntry {
  /** The variant the kernel should run (its own type; the kernel validates it on lookup). */
  choice: unknown;
  /** Measured milliseconds of the choice and of the kernel's heuristic default. */
  ms: number;
  defaultMs: number;
}

interface TuningFile {
  format: number;
  adapter: string;
  entries: Record<string, TuningEntry>;
}

/** What identifies an adapter's measurements: name, driver, and the features the variants depend on. */
export function adapterIdentity(s: AdapterSummary): string {
  const subgroups = s.features.includes('subgroups') ? 'subgroups' : 'no-subgroups';
  return [s.description, s.vendor, s.architecture, s.device, subgroups].join(' | ');
}

/** A shape's part of a key: its fields sorted by name, so field order never matters. */
export function shapeKey(shape: object): string {
  const entries = Object.entries(shape).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.map(([k, v]) => `${k}=${String(v)}`).join(',');
}

export function shortHash(text: string): string {
  return host.shortHash(text);
}

/** The settings cacheDirectory reads, from the environment (through the platform: a page has none). */
function cacheSettings(): Record<string, string | undefined> {
  return { GPUSEG_CACHE_DIR: host.setting('GPUSEG_CACHE_DIR'), XDG_CACHE_HOME: host.setting('XDG_CACHE_HOME') };
}

/** GPUSEG_CACHE_DIR, else $XDG_CACHE_HOME/gpuseg, else ~/.cache/gpuseg. */
export function cacheDirectory(env: Readonly<Record<string, string | undefined>> = cacheSettings()): string {
  if (env.GPUSEG_CACHE_DIR) return env.GPUSEG_CACHE_DIR;
  const { join, home } = host.files;
  return join(env.XDG_CACHE_HOME || join(home(), '.cache'), 'gpuseg');
}

/** The tuning file of an adapter: readable name plus a hash of its identity. */
export function tuningPath(identity: string, dir = cacheDirectory()): string {
  const readable = identity.split(' | ')[0]!.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40);
  return host.files.join(dir, `tuning-${readable || 'adapter'}-${shortHash(identity)}.json`);
}

export class TuningTable {
  private readonly entries = new Map<string, TuningEntry>();

  constructor(readonly identity: string) {}

  static key(kernel: string, variantHash: string, shape: object): string {
    return `${kernel}#${variantHash}#${shapeKey(shape)}`;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): TuningEntry | undefined {
    return this.entries.get(key);
  }

  set(key: string, entry: TuningEntry): void {
    this.entries.set(key, entry);
  }

  clear(): void {
    this.entries.clear();
  }

  /**
   * Drops the entries of `kernel` measured on other shader text than `variantHash` (they can never
   * match again) and returns how many.
   */
  pruneStale(kernel: string, variantHash: string): number {
    let dropped = 0;
    for (const key of [...this.entries.keys()]) {
      const [k, hash] = key.split('#');
      if (k === kernel && hash !== variantHash) {
        this.entries.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  toJSON(): TuningFile {
    return { format: TUNING_FORMAT, adapter: this.identity, entries: Object.fromEntries(this.entries) };
  }

  /**
   * Merges the entries of `path` when it belongs to this adapter. A missing file is no entries; an
   * unreadable, foreign or malformed one is reported in the result (and ignored), never thrown: a bad
   * cache must not stop a run, which is then only slower.
   */
  async load(path: string): Promise<{ loaded: number; problem?: string }> {
    let text: string | null;
    try {
      text = await host.files.readText(path);
    } catch (err) {
      return { loaded: 0, problem: `${path}: cannot read (${errorMessage(err)})` };
    }
    if (text === null) return { loaded: 0 };
    let file: Partial<TuningFile>;
    try {
      file = JSON.parse(text) as Partial<TuningFile>;
    } catch (err) {
      return { loaded: 0, problem: `${path}: not valid JSON (${errorMessage(err)}); it will be rewritten by the next tuning` };
    }
    if (typeof file.format === 'number' && file.format < TUNING_FORMAT) {
      return { loaded: 0, problem: `${path}: written by an older gpuseg (format ${file.format}, this one reads ${TUNING_FORMAT}); ignored: run \`gpuseg tune\` again` };
    }
    if (file.format !== TUNING_FORMAT || file.adapter !== this.identity || typeof file.entries !== 'object' || file.entries === null) {
      return { loaded: 0, problem: `${path}: not a tuning file (format ${TUNING_FORMAT}) of adapter '${this.identity}'; ignored` };
    }
    let loaded = 0;
    for (const [key, e] of Object.entries(file.entries)) {
      if (typeof e === 'object' && e !== null && Number.isFinite(e.ms) && Number.isFinite(e.defaultMs) && 'choice' in e) {
        this.entries.set(key, e);
        loaded++;
      }
    }
    return { loaded };
  }

  /** Writes the table atomically (a crash leaves the old file or the new one). */
  async save(path: string): Promise<void> {
    await host.files.writeText(path, `${JSON.stringify(this.toJSON(), null, 1)}\n`);
  }
}

/** An adapter's tuning: its table, the file it is kept in, and what loading that file gave. */
export interface AdapterTuning {
  table: TuningTable;
  path: string;
  loaded: number;
  /** Why the file was ignored (unreadable, foreign, malformed): the kernels then run their heuristics. */
  problem?: string;
  /** GPUSEG_TUNING=off: the file was not read. */
  off?: boolean;
}

/**
 * Reads the tuning file of the adapter `summary` describes (written by `gpuseg tune`), unless
 * GPUSEG_TUNING=off. Never throws. What the kernels then run is decided by the table passed to the
 * backend, never by a file found behind their back: a backend made without one runs the heuristics.
 */
export async function loadAdapterTuning(summary: AdapterSummary): Promise<AdapterTuning> {
  const table = new TuningTable(adapterIdentity(summary));
  const path = tuningPath(table.identity);
  if (host.setting('GPUSEG_TUNING') === 'off') return { table, path, loaded: 0, off: true };
  return { table, path, ...(await table.load(path)) };
}
