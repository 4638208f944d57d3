#!/usr/bin/env python3
# Usage: python3 docs/bench/dovecot-idle-probe.py PORT USER PASSWORD  (a Dovecot with that account;
# the mail bench starts one, or see ../shared/TESTING.md). Prints p50/p99/min over 50 messages.
# Dovecot's own IDLE delay: from APPEND answered on one connection to "* N EXISTS" on another.
import sys, time, imaplib
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
idle = imaplib.IMAP4('127.0.0.1', port); idle.login(user, pw); idle.select('INBOX')
sock = idle.socket(); tag = idle._new_tag().decode()
idle.send(f'{tag} IDLE\r\n'.encode()); assert idle.readline().startswith(b'+')
app = imaplib.IMAP4('127.0.0.1', port); app.login(user, pw)
samples = []
for n in range(50):
    msg = f'From: a@b.c\r\nSubject: probe {n}\r\nMessage-ID: <probe-{n}-{time.time()}@x>\r\n\r\nhi\r\n'.encode()
    app.append('INBOX', None, None, msg); t0 = time.monotonic()
    while True:
        line = idle.readline()
        if b'EXISTS' in line: break
    samples.append((time.monotonic() - t0) * 1000); time.sleep(0.02)
samples.sort()
print(f"dovecot IDLE alone: p50 {samples[len(samples)//2]:.0f} ms, p99 {samples[int(len(samples)*0.99)-1]:.0f} ms, min {samples[0]:.0f} ms over {len(samples)}")
