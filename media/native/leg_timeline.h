/*
 * The leg timeline of media/recording/leg-timeline.ts in C, rule for rule: placement by RTP
 * timestamp, duplicates, late and early packets, new sources, drift correction, and loss
 * concealment at read time. The native socket set places G.711 and L16 audio on it as it
 * receives, so a recorded packet costs no JavaScript. The TypeScript class stays the reference
 * (and what node:dgram legs and Opus use); test/media/recording/leg-timeline-parity.test.ts feeds
 * both the same streams and wants the same samples and counters.
 */
#ifndef CAPSTAN_LEG_TIMELINE_H
#define CAPSTAN_LEG_TIMELINE_H

#include <stdint.h>

/* Options, in the order of LEG_TIMELINE_OPTIONS in media/recording/native-leg-timeline.ts. */
enum {
  LT_CAPACITY,
  LT_MAX_SKEW,
  LT_MAX_STEP,
  LT_MAX_DROPOUT,
  LT_MAX_MISORDER,
  LT_CONCEAL_MAX_GAP,
  LT_DRIFT,
  LT_DRIFT_WINDOW,
  LT_DRIFT_DEADBAND,
  LT_DRIFT_MAX_STEP,
  LT_DRIFT_STEP_INTERVAL,
  LT_DRIFT_FORCE_AFTER,
  LT_DRIFT_QUIET_PEAK,
  LT_OPTION_COUNT
};

/* Push outcomes, in the order of PUSH_OUTCOMES in native-leg-timeline.ts. */
enum { LT_PLACED, LT_NEW_SOURCE, LT_DUPLICATE, LT_LATE, LT_TOO_EARLY, LT_OUT_OF_SEQUENCE };

/* State fields written by leg_timeline_state, in the order of STATE_FIELDS in native-leg-timeline.ts. */
enum {
  LS_RECEIVED,
  LS_PLACED,
  LS_DUPLICATES,
  LS_LATE,
  LS_PARTLY_LATE,
  LS_TOO_EARLY,
  LS_OUT_OF_SEQUENCE,
  LS_SOURCES,
  LS_LOST,
  LS_CONCEALED_SAMPLES,
  LS_DRIFT_STEPS,
  LS_DRIFT_STEP_SAMPLES,
  LS_DRIFT_CORRECTION,
  LS_POSITION,
  LS_AUDIO_END,
  LS_FIELD_COUNT
};

typedef struct leg_timeline leg_timeline;

/* NULL when out of memory or the capacity is not 1..2^24. */
leg_timeline *leg_timeline_create(const double options[LT_OPTION_COUNT]);
void leg_timeline_free(leg_timeline *t);
int leg_timeline_push(leg_timeline *t, uint32_t ssrc, uint32_t sequence_number, uint32_t timestamp, const int16_t *samples, uint32_t count,
                      double arrival_sample);
/*
 * Reads up to `until` into out (room for `until` − position samples, which is what it returns),
 * `masks` being `mask_count` [start, end) pairs read as silence.
 */
int64_t leg_timeline_read(leg_timeline *t, double until, int16_t *out, const double *masks, uint32_t mask_count);
/* 1 with *position set, or 0 when ssrc is not the current source. */
int leg_timeline_position_of(const leg_timeline *t, uint32_t ssrc, uint32_t timestamp, double *position);
void leg_timeline_state(const leg_timeline *t, double out[LS_FIELD_COUNT]);
/* The read position: the next sample leg_timeline_read returns. */
int64_t leg_timeline_position(const leg_timeline *t);

#endif
