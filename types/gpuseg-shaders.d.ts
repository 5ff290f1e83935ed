// A module that exists only inside the page's bundle: src/export/web.ts serves it at bundle time with the
// text of every shaders/*.wgsl, keyed by file name (nothing generated is written into src/).
declare module 'gpuseg:shaders' {
  const shaders: Readonly<Record<string, string>>;
  export default shaders;
}
