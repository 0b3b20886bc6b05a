/*
 * The leg timelines of the native socket set: a recording's timeline per leg lives here (ids like
 * sockets', with a generation), and a socket told to record (setRecording) places each RTP packet
 * of its codec's payload type on every target timeline as the batch is received — decoded from
 * G.711 with the table JavaScript gives, or from L16 — so recording a packet costs no JavaScript.
 * Everything else (telephone events, other payload types, Opus, node:dgram legs) goes the
 * JavaScript way, onto the same kind of timeline through timelinePush, or onto the TypeScript
 * LegTimeline. docs/native-udp.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "leg_timeline.h"
#include "udp_set.h"

static leg_timeline *timeline_lookup(udp_set *s, int32_t id) {
  if (id < 0) return NULL;
  uint32_t index = (uint32_t)id & SLOT_MASK;
  if (index >= s->timeline_count) return NULL;
  timeline_slot *slot = &s->timelines[index];
  return slot->timeline != NULL && slot->id == id ? slot->timeline : NULL;
}

void release_recording(udp_slot *slot) {
  free(slot->record_table);
  free(slot->target_ids);
  free(slot->target_t0);
  slot->record_table = NULL;
  slot->target_ids = NULL;
  slot->target_t0 = NULL;
  slot->target_count = 0;
  slot->record_pt = -1;
}

void free_timelines(udp_set *s) {
  for (uint32_t i = 0; i < s->timeline_count; i++) leg_timeline_free(s->timelines[i].timeline);
  free(s->timelines);
  free(s->free_timelines);
  s->timelines = NULL;
  s->free_timelines = NULL;
  s->timeline_count = 0;
}

/* Places one receive entry's audio on its socket's timelines when the socket records it: 1 if so. */
static int record_entry(udp_set *s, int32_t *entry) {
  if (entry[F_STATUS] != 0) return 0;
  udp_slot *slot = lookup(s, entry[F_ID]);
  if (slot == NULL || slot->target_count == 0) return 0;
  const uint8_t *p = s->recv_data + entry[F_OFFSET];
  uint32_t offset, length;
  if (!rtp_payload(p, (uint32_t)entry[F_LENGTH], &offset, &length) || (p[1] & 0x7f) != slot->record_pt) return 0;
  const uint8_t *payload = p + offset;
  uint32_t samples;
  if (slot->record_table != NULL) {
    samples = length;
    for (uint32_t k = 0; k < samples; k++) s->pcm[k] = slot->record_table[payload[k]];
  } else {
    /* L16 is big-endian; a trailing odd byte is ignored. */
    samples = length >> 1;
    for (uint32_t k = 0; k < samples; k++) s->pcm[k] = (int16_t)(uint16_t)(((uint32_t)payload[2 * k] << 8) | payload[2 * k + 1]);
  }
  uint32_t seq = ((uint32_t)p[2] << 8) | p[3];
  uint32_t ts = ((uint32_t)p[4] << 24) | ((uint32_t)p[5] << 16) | ((uint32_t)p[6] << 8) | p[7];
  uint32_t ssrc = ((uint32_t)p[8] << 24) | ((uint32_t)p[9] << 16) | ((uint32_t)p[10] << 8) | p[11];
  for (uint32_t t = 0; t < slot->target_count; t++) {
    leg_timeline *timeline = timeline_lookup(s, slot->target_ids[t]);
    /* As Recording.push: (arrivalMs − t0) × 8 samples per ms. */
    if (timeline != NULL) leg_timeline_push(timeline, ssrc, seq, ts, s->pcm, samples, (s->batch_ms - slot->target_t0[t]) * 8);
  }
  slot->recorded++;
  s->recorded_total++;
  return 1;
}

/*
 * Places the recorded sockets' RTP of the first `count` receive entries (after their relay) and
 * removes those entries from the table, keeping the others in order; answers how many are left
 * for JavaScript.
 */
uint32_t record_batch(udp_set *s, uint32_t count) {
  uint32_t kept = 0;
  for (uint32_t i = 0; i < count; i++) {
    int32_t *entry = &s->recv_table[i * F_FIELDS];
    if (record_entry(s, entry)) continue;
    if (kept != i) memcpy(&s->recv_table[kept * F_FIELDS], entry, F_FIELDS * sizeof(int32_t));
    kept++;
  }
  return kept;
}

/* ---- JavaScript API ------------------------------------------------------------------------ */

static int typed_array(napi_env env, napi_value value, napi_typedarray_type want, void **data, size_t *length) {
  napi_typedarray_type type;
  return napi_get_typedarray_info(env, value, &type, length, data, NULL, NULL) == napi_ok && type == want;
}

