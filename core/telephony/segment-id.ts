/**
 * How a failover segment is named: its recording's id with `-s<index>` (1, 2...). One place, so
 * whoever meets a segment id (a requester mailing parts) reads it the way Telephony Services made it.
 */
export function segmentId(recordingId: string, index: number): string {
  return `${recordingId}-s${index}`;
}

/** The recording a (segment) id belongs to and its segment index: 0 for a recording itself. */
export function parseSegmentId(id: string): { recordingId: string; index: number } {
  const m = /^(.*)-s(\d+)$/.exec(id);
  return m ? { recordingId: m[1]!, index: Number(m[2]) } : { recordingId: id, index: 0 };
}
