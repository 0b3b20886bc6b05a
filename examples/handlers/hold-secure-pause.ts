/**
 * Example handler: whoever records a call (the Recorder, a workgroup, another handler), audio on
 * hold is not kept — each recording of a held call is secure-paused (its timeline stays, silent)
 * and resumed when the call resumes.
 *
 * Try it: `capstan handlers test examples/handlers/hold-secure-pause.ts`. Use it: copy it into
 * handlers/. Optional configuration: `{ "workgroups": ["billing"] }` limits it to those workgroups.
 */
const only = (capstan.config.workgroups ?? null) as string[] | null;

/** Recordings in progress by call id, learned from recording.started. */
const byCall = new Map<string, Set<string>>();

capstan.on('recording.started', ({ recording }) => {
  const set = byCall.get(recording.callId) ?? new Set<string>();
  set.add(recording.recordingId);
  byCall.set(recording.callId, set);
});

capstan.on('recording.completed', ({ recording }) => {
  byCall.get(recording.callId)?.delete(recording.recordingId);
});

capstan.on('call.held', async ({ call }) => {
  if (only !== null && (call.workgroup === null || !only.includes(call.workgroup))) return;
  await Promise.all([...(byCall.get(call.callId) ?? [])].map((id) => capstan.record.securePause(id)));
});

capstan.on('call.resumed', async ({ call }) => {
  if (only !== null && (call.workgroup === null || !only.includes(call.workgroup))) return;
  await Promise.all([...(byCall.get(call.callId) ?? [])].map((id) => capstan.record.resume(id)));
});

capstan.on('call.disconnected', ({ call }) => {
  byCall.delete(call.callId);
});
