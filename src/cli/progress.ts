// Progress for long work: a bar on a terminal (cli-progress), plain lines otherwise (logs, CI, pipes),
// nothing with --json (stdout carries the result; progress goes to stderr).
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, fields?: Record<string, string>): void;
  stop(): void;
}

export function progress(label: string, total: number, opts: { quiet?: boolean; fields?: string[] } = {}): Progress {
  if (opts.quiet) return { update: () => {}, stop: () => {} };
  const fields = opts.fields ?? [];
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} ${fields.map((f) => `{${f}}`).join(' ')} eta {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, Object.fromEntries(fields.map((f) => [f, ''])));
    return { update: (done, f) => bar.update(done, f), stop: () => bar.stop() };
  }
  // Plain lines: about twenty per run, plus the last.
  const every = Math.max(1, Math.ceil(total / 20));
  let last = 0;
  return {
    update(done, f = {}) {
      if (done - last < every && done !== total) return;
      last = done;
      process.stderr.write(`${label} ${done}/${total} ${Object.values(f).join(' ')}\n`);
    },
    stop() {},
  };
}
