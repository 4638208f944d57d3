#!/bin/bash
# CPU and RSS of the answering side of one call: baresip vs okno-phone, each sending a WAV and
# discarding what it receives (no sound device). The caller is a release okno-phone.
#
#   cargo build --release -p okno-phone && docs/bench/cpu-vs-baresip.sh
#
# CODEC=pcmu (default) or CODEC=opus; SECONDS_MEASURED=55 (default) is how long each side is
# measured, inside a call that lasts 5 s longer; OKNO_PHONE=path picks another okno-phone build.
# Needs: baresip (Debian baresip-core), python3.
#
# A figure is printed only for a side that really took the call: the caller must have been
# answered, have received audio from it and hung up cleanly, and the side must have used CPU;
# otherwise the script says what went wrong and exits 1. Everything it starts is stopped on exit.
set -euo pipefail
CODEC="${CODEC:-pcmu}"
MEASURE="${SECONDS_MEASURED:-55}"
case "$CODEC" in
  pcmu) BARESIP_CODEC=PCMU; BARESIP_OPUS="" ;;
  # baresip set up like okno-phone: 24 kbit/s, in-band FEC planned for 10 % loss, voip mode.
  opus) BARESIP_CODEC=opus/48000/2
        BARESIP_OPUS=$'opus_bitrate 24000\nopus_inbandfec yes\nopus_packet_loss 10\nopus_application voip' ;;
  *) echo "CODEC must be pcmu or opus" >&2; exit 2 ;;
esac
fail() {
  echo "cpu-vs-baresip: $*" >&2
  if [ -s "${DIR:-/nonexistent}/baresip.log" ]; then echo "--- baresip's log:" >&2; tail -n 20 "$DIR/baresip.log" >&2; fi
  exit 1
}

# Resolve the binary before leaving the checkout: a relative target dir means nothing after `cd`.
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
case "$TARGET" in /*) ;; *) TARGET="$REPO/$TARGET" ;; esac
B="${OKNO_PHONE:-$TARGET/release/okno-phone}"
[ -x "$B" ] || fail "no okno-phone at $B: run 'cargo build --release -p okno-phone' first (or set OKNO_PHONE)"
B="$(cd "$(dirname "$B")" && pwd)/$(basename "$B")"
command -v baresip >/dev/null || fail "baresip is not installed (Debian: apt-get install baresip-core)"
command -v python3 >/dev/null || fail "python3 is needed"

DIR=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$DIR"
}
trap cleanup EXIT
cd "$DIR"
python3 - "$((MEASURE + 20))" <<'PY'
import wave, struct, math, sys
seconds = int(sys.argv[1])
w = wave.open('tone.wav', 'wb'); w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
w.writeframes(b''.join(struct.pack('<h', int(8000 * math.sin(2 * math.pi * 440 * i / 8000))) for i in range(8000 * seconds)))
w.close()
PY
cat > config <<CFG
sip_listen 127.0.0.1:25080
net_interface 127.0.0.1
audio_source aufile,$DIR/tone.wav
audio_player aufile,/dev/null
audio_alert aufile,/dev/null
ausrc_srate 8000
ausrc_channels 1
auplay_srate 8000
auplay_channels 1
module_path /usr/lib/baresip/modules
module g711.so
module opus.so
module aufile.so
module_app account.so
module_app menu.so
$BARESIP_OPUS
CFG
echo "<sip:bob@127.0.0.1:25080>;regint=0;answermode=auto;audio_codecs=$BARESIP_CODEC" > accounts

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || fail "$2 (pid $1) is not running"; }

measure() { # name, callee pid, callee port
  local name=$1 pid=$2 port=$3
  sleep 0.3
  kill -0 "$pid" 2>/dev/null || fail "$name did not start (see its log in the output above)"
  "$B" --listen udp:127.0.0.1:25081 --codecs "$CODEC" --call "sip:bob@127.0.0.1:$port" --play tone.wav \
    --hangup-after-ms "$(( (MEASURE + 5) * 1000 ))" --json-events > "caller-$port.jsonl" 2>"caller-$port.err" &
  local caller=$!
  sleep 2
  local t0 s0 t1 s1 rss
  t0=$(cpu_ticks "$pid" "$name"); s0=$(date +%s.%N)
  sleep "$MEASURE"
  t1=$(cpu_ticks "$pid" "$name"); s1=$(date +%s.%N)
  rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
  wait "$caller" || fail "the call to $name was not answered or did not end cleanly: $(tail -c 600 "caller-$port.jsonl" "caller-$port.err")"
  grep -q '"packets_received":[1-9]' "caller-$port.jsonl" || fail "no audio came back from $name: $(tail -c 600 "caller-$port.jsonl")"
  # That the side ran the call is shown by the audio it sent back (above). A fraction of a
  # percent of a core over a short window can stay under one clock tick (10 ms): said, not failed.
  [ "$t1" -gt "$t0" ] || echo "note: $name used less than one clock tick (10 ms) in ${MEASURE} s" >&2
  printf '%-11s cpu%% %s rss %s kB\n' "$name:" "$(python3 -c "print(round(($t1-$t0)/($s1-$s0),3))")" "$rss"
}

baresip -f "$DIR" > baresip.log 2>&1 < /dev/null &
PIDS+=($!); sleep 1.5
measure baresip "${PIDS[-1]}" 25080
kill "${PIDS[-1]}"

"$B" --listen udp:127.0.0.1:25082 --codecs "$CODEC" --auto-answer --play tone.wav > callee.jsonl 2>callee.err &
PIDS+=($!)
measure okno-phone "${PIDS[-1]}" 25082
kill -INT "${PIDS[-1]}"
