#!/bin/bash
# CPU and RSS of the answering side of one 60 s call: baresip vs okno-phone, each sending a
# WAV and discarding what it receives (no sound device). The caller is a release okno-phone.
# CODEC=pcmu (default) or CODEC=opus.
# Needs: baresip (Debian baresip-core), python3, `cargo build --release -p okno-phone`.
set -euo pipefail
CODEC="${CODEC:-pcmu}"
case "$CODEC" in
  pcmu) BARESIP_CODEC=PCMU; BARESIP_OPUS="" ;;
  # baresip set up like okno-phone: 24 kbit/s, in-band FEC planned for 10 % loss, voip mode.
  opus) BARESIP_CODEC=opus/48000/2
        BARESIP_OPUS=$'opus_bitrate 24000\nopus_inbandfec yes\nopus_packet_loss 10\nopus_application voip' ;;
  *) echo "CODEC must be pcmu or opus" >&2; exit 2 ;;
esac
B="${CARGO_TARGET_DIR:-target}/release/okno-phone"
DIR=$(mktemp -d)
cd "$DIR"
python3 - <<'PY'
import wave, struct, math
w = wave.open('tone.wav', 'wb'); w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
w.writeframes(b''.join(struct.pack('<h', int(8000 * math.sin(2 * math.pi * 440 * i / 8000))) for i in range(8000 * 75)))
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
measure() { # callee pid, callee port
  sleep 0.3
  "$B" --listen udp:127.0.0.1:25081 --codecs "$CODEC" --call "sip:bob@127.0.0.1:$2" --play tone.wav --hangup-after-ms 60000 --json-events > "caller-$2.jsonl" 2>/dev/null &
  local c=$!
  sleep 2; local t0 s0 t1 s1
  t0=$(awk '{print $14+$15}' "/proc/$1/stat"); s0=$(date +%s.%N)
  sleep 55
  t1=$(awk '{print $14+$15}' "/proc/$1/stat"); s1=$(date +%s.%N)
  echo "cpu% $(python3 -c "print(round(($t1-$t0)/($s1-$s0),3))") rss $(awk '/VmRSS/{print $2}' "/proc/$1/status") kB"
  wait $c
}
baresip -f "$DIR" > baresip.log 2>&1 < /dev/null & bp=$!; sleep 1.5
echo -n "baresip:    "; measure $bp 25080; kill $bp
"$B" --listen udp:127.0.0.1:25082 --codecs "$CODEC" --auto-answer --play tone.wav > callee.jsonl 2>/dev/null & op=$!
echo -n "okno-phone: "; measure $op 25082; kill -INT $op
