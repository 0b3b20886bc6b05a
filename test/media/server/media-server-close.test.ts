/**
 * Closing a media server closes its HTTP connections: a requester's connection caught in the
 * middle of a request must not hold close() for the keep-alive timeout (72 s).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { runMediaServer } from '../../../media/server/main.ts';

describe('media server: close', () => {
  it('closes at once with a requester\'s connection in the middle of a request, and closes that connection', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'media-server-close-'));
    try {
      const server = await runMediaServer({ location: 'test', id: 'ms-close', port: 0, address: '127.0.0.1', rtpAddress: '127.0.0.1', rtpPorts: [47740, 47749], dataDir: dir, secret: 'media-server-close-secret', logLevel: 'silent' });
      const port = Number(new URL(server.controlUrl).port);
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write('GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n'); // the headers never end
      await new Promise((r) => setTimeout(r, 50));
      const closed = once(socket, 'close');
      // Without forcing, this waited for the connection's keep-alive timeout: past the test's 10 s.
      await server.close();
      await closed;
      expect(socket.destroyed).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 10_000);
});
