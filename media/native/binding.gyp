{
  "targets": [
    {
      "target_name": "capstan_udp",
      "sources": ["udp_set.c", "recording_targets.c", "leg_timeline.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    },
    {
      "target_name": "capstan_fs",
      "sources": ["fs_sync.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
