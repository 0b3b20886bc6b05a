import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CapstanError, ErrorCodes, toCapstanError } from '../../core/errors.ts';

describe('coded errors', () => {
  it('are all documented in docs/errors.md with a way to solve them', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const missing = Object.keys(ErrorCodes).filter((code) => !doc.includes(`## ${code}`));
    expect(missing).toEqual([]);
  });

  it('carry their HTTP status and serialize without a stack', () => {
    const e = new CapstanError('CAPSTAN_ERR_CALL_NOT_FOUND', 'No call with id x', { details: { callId: 'x' } });
    expect(e.statusCode).toBe(404);
    expect(JSON.parse(JSON.stringify(e))).toEqual({ code: 'CAPSTAN_ERR_CALL_NOT_FOUND', message: 'No call with id x', details: { callId: 'x' } });
  });

  it('wrap foreign errors under a fallback code and keep coded ones', () => {
    const coded = new CapstanError('CAPSTAN_ERR_STORAGE');
    expect(toCapstanError(coded)).toBe(coded);
    expect(toCapstanError(new Error('x'), 'CAPSTAN_ERR_FETCH_FAILED').code).toBe('CAPSTAN_ERR_FETCH_FAILED');
  });
});