/* The timeline of a (handle, id, ...) call, or NULL with a TypeError pending. */
static leg_timeline *timeline_arg(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  int32_t id;
  udp_set *s = set_and_id(env, info, argc, argv, &id);
  if (s == NULL) return NULL;
  leg_timeline *t = timeline_lookup(s, id);
  if (t == NULL) throw_type(env, "no such timeline (closed?)");
  return t;
}

/* timelineCreate(handle, options: Float64Array of LT_OPTION_COUNT) → id, or -errno. */
napi_value js_timeline_create(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "timelineCreate(handle, options)");
  udp_set *s = get_set(env, argv[0]);
  if (s == NULL) return NULL;
  if (s->closed) return int_value(env, -EBADF);
  void *data;
  size_t length;
  if (!typed_array(env, argv[1], napi_float64_array, &data, &length) || length < LT_OPTION_COUNT) return throw_type(env, "options must be a Float64Array");
  uint32_t index;
  if (s->free_timeline_count > 0) {
    index = s->free_timelines[--s->free_timeline_count];
  } else {
    if (s->timeline_count == s->timeline_capacity) {
      uint32_t capacity = s->timeline_capacity ? s->timeline_capacity * 2 : 64;
      if (capacity > SLOT_MASK + 1) return int_value(env, -ENOMEM);
      timeline_slot *slots = realloc(s->timelines, capacity * sizeof(timeline_slot));
      if (slots == NULL) return int_value(env, -ENOMEM);
      s->timelines = slots;
      uint32_t *free_list = realloc(s->free_timelines, capacity * sizeof(uint32_t));
      if (free_list == NULL) return int_value(env, -ENOMEM);
      s->free_timelines = free_list;
      s->timeline_capacity = capacity;
    }
    index = s->timeline_count++;
    s->timelines[index].generation = 0;
    s->timelines[index].timeline = NULL;
  }
  leg_timeline *t = leg_timeline_create((const double *)data);
  if (t == NULL) {
    s->free_timelines[s->free_timeline_count++] = index;
    return int_value(env, -ENOMEM);
  }
  timeline_slot *slot = &s->timelines[index];
  slot->timeline = t;
  slot->id = (int32_t)((slot->generation << SLOT_BITS) | index);
  return int_value(env, slot->id);
}

/* timelineClose(handle, id) → true when it was open. Sockets still naming it skip it. */
napi_value js_timeline_close(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t id;
  udp_set *s = set_and_id(env, info, &argc, argv, &id);
  if (s == NULL) return NULL;
  leg_timeline *t = timeline_lookup(s, id);
  if (t != NULL) {
    timeline_slot *slot = &s->timelines[(uint32_t)id & SLOT_MASK];
    leg_timeline_free(t);
    slot->timeline = NULL;
    slot->id = -1;
    slot->generation = (slot->generation + 1) & GENERATION_MASK;
    s->free_timelines[s->free_timeline_count++] = (uint32_t)(slot - s->timelines);
  }
  napi_value out;
  CHECK(napi_get_boolean(env, t != NULL, &out));
  return out;
}

/* timelinePush(handle, id, ssrc, sequenceNumber, timestamp, samples: Int16Array, arrivalSample) → outcome. */
napi_value js_timeline_push(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  leg_timeline *t = timeline_arg(env, info, &argc, argv);
  if (t == NULL) return NULL;
  if (argc < 7) return throw_type(env, "timelinePush(handle, id, ssrc, sequenceNumber, timestamp, samples, arrivalSample)");
  uint32_t ssrc, seq, ts;
  double arrival;
  void *samples;
  size_t count;
  if (napi_get_value_uint32(env, argv[2], &ssrc) != napi_ok || napi_get_value_uint32(env, argv[3], &seq) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &ts) != napi_ok || napi_get_value_double(env, argv[6], &arrival) != napi_ok) {
    return throw_type(env, "ssrc, sequenceNumber, timestamp and arrivalSample must be numbers");
  }
  if (!typed_array(env, argv[5], napi_int16_array, &samples, &count)) return throw_type(env, "samples must be an Int16Array");
  return int_value(env, leg_timeline_push(t, ssrc, seq, ts, (const int16_t *)samples, (uint32_t)count, arrival));
}

