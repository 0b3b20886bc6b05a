/*
 * See leg_timeline.h: a port of media/recording/leg-timeline.ts. The class comment there holds
 * the rules; this file keeps its structure and names so the two read side by side. Positions are
 * int64 (whole samples, as every position in the TypeScript class is); the few values the class
 * computes in floating point (the drift rate's feed-forward, gains, interpolation) are computed
 * here in the same order of double operations, and rounded as Math.round rounds, so the samples
 * come out identical.
 */
#include "leg_timeline.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DUP_WINDOW 1024
#define LOG_SIZE 256
#define CONCEAL_PERIOD 160
#define MAX_OFFSETS 1024
#define RATE_MIN_ELAPSED 240000

typedef struct {
  int active;
  uint32_t ssrc;
  int64_t index;
  int64_t anchor;
  uint32_t first_timestamp;
  int64_t max_seq;
  uint32_t max_seq_timestamp;
  int64_t base_seq;
  int64_t unique_received;
  int64_t correction;
  int64_t pending;
  int64_t last_step_at;
  int64_t scheduled;
  int64_t rate_since;
  double feed_forward;
  int64_t newest_end;
  int64_t window_start;
  int64_t window_length;
  int64_t offset_count;
} source;

typedef struct {
  int active;
  int conceal;
  int64_t offset;
  int16_t template_[CONCEAL_PERIOD];
} gap_carry;

struct leg_timeline {
  int64_t cap;
  int16_t *ring;
  uint8_t *filled;
  double max_skew, max_step, max_dropout, max_misorder, conceal_max_gap;
  int drift;
  double drift_window, drift_deadband, drift_max_step, drift_step_interval, drift_force_after, drift_quiet_peak;
  int32_t seen[DUP_WINDOW];
  int64_t log_start[LOG_SIZE];
  int64_t log_end[LOG_SIZE];
  int64_t log_seq[LOG_SIZE];
  int64_t log_source[LOG_SIZE];
  int log_next;
  int16_t history[CONCEAL_PERIOD];
  gap_carry carry;
  source src;
  double offsets[MAX_OFFSETS];
  int32_t probation_seq;
  int64_t read_pos;
  int64_t placed_end;
  int64_t lost_in_ended_sources;
  int64_t received, placed, duplicates, late, partly_late, too_early, out_of_sequence, sources, concealed_samples, drift_steps,
      drift_step_samples;
};

/* Math.round: the nearest integer, halves toward +Infinity. */
static double js_round(double x) {
  double r = floor(x);
  return x - r >= 0.5 ? r + 1 : r;
}

static int64_t signed32(uint32_t x) {
  return (int32_t)x;
}

static int32_t signed16(int32_t x) {
  return (int16_t)(uint16_t)(x & 0xffff);
}

static int64_t max64(int64_t a, int64_t b) {
  return a > b ? a : b;
}

static int64_t ring_index(const leg_timeline *t, int64_t pos) {
  return pos % t->cap;
}

leg_timeline *leg_timeline_create(const double o[LT_OPTION_COUNT]) {
  double capacity = o[LT_CAPACITY];
  if (!(capacity >= 1 && capacity <= (1 << 24))) return NULL;
  leg_timeline *t = calloc(1, sizeof(leg_timeline));
  if (t == NULL) return NULL;
  t->cap = (int64_t)capacity;
  t->ring = calloc((size_t)t->cap, sizeof(int16_t));
  t->filled = calloc((size_t)t->cap, 1);
  if (t->ring == NULL || t->filled == NULL) {
    leg_timeline_free(t);
    return NULL;
  }
  t->max_skew = o[LT_MAX_SKEW];
  t->max_step = o[LT_MAX_STEP];
  t->max_dropout = o[LT_MAX_DROPOUT];
  t->max_misorder = o[LT_MAX_MISORDER];
  t->conceal_max_gap = o[LT_CONCEAL_MAX_GAP];
  t->drift = o[LT_DRIFT] != 0;
  t->drift_window = o[LT_DRIFT_WINDOW];
  t->drift_deadband = o[LT_DRIFT_DEADBAND];
  t->drift_max_step = o[LT_DRIFT_MAX_STEP];
  t->drift_step_interval = o[LT_DRIFT_STEP_INTERVAL];
  t->drift_force_after = o[LT_DRIFT_FORCE_AFTER];
  t->drift_quiet_peak = o[LT_DRIFT_QUIET_PEAK];
  for (int i = 0; i < DUP_WINDOW; i++) t->seen[i] = -1;
  for (int i = 0; i < LOG_SIZE; i++) t->log_end[i] = -1;
  t->probation_seq = -1;
  return t;
}

