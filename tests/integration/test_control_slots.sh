# The control socket under load: hundreds of idle connections of a user
# without a role and of root, and clients that never read their replies, do
# not keep a user with a role from being served; idle connections are closed
# after station.client_timeout; a refused connection is told why; ukeyctl
# reports a daemon that closes the connection (exit 75), never dies of SIGPIPE.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || fail "this test runs ukeyctl as other users and must run as root"
command -v runuser >/dev/null || fail "runuser is not installed"
for u in nobody daemon; do
	id "$u" >/dev/null 2>&1 || fail "system account $u is missing"
done

TIMEOUT=8	# the calls below must be served well before an idle connection times out, also on a loaded machine
write_config
sed -i "s/^\[station\]\$/[station]\nclient_timeout = $TIMEOUT/" "$STATE/ukeyd.conf"
cat >> "$STATE/ukeyd.conf" <<EOT
[roles]
operator = daemon
EOT
start_station

share_station

# hog.py MODE SOCKET N SECONDS: opens N connections and prints "ready" once
# they are open, then watches them for SECONDS and prints a JSON summary:
# how many the daemon closed and the error codes of the frames it sent.
# MODE idle: nothing sent (every fifth sends half a frame header);
# MODE slow: each sends many pings and reads nothing until the end.
cat > "$STATE/bin/hog.py" <<'PY'
import json, os, select, socket, struct, sys, time

mode, path, n, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
conns = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.setblocking(False)
    if mode == "idle" and i % 5 == 0:
        s.send(b"\x00\x00")
    if mode == "slow":
        req = json.dumps({"v": 1, "cmd": "ping"}).encode()
        burst = (struct.pack(">I", len(req)) + req) * 8000
        try:
            s.send(burst)
        except BlockingIOError:
            pass
    conns.append(s)
print("ready", flush=True)
if mode == "slow":
    time.sleep(secs)	# replies pile up unread
buf = {s: b"" for s in conns}
closed = set()
end = time.monotonic() + (secs if mode == "idle" else 5)
while len(closed) < len(conns) and time.monotonic() < end:
    live = [s for s in conns if s not in closed]
    r, _, _ = select.select(live, [], [], 0.2)
    for s in r:
        try:
            d = s.recv(1 << 16)
        except (ConnectionResetError, BrokenPipeError):
            d = b""
        if d:
            buf[s] += d
        else:
            closed.add(s)
codes = {}
for s in conns:
    b = buf[s]
    while len(b) >= 4:
        (ln,) = struct.unpack(">I", b[:4])
        if len(b) < 4 + ln:
            break
        rep = json.loads(b[4:4 + ln])
        b = b[4 + ln:]
        if not rep["ok"]:
            codes[rep["error"]["code"]] = codes.get(rep["error"]["code"], 0) + 1
            codes["last:" + rep["error"]["code"]] = rep["error"]["message"]
print(json.dumps({"opened": len(conns), "closed": len(closed), "codes": codes}), flush=True)
PY

hog() {	# hog USER MODE N SECONDS OUTFILE: in the background
	(cd / && runuser -u "$1" -- python3 "$STATE/bin/hog.py" "$2" "$STATE/ukeyd.sock" "$3" "$4") \
		> "$5" 2>&1 &
}

wait_ready() {	# wait_ready OUTFILE
	for _ in $(seq 200); do
		grepq '^ready' "$1" && return 0
		sleep 0.05
	done
	fail "hog did not open its connections: $(cat "$1")"
}

summary() {	# summary OUTFILE: waits for the hog's JSON line
	for _ in $(seq 400); do
		if grepq '^{' "$1"; then
			grep '^{' "$1"
			return 0
		fi
		sleep 0.05
	done
	fail "hog did not finish: $(cat "$1")"
}

# --- 200 idle connections of a user without a role, then 200 of root
hog nobody idle 200 $((TIMEOUT + 4)) "$STATE/hog-nobody.out"
wait_ready "$STATE/hog-nobody.out"
hog root idle 200 $((TIMEOUT + 4)) "$STATE/hog-root.out"
wait_ready "$STATE/hog-root.out"

t0=$(date +%s%N)
out=$(as daemon --json status) || fail "status as an operator failed with 400 idle connections open"
python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["user"] == "daemon" and r["roles"] == ["operator"], r' "$out" ||
	fail "status as daemon: $out"
