/**
 * The web console: its pages and assets, sign-in and sign-out, the live event stream, and the
 * secure pause. The console itself is a static page; everything it shows comes from the API,
 * called with the session cookie, so it can never see more than its user's role allows.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CapstanError } from '../errors.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { Logger } from '../logger.ts';
import { mayAccessAgentOf, requireRole, type Principal } from '../http/api-auth.ts';
import { schemaOf } from '../http/zod-schema.ts';
import type { TelephonyServices } from '../telephony/telephony-services.ts';
import type { ConsoleUsers } from './console-users.ts';
import { SESSION_COOKIE, sessionIdOf, type Sessions } from './sessions.ts';

const ASSETS: Record<string, { file: string; type: string }> = {
  '/console': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/console/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

const SignIn = z.object({ name: z.string().min(1).max(128), password: z.string().min(1).max(1024) });
const RecordingParams = z.object({ id: z.string().min(1).max(64) });

export interface ConsoleDeps {
  users: ConsoleUsers;
  sessions: Sessions;
  events: EventBus;
  telephony: () => TelephonyServices;
  logger: Logger;
  securePauseMaxSeconds: number;
  sessionHours: number;
}

export function consoleRoutes(app: FastifyInstance, deps: ConsoleDeps): void {
  // Read once: the console is a few small files.
  const assets = Object.fromEntries(Object.entries(ASSETS).map(([path, a]) => [path, { ...a, body: readFileSync(new URL(`./assets/${a.file}`, import.meta.url)) }]));
  for (const [path, asset] of Object.entries(assets)) {
    app.get(path, { schema: { hide: true } }, async (_request, reply) =>
      reply
        .header('content-type', asset.type)
        .header('cache-control', 'no-store')
        // Only our own script and styles; media from the host itself.
        .header('content-security-policy', "default-src 'self'; media-src 'self' blob:; img-src 'self' data:; frame-ancestors 'none'")
        .header('x-content-type-options', 'nosniff')
        .send(asset.body),
    );
  }

  app.post('/console/sign-in', { schema: { hide: true, body: schemaOf(SignIn) } }, async (request, reply) => {
    const { name, password } = request.body as z.infer<typeof SignIn>;
    const principal = await deps.users.verify(name, password);
    if (!principal) {
      deps.logger.warn({ name, ip: request.ip }, 'console sign-in refused');
      throw new CapstanError('CAPSTAN_ERR_UNAUTHORIZED', 'Wrong name or password');
    }
    const id = deps.sessions.create(principal);
    deps.logger.info({ name, role: principal.role }, 'console sign-in');
    return reply.header('set-cookie', cookie(request, id, deps.sessionHours * 3600)).send(principal);
  });

  app.post('/console/sign-out', { schema: { hide: true } }, async (request, reply) => {
    deps.sessions.delete(sessionIdOf(request.headers.cookie));
    return reply.header('set-cookie', cookie(request, '', 0)).status(204).send();
  });

  /** Who is signed in (401 when nobody: the page shows the sign-in form). */
  app.get('/api/v1/me', { schema: { tags: ['console'], summary: 'The signed-in user (or token holder)' } }, async (request) => request.principal);

  app.get('/console/events', { schema: { hide: true } }, async (request, reply) => {
    const principal = deps.sessions.get(sessionIdOf(request.headers.cookie));
    if (!principal) throw new CapstanError('CAPSTAN_ERR_UNAUTHORIZED', 'Sign in first');
    streamEvents(request, reply, principal, deps);
  });

  // Secure pause: paused (the paused span marked in the recording) for at most the administrator's
  // maximum, after which the host itself resumes it, whatever the browser does.
  const timers = new Map<string, NodeJS.Timeout>();
  const clear = (id: string) => {
    clearTimeout(timers.get(id));
    timers.delete(id);
  };
  deps.events.on('recording.resumed', ({ recording }) => clear(recording.recordingId));
  deps.events.on('recording.completed', ({ recording }) => clear(recording.segment?.of ?? recording.recordingId));
  app.post(
    '/api/v1/recordings/:id/secure-pause',
    { schema: { tags: ['calls'], summary: 'Secure pause: pause, resumed by the host after console.securePauseMaxSeconds', params: schemaOf(RecordingParams) } },
    async (request) => {
      const { id } = request.params as z.infer<typeof RecordingParams>;
      const telephony = deps.telephony();
      const agent = telephony.callOfRecording(id).agent;
      if (request.principal.role === 'supervisor' || !mayAccessAgentOf(request.principal, agent)) {
        throw new CapstanError('CAPSTAN_ERR_FORBIDDEN', `Recording ${id} is not on one of ${request.principal.name}'s calls`);
      }
      await telephony.pauseRecording(id, 'silence');
      clear(id);
      const maxMs = deps.securePauseMaxSeconds * 1000;
      timers.set(
        id,
        setTimeout(() => {
          timers.delete(id);
          void telephony.resumeRecording(id).catch((e: unknown) => deps.logger.warn({ err: e, recordingId: id }, 'resuming after a secure pause failed'));
          deps.logger.info({ recordingId: id }, 'secure pause reached its maximum; recording resumed');
        }, maxMs),
      );
      return { recordingId: id, resumesAt: new Date(Date.now() + maxMs).toISOString(), maxSeconds: deps.securePauseMaxSeconds };
    },
  );

  app.get('/api/v1/console/settings', { schema: { tags: ['console'], summary: 'Console settings the page needs' } }, async (request) => {
    requireRole(request, 'admin', 'supervisor', 'agent');
    return { securePauseMaxSeconds: deps.securePauseMaxSeconds };
  });
}