void leg_timeline_free(leg_timeline *t) {
  if (t == NULL) return;
  free(t->ring);
  free(t->filled);
  free(t);
}

/* ---- placement ---------------------------------------------------------------------------- */

/* Copies samples[from..count) to the ring at timeline position `at`, marking the slots filled. */
static void write_samples(leg_timeline *t, const int16_t *samples, uint32_t count, int64_t at, uint32_t from) {
  int64_t idx = ring_index(t, at);
  uint32_t i = from;
  while (i < count) {
    uint32_t run = count - i;
    if ((int64_t)run > t->cap - idx) run = (uint32_t)(t->cap - idx);
    memcpy(t->ring + idx, samples + i, (size_t)run * sizeof(int16_t));
    memset(t->filled + idx, 1, run);
    i += run;
    idx = (idx + run) % t->cap;
  }
}

static int place(leg_timeline *t, uint32_t seq, const int16_t *samples, uint32_t count, int64_t position, int64_t ext_seq, int newest) {
  int64_t end = position + count;
  source *s = &t->src;
  t->seen[seq % DUP_WINDOW] = (int32_t)seq;
  s->unique_received++;
  if (newest) s->newest_end = end;
  if (end <= t->read_pos) {
    t->late++;
    return LT_LATE;
  }
  if (end > t->read_pos + t->cap) {
    t->too_early++;
    return LT_TOO_EARLY;
  }
  int64_t skip = 0;
  if (position < t->read_pos) {
    skip = t->read_pos - position;
    t->partly_late++;
  }
  write_samples(t, samples, count, position + skip, (uint32_t)skip);
  int l = t->log_next;
  t->log_start[l] = position;
  t->log_end[l] = end;
  t->log_seq[l] = ext_seq;
  t->log_source[l] = s->index;
  t->log_next = (l + 1) % LOG_SIZE;
  t->placed++;
  if (end > t->placed_end) t->placed_end = end;
  return LT_PLACED;
}

static int start_source(leg_timeline *t, uint32_t ssrc, uint32_t seq, uint32_t ts, const int16_t *samples, uint32_t count, int64_t arrival) {
  source *s = &t->src;
  if (s->active) t->lost_in_ended_sources += max64(0, s->max_seq - s->base_seq + 1 - s->unique_received);
  t->sources++;
  memset(s, 0, sizeof *s);
  s->active = 1;
  s->ssrc = ssrc;
  s->index = t->sources;
  s->anchor = arrival;
  s->first_timestamp = ts;
  s->max_seq = seq;
  s->max_seq_timestamp = ts;
  s->base_seq = seq;
  s->last_step_at = arrival;
  s->rate_since = -1;
  s->newest_end = arrival;
  s->window_start = arrival;
  s->window_length = (int64_t)t->drift_window;
  for (int i = 0; i < DUP_WINDOW; i++) t->seen[i] = -1;
  t->probation_seq = -1;
  int outcome = place(t, seq, samples, count, arrival, seq, 1);
  return outcome == LT_PLACED ? LT_NEW_SOURCE : outcome;
}

/* ---- drift -------------------------------------------------------------------------------- */

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y ? 1 : 0;
}

static int quiet(const leg_timeline *t, const int16_t *samples, uint32_t count) {
  double limit = t->drift_quiet_peak;
  for (uint32_t i = 0; i < count; i++) {
    double v = samples[i];
    if (v >= limit || v <= -limit) return 0;
  }
  return 1;
}

/* Fills [from, to) — the hole a forward step opened — by interpolating across it. */
static void stretch(leg_timeline *t, int64_t from, int64_t to, double next) {
  if (from <= t->read_pos || to > t->read_pos + t->cap) return;
  int64_t before = ring_index(t, from - 1);
  double previous = t->filled[before] ? t->ring[before] : 0;
  int64_t n = to - from;
  int16_t fill[64];
  int16_t *buffer = n <= 64 ? fill : malloc((size_t)n * sizeof(int16_t));
  if (buffer == NULL) return;
  for (int64_t i = 0; i < n; i++) buffer[i] = (int16_t)(int64_t)js_round(previous + ((next - previous) * (double)(i + 1)) / (double)(n + 1));
  write_samples(t, buffer, (uint32_t)n, from, 0);
  if (buffer != fill) free(buffer);
}

