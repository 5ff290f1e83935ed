// Adapter names as users type them: `--adapter swiftshader` must find 'SwiftShader Device (Subzero)'
// (dawn.node matches names by exact, case-sensitive substring), and `gpuseg info` shows the one word
// that selects each adapter on this machine.

/** An adapter Dawn lists, with its backend. */
export interface AdapterListing {
  backend: string;
  name: string;
}

/** The first listed adapter whose name contains `choice`, ignoring case; null if none. */
export function matchAdapter(choice: string, listing: readonly AdapterListing[]): AdapterListing | null {
  const wanted = choice.toLowerCase();
  return listing.find((a) => a.name.toLowerCase().includes(wanted)) ?? null;
}

/** Lower-case words of a name: letters and digits, at least two characters ('(LLVM 15.0.6, 256 bits)' gives 'llvm', '15', ...). */
function words(name: string): string[] {
  return (name.toLowerCase().match(/[a-z0-9][a-z0-9_-]*/g) ?? []).filter((w) => w.length >= 2);
}

/**
 * For each adapter (in listing order), a word of its name that selects it through matchAdapter (no
 * adapter listed before it contains the word): the first word of the name when it does (the vendor or
 * driver: 'nvidia', 'llvmpipe', 'swiftshader'), else the shortest that does; when none does (two
 * adapters of one name), the whole name, quoted if it has spaces, which selects the first of them.
 */
export function selectingWords(listing: readonly AdapterListing[]): string[] {
  return listing.map((a) => {
    const [first, ...rest] = [...new Set(words(a.name))];
    const candidates = first === undefined ? [] : [first, ...rest.sort((x, y) => x.length - y.length)];
    const found = candidates.find((w) => matchAdapter(w, listing) === a);
    return found ?? (/\s/.test(a.name) ? `'${a.name}'` : a.name);
  });
}