/** HttpOnly, SameSite=Strict, and Secure whenever the browser would keep it (HTTPS, or loopback). */
function cookie(request: FastifyRequest, value: string, maxAgeSeconds: number): string {
  const host = (request.headers.host ?? '').replace(/:\d+$/, '');
  const secure = request.protocol === 'https' || ['localhost', '127.0.0.1', '[::1]'].includes(host);
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(maxAgeSeconds)}${secure ? '; Secure' : ''}`;
}

/**
 * Server-sent events for the page: a small notice per call, recording, media-server or handler
 * change (the page then reloads that list through the API). An agent hears only its own calls.
 */
function streamEvents(request: FastifyRequest, reply: FastifyReply, principal: Principal, deps: ConsoleDeps): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  res.write(': capstan console\n\n');
  const send = (type: string, data: Record<string, unknown>): void => void res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
  const mine = (agent: string | null) => mayAccessAgentOf(principal, agent);
  const offs = [
    deps.events.on('call.connected', ({ call }) => {
      if (mine(call.agent)) send('call', { callId: call.callId, change: 'connected' });
    }),
    deps.events.on('call.disconnected', ({ call }) => {
      if (mine(call.agent)) send('call', { callId: call.callId, change: 'disconnected' });
    }),
    ...(['recording.started', 'recording.paused', 'recording.resumed', 'recording.completed', 'recording.stored', 'recording.delivered'] as const).map((name) =>
      deps.events.on(name, ({ recording }) => {
        const call = (() => {
          try {
            return deps.telephony().callOfRecording(recording.segment?.of ?? recording.recordingId);
          } catch {
            return null;
          }
        })();
        if (principal.role !== 'agent' || (call !== null && mine(call.agent))) {
          send('recording', { recordingId: recording.recordingId, callId: recording.callId, change: name.slice('recording.'.length) });
        }
      }),
    ),
    ...(principal.role === 'agent'
      ? []
      : [
          deps.events.on('media-server.up', ({ id }) => send('media-server', { id, change: 'up' })),
          deps.events.on('media-server.down', ({ id }) => send('media-server', { id, change: 'down' })),
          deps.events.on('handler.loaded', () => send('handler', { change: 'loaded' })),
          deps.events.on('handler.failed', () => send('handler', { change: 'failed' })),
        ]),
  ];
  const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
  request.raw.on('close', () => {
    clearInterval(ping);
    for (const off of offs) off();
  });
}