static int64_t track_drift(leg_timeline *t, const int16_t *samples, uint32_t count, int64_t position, int64_t arrival) {
  source *s = &t->src;
  if (s->offset_count < MAX_OFFSETS) t->offsets[s->offset_count++] = (double)(position + s->pending - arrival);
  if (arrival - s->window_start >= s->window_length || s->offset_count == MAX_OFFSETS) {
    int64_t n = s->offset_count;
    qsort(t->offsets, (size_t)n, sizeof(double), compare_doubles);
    int64_t k = (int64_t)floor((double)n * 0.95);
    double error = t->offsets[k < n - 1 ? k : n - 1];
    int first = s->rate_since < 0;
    int64_t change = fabs(error) > t->drift_deadband ? -(int64_t)js_round(error) : 0;
    if (first) {
      s->rate_since = arrival;
    } else {
      int64_t elapsed = arrival - s->rate_since;
      if (elapsed >= RATE_MIN_ELAPSED) {
        s->feed_forward += ((double)s->scheduled / (double)elapsed) * (double)(arrival - s->window_start);
        double whole = trunc(s->feed_forward);
        s->feed_forward -= whole;
        change += (int64_t)whole;
      }
      s->scheduled += change;
    }
    s->pending += change;
    s->window_start = arrival;
    s->window_length = (int64_t)t->drift_window;
    s->offset_count = 0;
  }
  if (s->pending == 0) return position;
  int64_t since = position - s->last_step_at;
  if ((double)since < t->drift_step_interval) return position;
  if ((double)since < t->drift_force_after && !quiet(t, samples, count)) return position;
  double limited = (double)s->pending;
  if (limited > t->drift_max_step) limited = t->drift_max_step;
  if (limited < -t->drift_max_step) limited = -t->drift_max_step;
  int64_t step = (int64_t)limited;
  int64_t previous_end = s->newest_end;
  s->pending -= step;
  s->correction += step;
  s->last_step_at = position + step;
  t->drift_steps++;
  t->drift_step_samples += step < 0 ? -step : step;
  int64_t placed = position + step;
  if (step > 0 && previous_end == position) stretch(t, previous_end, placed, count > 0 ? samples[0] : 0);
  return placed;
}

int leg_timeline_push(leg_timeline *t, uint32_t ssrc, uint32_t sequence_number, uint32_t ts, const int16_t *samples, uint32_t count,
                      double arrival_sample) {
  t->received++;
  double floored = floor(arrival_sample);
  int64_t arrival = floored > 0 ? (int64_t)floored : 0;
  uint32_t seq = sequence_number & 0xffff;
  source *s = &t->src;
  if (!s->active || s->ssrc != ssrc) return start_source(t, ssrc, seq, ts, samples, count, arrival);

  int32_t d = signed16((int32_t)seq - (int32_t)(s->max_seq & 0xffff));
  int64_t position = s->anchor + s->correction + signed32(ts - s->first_timestamp);
  if (d > 0) {
    if (d > t->max_dropout) return start_source(t, ssrc, seq, ts, samples, count, arrival);
    int64_t ts_step = signed32(ts - s->max_seq_timestamp);
    int64_t distance = position - arrival;
    int fits_arrival = (double)(distance < 0 ? -distance : distance) <= t->max_skew;
    int fits_sequence = ts_step >= 0 && (double)ts_step <= d * t->max_step;
    if (!fits_arrival && !fits_sequence) return start_source(t, ssrc, seq, ts, samples, count, arrival);
    s->max_seq += d;
    s->max_seq_timestamp = ts;
    t->probation_seq = -1;
    if (t->drift) position = track_drift(t, samples, count, position, arrival);
    return place(t, seq, samples, count, position, s->max_seq, 1);
  }
  if (d < -t->max_misorder) {
    if ((int32_t)seq == t->probation_seq) return start_source(t, ssrc, seq, ts, samples, count, arrival);
    t->probation_seq = (int32_t)((seq + 1) & 0xffff);
    t->out_of_sequence++;
    return LT_OUT_OF_SEQUENCE;
  }
  if (t->seen[seq % DUP_WINDOW] == (int32_t)seq) {
    t->duplicates++;
    return LT_DUPLICATE;
  }
  return place(t, seq, samples, count, position, s->max_seq + d, 0);
}

/* ---- read-time gap handling --------------------------------------------------------------- */

