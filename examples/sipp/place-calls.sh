#!/usr/bin/env bash
# Places N concurrent SIP calls through a running Capstan with sipp on both sides: a callee (sipp's
# uas scenario on port 5070, where examples/sipp/capstan.config.json routes 800...) and a caller
# (uac_pcap, playing sipp's G.711 sample and a DTMF digit). Every call is recorded by the default
# recorder policy; when they end, list them: curl http://127.0.0.1:8080/api/v1/recordings
#
#   npx capstan start --config examples/sipp/capstan.config.json     # in one terminal
#   examples/sipp/place-calls.sh 20                                   # in another
#
# Options (environment): CAPSTAN_SIP=127.0.0.1:5060, RATE=10 (calls started per second).
set -euo pipefail
calls="${1:-10}"
target="${CAPSTAN_SIP:-127.0.0.1:5060}"
rate="${RATE:-10}"
command -v sipp >/dev/null || { echo "sipp is needed (Debian: apt-get install sip-tester)" >&2; exit 2; }
work="$(mktemp -d)"
trap 'kill "$callee" 2>/dev/null || true; rm -rf "$work"' EXIT
# sipp's scenarios find their pcaps under ./pcap
ln -s /usr/share/sip-tester "$work/pcap"
cd "$work"
sipp -nostdin -sn uas -i 127.0.0.1 -p 5070 -mp 6100 -m "$calls" >/dev/null 2>&1 &
callee=$!
sleep 0.5
echo "placing $calls calls to $target at $rate/s (each about 10 s of audio)..."
if sipp -nostdin -sn uac_pcap "$target" -s 800100 -i 127.0.0.1 -p 5061 -mp 6200 -r "$rate" -l "$calls" -m "$calls" >/dev/null 2>&1; then
  echo "all $calls calls completed"
else
  echo "some calls failed (run sipp by hand with -trace_err to see why)" >&2
  exit 1
fi
wait "$callee" || true
