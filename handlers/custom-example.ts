/**
 * A custom handler to start from: records calls from VIP numbers for a team address, keeps the
 * recording's timeline but hides held audio (secure pause while on hold), and counts VIP calls per
 * day in its persistent state.
 *
 * Does nothing unless configured. Configuration, `handlers.config`:
 *
 *   "custom-example": { "vipNumbers": ["+15551230000"], "email": "vip-team@example.com" }
 *
 * Copy it to a new file in handlers/ to write your own; the file name is the handler's name.
 */
const vipNumbers = new Set((capstan.config.vipNumbers ?? []) as string[]);
const email = (capstan.config.email ?? null) as string | null;

/** Recording of each VIP call in progress, by call id (memory only: a reload starts afresh). */
const recordings = new Map<string, string>();

if (vipNumbers.size > 0) {
  capstan.on('call.connected', async ({ call }) => {
    if (!vipNumbers.has(call.from)) return;
    const recording = await capstan.record.start(call.callId, { requester: 'handler', deliverTo: email, tags: ['vip'] });
    recordings.set(call.callId, recording.recordingId);
    const day = call.startedAt.slice(0, 10);
    const count = (capstan.state.get<number>(`vip-calls:${day}`) ?? 0) + 1;
    capstan.state.set(`vip-calls:${day}`, count);
    capstan.log.info('VIP call recorded', { callId: call.callId, from: call.from, today: count });
  });

  capstan.on('call.held', async ({ call }) => {
    const recordingId = recordings.get(call.callId);
    if (recordingId !== undefined) await capstan.record.securePause(recordingId);
  });

  capstan.on('call.resumed', async ({ call }) => {
    const recordingId = recordings.get(call.callId);
    if (recordingId !== undefined) await capstan.record.resume(recordingId);
  });

  capstan.on('call.disconnected', ({ call }) => {
    recordings.delete(call.callId);
  });

  capstan.on('recording.failed', ({ callId, error }) => {
    if (recordings.has(callId)) capstan.log.warn('VIP recording failed', { callId, code: error.code });
  });
}