/* First timeline position in [from, to) whose filled flag is `flag`, or -1. */
static int64_t next_with_flag(const leg_timeline *t, int64_t from, int64_t to, uint8_t flag) {
  int64_t pos = from;
  while (pos < to) {
    int64_t idx = ring_index(t, pos);
    int64_t stop = idx + (to - pos);
    if (stop > t->cap) stop = t->cap;
    const uint8_t *hit = memchr(t->filled + idx, flag, (size_t)(stop - idx));
    if (hit != NULL) return pos + (hit - (t->filled + idx));
    pos += stop - idx;
  }
  return -1;
}

static int filled_at(const leg_timeline *t, int64_t pos) {
  return t->filled[ring_index(t, pos)] == 1;
}

/* Newest log entry whose `field` equals `value`, or -1. */
static int log_index(const leg_timeline *t, const int64_t *field, int64_t value) {
  for (int k = 1; k <= LOG_SIZE; k++) {
    int i = (t->log_next - k + LOG_SIZE) % LOG_SIZE;
    if (field[i] == value && t->log_end[i] >= 0) return i;
  }
  return -1;
}

static int is_loss(const leg_timeline *t, int64_t a, int64_t b, int64_t until) {
  int64_t right = b;
  if (b == until) {
    double limit = (double)a + t->conceal_max_gap + 1;
    double ring_end = (double)(t->read_pos + t->cap);
    int64_t found = next_with_flag(t, until, (int64_t)(limit < ring_end ? limit : ring_end), 1);
    if (found < 0) return 0;
    right = found;
  }
  if ((double)(right - a) > t->conceal_max_gap) return 0;
  int left = log_index(t, t->log_end, a);
  int next = log_index(t, t->log_start, right);
  if (left < 0 || next < 0 || t->log_source[left] != t->log_source[next]) return 0;
  return t->log_seq[next] - t->log_seq[left] > 1;
}

/* Up to CONCEAL_PERIOD samples before timeline position `a`, from this read and the last ones. */
static void template_before(const leg_timeline *t, const int16_t *out, int64_t start, int64_t a, int16_t *template_) {
  int64_t in_out = a - start;
  if (in_out >= CONCEAL_PERIOD) {
    memcpy(template_, out + in_out - CONCEAL_PERIOD, CONCEAL_PERIOD * sizeof(int16_t));
    return;
  }
  memcpy(template_, t->history + in_out, (size_t)(CONCEAL_PERIOD - in_out) * sizeof(int16_t));
  memcpy(template_ + CONCEAL_PERIOD - in_out, out, (size_t)in_out * sizeof(int16_t));
}

static double conceal_gain(int64_t k) {
  if (k < CONCEAL_PERIOD) return 0.5;
  if (k < 2 * CONCEAL_PERIOD) return (0.5 * (double)(2 * CONCEAL_PERIOD - k)) / CONCEAL_PERIOD;
  return 0;
}

static void fill_run(leg_timeline *t, int16_t *out, int64_t start, int64_t a, int64_t b, int64_t until) {
  gap_carry local;
  gap_carry *gap;
  if (a == start && t->carry.active) {
    gap = &t->carry;
  } else {
    local.active = 1;
    template_before(t, out, start, a, local.template_);
    local.conceal = t->conceal_max_gap > 0 && is_loss(t, a, b, until);
    local.offset = 0;
    gap = &local;
  }
  if (gap->conceal) {
    for (int64_t p = a; p < b; p++) {
      int64_t k = gap->offset + (p - a);
      if (k >= 2 * CONCEAL_PERIOD) break;
      out[p - start] = (int16_t)(int64_t)js_round(gap->template_[k % CONCEAL_PERIOD] * conceal_gain(k));
      t->concealed_samples++;
    }
  }
  gap->offset += b - a;
  if (b == until) {
    if (gap != &t->carry) t->carry = *gap;
  } else {
    t->carry.active = 0;
  }
}

static void fill_gaps(leg_timeline *t, int16_t *out, int64_t start, int64_t length, int64_t from_ring) {
  int64_t until = start + length;
  int64_t i = 0;
  while (i < from_ring) {
    int64_t a = next_with_flag(t, start + i, start + from_ring, 0);
    if (a < 0) break;
    int64_t b = next_with_flag(t, a, start + from_ring, 1);
    if (b < 0) b = until;
    fill_run(t, out, start, a, b, until);
    i = b - start;
  }
  if (from_ring < length) {
    /* A read longer than the ring: the rest was never placed. Silence; a loss cannot span it. */
    t->carry.active = 1;
    t->carry.conceal = 0;
    t->carry.offset = 0;
    memcpy(t->carry.template_, t->history, sizeof t->history);
  } else if (filled_at(t, until - 1)) {
    t->carry.active = 0;
  }
}

