// Comma-separated values as RFC 4180 writes them, for files a spreadsheet or pandas opens: a field with a
// comma, a double quote or a line break is quoted, its quotes doubled; lines end in CRLF. Image paths
// may hold any of these.

const NEEDS_QUOTES = /[",\r\n]/;

/** One field: numbers as JavaScript prints them, text quoted when it must be. */
export function csvField(value: string | number): string {
  const text = String(value);
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Whole rows (the header first), every line ended by CRLF. */
export function csvText(rows: readonly (readonly (string | number)[])[]): string {
  return rows.map((row) => `${row.map(csvField).join(',')}\r\n`).join('');
}
