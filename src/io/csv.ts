/**
 * CSV text for analysts' tools (RFC 4180): CRLF between records, a field is quoted when it holds a
 * comma, a double quote, CR or LF (quotes inside doubled), numbers are written plain (JavaScript's
 * shortest round-trip form), and null, undefined and non-finite numbers are empty fields.
 */
export type CsvCell = string | number | boolean | null | undefined;

export function csvField(v: CsvCell): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** The header record, then one record per row (each as long as the header), each ended by CRLF. */
export function toCsv(header: readonly string[], rows: readonly (readonly CsvCell[])[]): string {
  for (const [i, r] of rows.entries()) {
    if (r.length !== header.length) throw new Error(`csv: row ${i} has ${r.length} fields, the header ${header.length}`);
  }
  return [header, ...rows].map((r) => r.map(csvField).join(',') + '\r\n').join('');
}