static void apply_masks(int16_t *out, int64_t start, int64_t length, const double *masks, uint32_t mask_count) {
  double end = (double)(start + length);
  for (uint32_t m = 0; m < mask_count; m++) {
    double from = masks[2 * m] > (double)start ? masks[2 * m] : (double)start;
    double to = masks[2 * m + 1] < end ? masks[2 * m + 1] : end;
    if (to > from) {
      /* TypedArray.fill truncates its indexes. */
      int64_t a = (int64_t)(from - (double)start), b = (int64_t)(to - (double)start);
      if (b > a) memset(out + a, 0, (size_t)(b - a) * sizeof(int16_t));
    }
  }
}

static void remember(leg_timeline *t, const int16_t *out, int64_t n) {
  if (n >= CONCEAL_PERIOD) {
    memcpy(t->history, out + n - CONCEAL_PERIOD, sizeof t->history);
  } else {
    memmove(t->history, t->history + n, (size_t)(CONCEAL_PERIOD - n) * sizeof(int16_t));
    memcpy(t->history + CONCEAL_PERIOD - n, out, (size_t)n * sizeof(int16_t));
  }
}

int64_t leg_timeline_read(leg_timeline *t, double until, int16_t *out, const double *masks, uint32_t mask_count) {
  double wanted = floor(until) - (double)t->read_pos;
  int64_t n = wanted > 0 ? (int64_t)wanted : 0;
  int64_t from_ring = n < t->cap ? n : t->cap;
  if (n == 0) return 0;
  if (from_ring < n) memset(out + from_ring, 0, (size_t)(n - from_ring) * sizeof(int16_t));
  int64_t start = t->read_pos;
  int64_t idx = ring_index(t, start);
  int64_t done = 0;
  while (done < from_ring) {
    int64_t run = from_ring - done;
    if (run > t->cap - idx) run = t->cap - idx;
    memcpy(out + done, t->ring + idx, (size_t)run * sizeof(int16_t));
    done += run;
    idx = (idx + run) % t->cap;
  }
  fill_gaps(t, out, start, n, from_ring);
  /* Cleared only now (the gap search looks at the filled flags of this span). */
  idx = ring_index(t, start);
  done = 0;
  while (done < from_ring) {
    int64_t run = from_ring - done;
    if (run > t->cap - idx) run = t->cap - idx;
    memset(t->ring + idx, 0, (size_t)run * sizeof(int16_t));
    memset(t->filled + idx, 0, (size_t)run);
    done += run;
    idx = (idx + run) % t->cap;
  }
  if (mask_count > 0) apply_masks(out, start, n, masks, mask_count);
  remember(t, out, n);
  t->read_pos += n;
  return n;
}

int leg_timeline_position_of(const leg_timeline *t, uint32_t ssrc, uint32_t timestamp, double *position) {
  const source *s = &t->src;
  if (!s->active || s->ssrc != ssrc) return 0;
  *position = (double)(s->anchor + s->correction + signed32(timestamp - s->first_timestamp));
  return 1;
}

int64_t leg_timeline_position(const leg_timeline *t) {
  return t->read_pos;
}

void leg_timeline_state(const leg_timeline *t, double out[LS_FIELD_COUNT]) {
  const source *s = &t->src;
  int64_t lost_now = s->active ? s->max_seq - s->base_seq + 1 - s->unique_received : 0;
  out[LS_RECEIVED] = (double)t->received;
  out[LS_PLACED] = (double)t->placed;
  out[LS_DUPLICATES] = (double)t->duplicates;
  out[LS_LATE] = (double)t->late;
  out[LS_PARTLY_LATE] = (double)t->partly_late;
  out[LS_TOO_EARLY] = (double)t->too_early;
  out[LS_OUT_OF_SEQUENCE] = (double)t->out_of_sequence;
  out[LS_SOURCES] = (double)t->sources;
  out[LS_LOST] = (double)(t->lost_in_ended_sources + max64(0, lost_now));
  out[LS_CONCEALED_SAMPLES] = (double)t->concealed_samples;
  out[LS_DRIFT_STEPS] = (double)t->drift_steps;
  out[LS_DRIFT_STEP_SAMPLES] = (double)t->drift_step_samples;
  out[LS_DRIFT_CORRECTION] = (double)(s->active ? s->correction : 0);
  out[LS_POSITION] = (double)t->read_pos;
  out[LS_AUDIO_END] = (double)t->placed_end;
}
