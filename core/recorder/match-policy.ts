import type { CallInfo } from '../events/call-events.ts';
import type { RecorderPolicy } from '../config/schema.ts';

/** The first policy whose every given condition matches the call, or null. Pure. */
export function matchPolicy(policies: readonly RecorderPolicy[], call: CallInfo): RecorderPolicy | null {
  for (const policy of policies) {
    const w = policy.when;
    if (w.workgroup && !(call.workgroup !== null && w.workgroup.includes(call.workgroup))) continue;
    if (w.agent && !(call.agent !== null && w.agent.includes(call.agent))) continue;
    if (w.direction && !w.direction.includes(call.direction)) continue;
    if (w.ani !== undefined && !new RegExp(w.ani).test(call.from)) continue;
    if (w.dnis !== undefined && !new RegExp(w.dnis).test(call.to)) continue;
    if (w.location && !w.location.includes(call.location)) continue;
    return policy;
  }
  return null;
}
