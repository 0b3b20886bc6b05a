capstanTest('secure-pauses every recording of a held call and resumes them with the call', async (t) => {
  const call = t.call({ workgroup: 'billing' });
  await t.emit('recording.started', { recording: t.recording({ callId: call.callId, recordingId: 'r-recorder', requester: 'recorder' }) });
  await t.emit('recording.started', { recording: t.recording({ callId: call.callId, recordingId: 'r-workgroup', requester: 'workgroup' }) });
  const held = await t.emit('call.held', { call, leg: 'caller' });
  t.expect(held.actions).toEqual([
    { op: 'securePause', recordingId: 'r-recorder' },
    { op: 'securePause', recordingId: 'r-workgroup' },
  ]);
  const resumed = await t.emit('call.resumed', { call, leg: 'caller' });
  t.expect(resumed.actions.map((a) => a.op)).toEqual(['resume', 'resume']);
  t.expect(held.cpuMs).toBeLessThan(held.budgetMs);
});

capstanTest('leaves calls outside the configured workgroups alone', { config: { workgroups: ['billing'] } }, async (t) => {
  const call = t.call({ workgroup: 'sales' });
  await t.emit('recording.started', { recording: t.recording({ callId: call.callId }) });
  t.expect((await t.emit('call.held', { call, leg: 'callee' })).actions).toHaveLength(0);
});

capstanTest('forgets a completed recording', async (t) => {
  const call = t.call();
  const recording = t.recording({ callId: call.callId });
  await t.emit('recording.started', { recording });
  await t.emit('recording.completed', {
    recording,
    result: { fileName: 'f.wav', uri: 'u', mime: 'audio/L16', channels: 2, sampleRate: 8000, samples: 0, durationMs: 0, sizeBytes: 44, sha256: '', startedAt: '', stoppedAt: '', pauses: [], dtmf: [] },
  });
  t.expect((await t.emit('call.held', { call, leg: 'caller' })).actions).toHaveLength(0);
});
