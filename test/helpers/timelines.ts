/**
 * Both leg timelines, for tests that hold them to the same rules: the TypeScript LegTimeline and
 * the native one (media/native/leg_timeline.c) in a native socket set opened for the tests.
 */
import { LegTimeline, type LegTimelineOptions } from '../../media/recording/leg-timeline.ts';
import type { Timeline } from '../../media/recording/timeline.ts';
import { NativeUdpTransport } from '../../media/rtp/native-udp-transport.ts';

let transport: NativeUdpTransport | undefined;

/** A native timeline; the set behind it binds no socket, so it keeps no event loop alive. */
export function nativeTimeline(options?: LegTimelineOptions): Timeline {
  transport ??= new NativeUdpTransport();
  const timeline = transport.createTimeline(options);
  if (!timeline) throw new Error('the native set cannot follow these options exactly');
  return timeline;
}

export const timelineImplementations: { name: string; create: (options?: LegTimelineOptions) => Timeline }[] = [
  { name: 'LegTimeline (TypeScript)', create: (options) => new LegTimeline(options) },
  { name: 'native leg timeline (C)', create: nativeTimeline },
];
