import { describe, expect, it } from 'vitest';
import { parseByteRange } from '../../../core/http/byte-range.ts';

describe('parseByteRange', () => {
  it('returns null without a Range header', () => expect(parseByteRange(undefined, 100)).toBeNull());
  it('reads a closed range', () => expect(parseByteRange('bytes=10-19', 100)).toEqual({ start: 10, end: 19 }));
  it('reads an open range to the end', () => expect(parseByteRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 }));
  it('reads a suffix range', () => expect(parseByteRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 }));
  it('clamps an end past the file', () => expect(parseByteRange('bytes=50-500', 100)).toEqual({ start: 50, end: 99 }));
  it('refuses a start past the end', () => expect(parseByteRange('bytes=100-', 100)).toBe('unsatisfiable'));
  it('ignores garbage, several ranges and other units, so the whole file is sent', () => {
    expect(parseByteRange('bytes=a-b', 100)).toBeNull();
    expect(parseByteRange('bytes=0-1,5-6', 100)).toBeNull();
    expect(parseByteRange('items=0-1', 100)).toBeNull();
    expect(parseByteRange('bytes=50-10', 100)).toBeNull();
  });
  it('refuses an empty suffix range', () => expect(parseByteRange('bytes=-0', 100)).toBe('unsatisfiable'));
});