/* timelineRead(handle, id, until, out: Int16Array, masks: Float64Array, maskCount) → samples read into out. */
napi_value js_timeline_read(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  leg_timeline *t = timeline_arg(env, info, &argc, argv);
  if (t == NULL) return NULL;
  if (argc < 6) return throw_type(env, "timelineRead(handle, id, until, out, masks, maskCount)");
  double until;
  int32_t mask_count;
  void *out, *masks;
  size_t out_length, masks_length;
  if (napi_get_value_double(env, argv[2], &until) != napi_ok) return throw_type(env, "until must be a number");
  if (!typed_array(env, argv[3], napi_int16_array, &out, &out_length)) return throw_type(env, "out must be an Int16Array");
  if (!typed_array(env, argv[4], napi_float64_array, &masks, &masks_length)) return throw_type(env, "masks must be a Float64Array");
  if (napi_get_value_int32(env, argv[5], &mask_count) != napi_ok || mask_count < 0 || (size_t)mask_count * 2 > masks_length) {
    return throw_type(env, "maskCount out of range");
  }
  if (!(floor(until) - (double)leg_timeline_position(t) <= (double)out_length)) return throw_type(env, "out is too short for the read (or until is not a number)");
  napi_value result;
  CHECK(napi_create_double(env, (double)leg_timeline_read(t, until, (int16_t *)out, (const double *)masks, (uint32_t)mask_count), &result));
  return result;
}

/* timelinePositionOf(handle, id, ssrc, timestamp) → position, or undefined. */
napi_value js_timeline_position_of(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  leg_timeline *t = timeline_arg(env, info, &argc, argv);
  if (t == NULL) return NULL;
  uint32_t ssrc, ts;
  if (argc < 4 || napi_get_value_uint32(env, argv[2], &ssrc) != napi_ok || napi_get_value_uint32(env, argv[3], &ts) != napi_ok) {
    return throw_type(env, "timelinePositionOf(handle, id, ssrc, timestamp)");
  }
  double position;
  napi_value out;
  if (!leg_timeline_position_of(t, ssrc, ts, &position)) {
    CHECK(napi_get_undefined(env, &out));
    return out;
  }
  CHECK(napi_create_double(env, position, &out));
  return out;
}

/* timelineState(handle, id, out: Float64Array of LS_FIELD_COUNT): counters, read position, audio end. */
napi_value js_timeline_state(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  leg_timeline *t = timeline_arg(env, info, &argc, argv);
  if (t == NULL) return NULL;
  void *out;
  size_t length;
  if (argc < 3 || !typed_array(env, argv[2], napi_float64_array, &out, &length) || length < LS_FIELD_COUNT) return throw_type(env, "out must be a Float64Array");
  leg_timeline_state(t, (double *)out);
  return NULL;
}

/*
 * setRecording(handle, id, payloadType, decodeTable: Int16Array of 256 | null (L16), timelineIds: Int32Array,
 * t0s: Float64Array, count) → 0, or -errno (EBADF: the socket is not open). payloadType < 0 or count 0 stops.
 */
napi_value js_set_recording(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  int32_t id;
  udp_set *s = set_and_id(env, info, &argc, argv, &id);
  if (s == NULL) return NULL;
  if (argc < 7) return throw_type(env, "setRecording(handle, id, payloadType, decodeTable, timelineIds, t0s, count)");
  udp_slot *slot = lookup(s, id);
  if (slot == NULL) return int_value(env, -EBADF);
  int32_t pt, count;
  if (napi_get_value_int32(env, argv[2], &pt) != napi_ok || napi_get_value_int32(env, argv[6], &count) != napi_ok || count < 0) {
    return throw_type(env, "payloadType and count must be numbers");
  }
  release_recording(slot);
  if (pt < 0 || pt > 127 || count == 0) return int_value(env, 0);
  napi_valuetype type;
  CHECK(napi_typeof(env, argv[3], &type));
  void *table = NULL, *ids, *t0s;
  size_t length, ids_length, t0s_length;
  if (type != napi_null && (!typed_array(env, argv[3], napi_int16_array, &table, &length) || length < 256)) {
    return throw_type(env, "decodeTable must be an Int16Array of 256 or null");
  }
  if (!typed_array(env, argv[4], napi_int32_array, &ids, &ids_length) || !typed_array(env, argv[5], napi_float64_array, &t0s, &t0s_length) ||
      ids_length < (size_t)count || t0s_length < (size_t)count) {
    return throw_type(env, "timelineIds (Int32Array) and t0s (Float64Array) must hold count entries");
  }
  slot->target_ids = malloc((size_t)count * sizeof(int32_t));
  slot->target_t0 = malloc((size_t)count * sizeof(double));
  if (table != NULL) slot->record_table = malloc(256 * sizeof(int16_t));
  if (slot->target_ids == NULL || slot->target_t0 == NULL || (table != NULL && slot->record_table == NULL)) {
    release_recording(slot);
    return int_value(env, -ENOMEM);
  }
  memcpy(slot->target_ids, ids, (size_t)count * sizeof(int32_t));
  memcpy(slot->target_t0, t0s, (size_t)count * sizeof(double));
  if (table != NULL) memcpy(slot->record_table, table, 256 * sizeof(int16_t));
  slot->record_pt = pt;
  slot->target_count = (uint32_t)count;
  return int_value(env, 0);
}
