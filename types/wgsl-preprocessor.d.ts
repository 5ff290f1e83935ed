declare module 'wgsl-preprocessor/wgsl-preprocessor.js' {
  /** Tagged template: `#if ${cond}` / `#elif` / `#else` / `#endif` blocks, other substitutions inlined. */
  export function wgsl(strings: TemplateStringsArray | readonly string[], ...values: unknown[]): string;
}
