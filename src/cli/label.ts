// `gpuseg label CATEGORY_DIR`: the mask-painting page, served on 127.0.0.1 until SIGINT or SIGTERM.

export interface LabelCliOptions {
  port: number;
  json?: boolean;
}

export async function runLabel(dir: string, o: LabelCliOptions): Promise<void> {
  // Loaded on use: the other commands need neither the server nor the page.
  const { serveLabel } = await import('../label/server.js');
  await serveLabel(dir, o);
}
