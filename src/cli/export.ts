// `gpuseg export RUN --onnx FILE` (an ONNX graph for ONNX Runtime, OpenVINO, TensorRT) and
// `gpuseg export RUN --web DIR` (a static page that runs gpuseg's own WGSL kernels in a browser);
// `gpuseg serve DIR` serves such a page on localhost.
import { InputError } from './errors.js';

export interface ExportCliOptions {
  onnx?: string;
  web?: string;
  size?: number;
  dynamicBatch?: boolean;
  opset: number;
  json?: boolean;
}

export async function runExport(run: string, o: ExportCliOptions): Promise<void> {
  if (!o.onnx && !o.web) throw new InputError('export: give --onnx FILE, --web DIR or both');
  const written: Record<string, unknown> = {};
  if (o.onnx) {
    const { exportOnnx } = await import('../export/onnx.js');
    written.onnx = await exportOnnx(run, o.onnx, { size: o.size, dynamicBatch: o.dynamicBatch ?? false, opset: o.opset });
  }
  if (o.web) {
    const { exportWeb } = await import('../export/web.js');
    written.web = await exportWeb(run, o.web, { size: o.size });
  }
  process.stdout.write(o.json ? `${JSON.stringify(written)}\n` : Object.entries(written).map(([k, v]) => `${k}: ${JSON.stringify(v)}\n`).join(''));
}

export interface ServeCliOptions {
  port: number;
  json?: boolean;
}

export async function runServe(dir: string, o: ServeCliOptions): Promise<void> {
  const { serveWeb } = await import('../export/serve.js');
  await serveWeb(dir, o);
}
