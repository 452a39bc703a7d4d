import assert from 'node:assert/strict';

/** A minimal RFC 4180 reader, to read back what the writer wrote. */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let rec: string[] = [];
  let field = '';
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (text[i] === '"' && text[i + 1] === '"') (field += '"'), (i += 2);
        else if (text[i] === '"') break;
        else field += text[i++];
      }
      i++;
    } else if (text[i] === ',') rec.push(field), (field = ''), i++;
    else if (text.startsWith('\r\n', i)) rec.push(field), records.push(rec), (rec = []), (field = ''), (i += 2);
    else field += text[i++];
  }
  assert.equal(rec.length + field.length, 0, 'the last record ends with CRLF');
  return records;
}
