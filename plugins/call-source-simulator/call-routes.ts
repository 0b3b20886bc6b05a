import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { Endpoint, LegCodec, LegRole, RecordingMime } from '../../media/control-api.ts';
import type { TelephonyServices } from '../../core/telephony/telephony-services.ts';
import type { EventBus } from '../../core/events/event-bus.ts';
import { schemaOf } from '../../core/http/zod-schema.ts';
import { mayAccessAgentOf, requireRole } from '../../core/http/api-auth.ts';
import { CapstanError } from '../../core/errors.ts';
import type { FastifyRequest } from 'fastify';

export const CreateCallBody = z.object({
  from: z.string().min(1).max(128).default('anonymous'),
  to: z.string().min(1).max(128).default('1000'),
  direction: z.enum(['inbound', 'outbound', 'internal']).default('inbound'),
  workgroup: z.string().min(1).max(128).nullable().default(null),
  agent: z.string().min(1).max(128).nullable().default(null),
  location: z.string().min(1).optional(),
  audioPathLocations: z.array(z.string().min(1)).max(16).optional(),
  attributes: z.record(z.string(), z.string()).default({}),
  legs: z
    .array(z.object({ role: LegRole, codec: LegCodec.default({ payloadType: 0, name: 'PCMU', clockRate: 8000 }), rtp: Endpoint.optional() }))
    .min(1)
    .max(2)
    .refine((legs) => new Set(legs.map((l) => l.role)).size === legs.length, 'each role at most once'),
});

const CallParams = z.object({ callId: z.string().min(1).max(64) });
const RecordingParams = z.object({ id: z.string().min(1).max(64) });
const StartBody = z.object({
  requester: z.enum(['client', 'handler', 'workgroup', 'recorder', 'recorder-rcs']).default('client'),
  mime: RecordingMime.optional(),
  channels: z.union([z.literal(1), z.literal(2)]).default(2),
  deliverTo: z.string().email().nullable().default(null),
  tags: z.array(z.string()).default([]),
});
const PauseBody = z.object({ mode: z.enum(['skip', 'silence']).default('silence') });

/** The simulator's call control over HTTP: what `capstan call` uses, and any script can. */
/** An agent may act on its own calls only; supervisors read; admins do anything. */
function ownCall(request: FastifyRequest, agent: string | null, write: boolean): void {
  const p = request.principal;
  if (write && p.role === 'supervisor') requireRole(request, 'admin', 'agent');
  if (!mayAccessAgentOf(p, agent)) throw new CapstanError('CAPSTAN_ERR_FORBIDDEN', `That call is not ${p.name}'s`);
}

export function callRoutes(app: FastifyInstance, telephony: () => TelephonyServices, events: EventBus): void {
  /**
   * The call source's side of re-pointing (what a re-INVITE is for SIP): a server-sent event
   * stream per call. The first `media` event says where each party sends now; every later one
   * says where to send from then on. The stream ends when the call does.
   */
  app.get('/api/v1/calls/:callId/events', { schema: { tags: ['calls'], summary: 'Server-sent events: where each leg must send its RTP (media), until the call ends', params: schemaOf(CallParams) } }, async (request, reply) => {
    const { callId } = request.params as z.infer<typeof CallParams>;
    const call = telephony().get(callId); // 404 before the stream starts
    ownCall(request, call.agent, false);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    send('media', { mediaServerId: call.mediaServerId, legs: call.legs, reason: 'current' });
    const offs = [
      events.on('call.media-changed', (e) => {
        if (e.call.callId === callId) send('media', { mediaServerId: e.mediaServerId, legs: e.legs, reason: e.reason });
      }),
      events.on('call.disconnected', (e) => {
        if (e.call.callId !== callId) return;
        send('end', { reason: e.reason });
        res.end();
      }),
    ];
    res.on('close', () => offs.forEach((off) => off()));
  });

  app.post('/api/v1/calls', { schema: { tags: ['calls'], summary: 'Place a simulated call; answers where each leg sends RTP (admin)', body: schemaOf(CreateCallBody) } }, async (request, reply) => {
    requireRole(request, 'admin');
    const body = request.body as z.infer<typeof CreateCallBody>;
    const connected = await telephony().createCall({ source: 'simulator', ...body });
    const call = telephony().get(connected.call.callId);
    return reply.status(201).send({ ...connected, recordings: call.recordings });
  });
  app.get('/api/v1/calls', { schema: { tags: ['calls'], summary: 'Calls in progress (an agent’s own)' } }, async (request) => ({
    items: telephony().list().filter((c) => mayAccessAgentOf(request.principal, c.agent)),
  }));
  app.get('/api/v1/calls/:callId', { schema: { tags: ['calls'], summary: 'One call in progress', params: schemaOf(CallParams) } }, async (request) => {
    const call = telephony().get((request.params as z.infer<typeof CallParams>).callId);
    ownCall(request, call.agent, false);
    return call;
  });
  app.delete('/api/v1/calls/:callId', { schema: { tags: ['calls'], summary: 'Hang up', params: schemaOf(CallParams) } }, async (request, reply) => {
    const { callId } = request.params as z.infer<typeof CallParams>;
    ownCall(request, telephony().get(callId).agent, true);
    await telephony().hangup(callId);
    return reply.status(204).send();
  });
  app.post(
    '/api/v1/calls/:callId/recordings',
    { schema: { tags: ['calls'], summary: 'Start a recording of a call (ad hoc or custom requester)', params: schemaOf(CallParams), body: schemaOf(StartBody) } },
    async (request, reply) => {
      const { callId } = request.params as z.infer<typeof CallParams>;
      const body = request.body as z.infer<typeof StartBody>;
      ownCall(request, telephony().get(callId).agent, true);
      // What an agent starts is its own ad hoc recording, whatever the body says.
      if (request.principal.role === 'agent') body.requester = 'client';
      return reply.status(201).send(await telephony().startRecording(callId, body));
    },
  );
  app.post('/api/v1/recordings/:id/pause', { schema: { tags: ['calls'], summary: 'Pause a recording', params: schemaOf(RecordingParams), body: schemaOf(PauseBody) } }, async (request, reply) => {
    const { id } = request.params as z.infer<typeof RecordingParams>;
    ownCall(request, telephony().callOfRecording(id).agent, true);
    await telephony().pauseRecording(id, (request.body as z.infer<typeof PauseBody>).mode);
    return reply.status(204).send();
  });
  app.post('/api/v1/recordings/:id/resume', { schema: { tags: ['calls'], summary: 'Resume a paused recording', params: schemaOf(RecordingParams) } }, async (request, reply) => {
    const { id } = request.params as z.infer<typeof RecordingParams>;
    ownCall(request, telephony().callOfRecording(id).agent, true);
    await telephony().resumeRecording(id);
    return reply.status(204).send();
  });
  app.post('/api/v1/recordings/:id/stop', { schema: { tags: ['calls'], summary: 'Stop a recording', params: schemaOf(RecordingParams) } }, async (request) => {
    const { id } = request.params as z.infer<typeof RecordingParams>;
    ownCall(request, telephony().callOfRecording(id).agent, true);
    return telephony().stopRecording(id);
  });
}
