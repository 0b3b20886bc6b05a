/**
 * One `Range: bytes=...` header against a file size (RFC 9110 §14). A single range only: several
 * ranges, other units or a malformed header are ignored (the whole file is sent, which RFC 9110
 * allows). Returns null for "send it all", 'unsatisfiable' for a 416.
 */
export function parseByteRange(header: string | undefined, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    // suffix range: the last N bytes
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return null; // invalid: ignored per RFC 9110 §14.2
  }
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}
