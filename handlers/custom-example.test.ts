const config = { vipNumbers: ['+15551230000'], email: 'vip-team@example.com' };

capstanTest('without configuration it records nothing', async (t) => {
  const r = await t.emit('call.connected', { call: t.call({ from: '+15551230000' }) });
  t.expect(r.actions).toHaveLength(0);
});

capstanTest('records a VIP call for the team and hides held audio', { config }, async (t) => {
  const call = t.call({ from: '+15551230000' });
  const started = await t.emit('call.connected', { call });
  t.expect(started.actions).toMatchObject([{ op: 'start', callId: call.callId, options: { requester: 'handler', deliverTo: 'vip-team@example.com', tags: ['vip'] } }]);
  const recordingId = t.actions()[0]!.recordingId;
  t.expect((await t.emit('call.held', { call, leg: 'caller' })).actions).toEqual([{ op: 'securePause', recordingId }]);
  t.expect((await t.emit('call.resumed', { call, leg: 'caller' })).actions).toEqual([{ op: 'resume', recordingId }]);
  await t.emit('call.disconnected', { call, reason: 'hangup' });
  t.expect((await t.emit('call.held', { call, leg: 'caller' })).actions).toHaveLength(0);
});

capstanTest('ignores other callers', { config }, async (t) => {
  t.expect((await t.emit('call.connected', { call: t.call({ from: '+15559999999' }) })).actions).toHaveLength(0);
});

capstanTest('a failed start is reported and does not fail the handler', { config }, async (t) => {
  t.failNext('start', 'CAPSTAN_ERR_NO_MEDIA_SERVER');
  const r = await t.emit('call.connected', { call: t.call({ from: '+15551230000' }) });
  t.expect(r.error).toBeNull();
  t.expect(r.actions).toHaveLength(1);
});
