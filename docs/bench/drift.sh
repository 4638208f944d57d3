#!/bin/bash
# A one-hour call between two okno-phones (PCMU, 440 Hz played by the caller); prints
# "unix-time RSS-A-kB RSS-B-kB cpu-ticks-A cpu-ticks-B" every 30 s.
# Needs python3 and a built okno-phone (debug by default; OKNO_PHONE=path to choose).
set -euo pipefail
# Resolve the binary before leaving the checkout: a relative target dir means nothing after `cd`.
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
case "$TARGET" in /*) ;; *) TARGET="$REPO/$TARGET" ;; esac
P="${OKNO_PHONE:-$TARGET/debug/okno-phone}"
[ -x "$P" ] || { echo "drift: no okno-phone at $P: run 'cargo build -p okno-phone' first (or set OKNO_PHONE)" >&2; exit 1; }
P="$(cd "$(dirname "$P")" && pwd)/$(basename "$P")"
DIR=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done; sleep 1; rm -rf "$DIR"; }
trap cleanup EXIT
cd "$DIR"
python3 -c "
import wave, struct, math
w = wave.open('tone.wav', 'wb'); w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
w.writeframes(b''.join(struct.pack('<h', int(8000 * math.sin(2 * math.pi * 440 * i / 8000))) for i in range(8000 * 3600)))
w.close()"
"$P" --listen udp:127.0.0.1:25070 --auto-answer --json-events > a.jsonl 2>a.err & a=$!; PIDS+=($a)
sleep 0.5
"$P" --listen udp:127.0.0.1:25071 --call sip:a@127.0.0.1:25070 --play tone.wav --json-events > b.jsonl 2>b.err & b=$!; PIDS+=($b)
for _ in $(seq 0 121); do
  kill -0 "$a" 2>/dev/null && kill -0 "$b" 2>/dev/null || { echo "drift: a phone stopped: $(tail -c 400 a.err b.err)" >&2; exit 1; }
  echo "$(date +%s) $(awk '/VmRSS/{print $2}' /proc/$a/status) $(awk '/VmRSS/{print $2}' /proc/$b/status)" \
       "$(awk '{print $14+$15}' /proc/$a/stat) $(awk '{print $14+$15}' /proc/$b/stat)"
  sleep 30
done
kill -INT $b; sleep 2; kill -INT $a