as daemon bays >/dev/null || fail "bays as an operator failed with 400 idle connections open"
ctl status >/dev/null || fail "status as root failed"
as nobody status >/dev/null || fail "status as nobody failed: the oldest idle role-less connection should give way"
t1=$(date +%s%N)
[ $(((t1 - t0) / 1000000)) -lt $((TIMEOUT * 1000)) ] || fail "the status calls took $(((t1 - t0) / 1000000)) ms"

# every idle connection is closed, the last ones after the deadline with a
# timeout frame, the others to make room (busy frames naming the rule)
for f in nobody root; do
	s=$(summary "$STATE/hog-$f.out")
	python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["opened"] == 200 and r["closed"] == 200, r
c = r["codes"]
assert c.get("timeout", 0) >= 1, r
assert "no complete request within '"$TIMEOUT"' s" in c["last:timeout"], r
assert c.get("busy", 0) >= 150, r
assert "connections at a time" in c["last:busy"], r' "$s" || fail "idle connections of $f: $s"
done
grepq "users without a role may hold 8 connections at a time" "$STATE/ukeyd.log" ||
	fail "no log line for the role-less connections closed to make room"
grepq "user root may hold 16 connections at a time" "$STATE/ukeyd.log" ||
	fail "no log line for root's connections closed to make room"

# --- clients that never read their replies: the loop goes on, and once
# every role-less slot is held by one, a new role-less connection is
# refused with a busy frame (exit 75) while a user with a role is served
hog nobody slow 8 $((TIMEOUT + 2)) "$STATE/hog-slow.out"
wait_ready "$STATE/hog-slow.out"
sleep 0.5
expect_exit 75 "users without a role may hold 8 connections at a time and none is idle" -- \
	as nobody status
t0=$(date +%s%N)
as daemon status >/dev/null || fail "status as an operator failed while 8 clients do not read"
t1=$(date +%s%N)
[ $(((t1 - t0) / 1000000)) -lt 2000 ] || fail "status took $(((t1 - t0) / 1000000)) ms: the loop stalled"
s=$(summary "$STATE/hog-slow.out")
python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["opened"] == 8 and r["closed"] == 8, r' "$s" || fail "slow readers were not closed: $s"
grepq "has not read its reply for $TIMEOUT s; closed" "$STATE/ukeyd.log" ||
	fail "no log line for the slow readers"
as nobody status >/dev/null || fail "status as nobody after the slow readers were closed"
kill -0 "$DAEMON_PID" || fail "ukeyd died"
stop_station

# --- ukeyctl against a daemon that closes the connection: in the middle of
# a request larger than the socket takes (the write fails: EPIPE, formerly
# death by SIGPIPE, exit 141), and after reading a request without replying
cat > "$STATE/bin/closer.py" <<'PY'
import socket, sys, time
path, how = sys.argv[1], sys.argv[2]
l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
l.bind(path)
l.listen(4)
print("ready", flush=True)
c, _ = l.accept()
time.sleep(0.2)
if how == "no-reply":
    c.recv(1 << 16)
c.close()
time.sleep(1)
PY
big=$(mktemp /tmp/ukey-big.XXXXXX.json)
python3 -c 'import sys; sys.stdout.write("[" + ",".join(["{\"portal_ref\": \"x\"}"] * 100000) + "]")' > "$big"
for how in mid-request no-reply; do
	rm -f "$STATE/fake.sock"
	python3 "$STATE/bin/closer.py" "$STATE/fake.sock" "$how" > "$STATE/closer.out" 2>&1 &
	fake=$!
	wait_ready "$STATE/closer.out"
	set +e
	if [ "$how" = mid-request ]; then
		out=$("$BUILD/ukeyctl" --socket "$STATE/fake.sock" order import "$big" 2>&1)
	else
		out=$("$BUILD/ukeyctl" --socket "$STATE/fake.sock" status 2>&1)
	fi
	rc=$?
	set -e
	wait "$fake" || true
	[ "$rc" = 75 ] || fail "ukeyctl against a daemon closing ($how): exit $rc (want 75): $out"
	grepq "daemon closed the connection" <<<"$out" || fail "ukeyctl message ($how): $out"
	echo "$how: $out"
done
rm -f "$big"
echo "PASS"
