import { describe, expect, it } from 'vitest';
import { FILE_NAME_PATTERN, signFileUri, verifyFileUri } from '../../../media/server/signed-uri.ts';

const SECRET = 'a-test-secret-of-some-length';

function parts(uri: string): { fileName: string; expires: string; sig: string } {
  const u = new URL(uri);
  return { fileName: decodeURIComponent(u.pathname.split('/').pop()!), expires: u.searchParams.get('expires')!, sig: u.searchParams.get('sig')! };
}

describe('signed file URIs', () => {
  it('builds <base>/files/<name>?expires&sig and verifies it', () => {
    const uri = signFileUri('http://10.0.0.1:9100/', 'rec-1.0a1b2c3d4e5f.wav', SECRET, 60, 1_000_000);
    expect(uri).toMatch(/^http:\/\/10\.0\.0\.1:9100\/files\/rec-1\.0a1b2c3d4e5f\.wav\?expires=1000060&sig=[A-Za-z0-9_-]{43}$/);
    const p = parts(uri);
    expect(verifyFileUri(p.fileName, p.expires, p.sig, SECRET, 1_000_030)).toEqual({ ok: true });
  });

  it('calls a URI without expires or sig unsigned', () => {
    expect(verifyFileUri('a.wav', undefined, undefined, SECRET)).toEqual({ ok: false, reason: 'unsigned' });
    expect(verifyFileUri('a.wav', '123', 'short', SECRET)).toEqual({ ok: false, reason: 'unsigned' });
  });

  it('detects a changed name, expiry or secret', () => {
    const p = parts(signFileUri('http://h', 'a.wav', SECRET, 60, 1000));
    expect(verifyFileUri('b.wav', p.expires, p.sig, SECRET, 1000).ok).toBe(false);
    expect(verifyFileUri('a.wav', String(Number(p.expires) + 3600), p.sig, SECRET, 1000)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verifyFileUri('a.wav', p.expires, p.sig, 'another-secret-entirely', 1000)).toEqual({ ok: false, reason: 'bad-signature' });
    const flipped = (p.sig[0] === 'A' ? 'B' : 'A') + p.sig.slice(1);
    expect(verifyFileUri('a.wav', p.expires, flipped, SECRET, 1000)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('calls a genuine URI past its expiry expired', () => {
    const p = parts(signFileUri('http://h', 'a.wav', SECRET, 60, 1000));
    expect(verifyFileUri('a.wav', p.expires, p.sig, SECRET, 1061)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses names that could leave the recordings folder or are not recordings', () => {
    for (const bad of ['../x.wav', '..%2Fx.wav', 'a/b.wav', '.hidden.wav', 'x.wav.part', 'x.txt', '', 'a\\b.wav', 'a..b..c.wav']) {
      expect(FILE_NAME_PATTERN.test(bad), bad).toBe(false);
      expect(verifyFileUri(bad, '1', 'x'.repeat(43), SECRET)).toEqual({ ok: false, reason: 'bad-name' });
    }
    expect(() => signFileUri('http://h', '../etc/passwd', SECRET, 60)).toThrow(RangeError);
  });
});
