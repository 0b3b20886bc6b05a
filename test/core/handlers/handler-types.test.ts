import { describe, expectTypeOf, it } from 'vitest';
import type { CallEvents, CallInfo, RecordingEvents, RecordingInfo, RecordingResultInfo } from '../../../core/events/call-events.ts';
import type { HandlerStartOptions } from '../../../core/handlers/handler-actions.ts';
import type { HandlerEventName } from '../../../core/handlers/handler-event-names.ts';

// Checked by `tsc` (npm run typecheck): the author API in handlers/capstan-handler.d.ts must
// describe exactly what the host sends and accepts.
describe('the handler author API types', () => {
  it('match the host’s call and recording payloads', () => {
    expectTypeOf<CapstanHandler.CallInfo>().toEqualTypeOf<CallInfo>();
    expectTypeOf<CapstanHandler.RecordingInfo>().toEqualTypeOf<RecordingInfo>();
    expectTypeOf<CapstanHandler.RecordingResultInfo>().toEqualTypeOf<RecordingResultInfo>();
    expectTypeOf<keyof CapstanHandler.Events>().toEqualTypeOf<HandlerEventName>();
    expectTypeOf<(CallEvents & RecordingEvents)['call.assigned']>().toExtend<CapstanHandler.Events['call.assigned']>();
    expectTypeOf<(CallEvents & RecordingEvents)['recording.failed']>().toExtend<CapstanHandler.Events['recording.failed']>();
  });

  it('offer the start options the host validates', () => {
    expectTypeOf<Required<CapstanHandler.StartOptions>>().toExtend<Omit<HandlerStartOptions, 'deliverTo'> & { deliverTo: string | null }>();
    expectTypeOf<keyof CapstanHandler.StartOptions>().toEqualTypeOf<keyof HandlerStartOptions>();
  });
});
