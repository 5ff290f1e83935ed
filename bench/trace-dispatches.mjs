// Every GPU dispatch of a short fixed-seed `gpuseg bench train`, hashed: kernel, shader, defines,
// workgroups, entry point and uniform bytes. Two trees that print the same count and hash record the same
// steps (issue 27: a refactor must not change a dispatch). Prints the bench's JSON line, then
// {"dispatches": N, "hash": "..."}.
//   cd TREE && node --import tsx /path/to/bench/trace-dispatches.mjs   (TREE: any checkout, default cwd)
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const tree = process.argv[2] ?? process.cwd();
const { Gpu } = await import(pathToFileURL(`${tree}/src/gpu/gpu.ts`).href);
const hash = createHash('sha256');
let count = 0;
const dispatch = Gpu.prototype.dispatch;
Gpu.prototype.dispatch = function (d) {
  count++;
  hash.update(JSON.stringify([d.kernel, d.shader, d.defines ?? null, d.workgroups, d.entry ?? null, Buffer.from(d.uniforms ?? []).toString('hex')]));
  return dispatch.call(this, d);
};
process.on('exit', () => console.log(JSON.stringify({ dispatches: count, hash: hash.digest('hex').slice(0, 16) })));
process.argv = [process.argv[0], 'gpuseg', 'bench', 'train', '--batch', '2', '--size', '64', '--steps', '6', '--method', 'full', '--json'];
await import(pathToFileURL(`${tree}/src/cli/main.ts`).href);
