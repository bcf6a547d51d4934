#!/bin/bash
# ukeyctl watch: the full-screen view, run in a detached tmux of fixed size,
# follows an order of two certificates through two simulated bays to done
# from the frames the daemon pushes (watch.subscribe); the plain snapshot
# when stdout is not a terminal (and with --once); a pushed frame arrives
# soon after a change; a watching connection takes no other request; a
# subscriber that never reads does not hold production up; q and Ctrl-C
# end the view with status 0.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

command -v tmux >/dev/null || fail "tmux is not installed"

# tmux on its own socket in the test's directory, killed at the end
TMUX_SOCK=$STATE/tmux.sock
tx() { tmux -S "$TMUX_SOCK" "$@"; }
trap 'rc=$?; set +e; tx kill-server >/dev/null 2>&1; [ -z "${PEER_PID:-}" ] ||
	kill "$PEER_PID" 2>/dev/null; (exit $rc); cleanup' EXIT

# screen SESSION: what the pane shows now
screen() { tx capture-pane -p -t "$1"; }

# wait_screen SESSION PATTERN [SECONDS]: until the pane shows PATTERN (ERE)
wait_screen() {
	local i n=$(( ${3:-20} * 20 ))
	for ((i = 0; i < n; i++)); do
		grepq -E -- "$2" <<<"$(screen "$1")" && return 0
		sleep 0.05
	done
	fail "the watch screen never showed '$2'; it shows:
$(screen "$1")"
}

# bay_line SCREEN N: the line of bay N on a captured screen
bay_line() { grep -E "^ +$2 " <<<"$1" || true; }

# watch_in SESSION WIDTH HEIGHT: ukeyctl watch in a new detached session
# of that size; its exit status goes to $STATE/SESSION.rc and the pane
# stays, showing what the terminal was left with
watch_in() {
	tx new-session -d -s "$1" -x "$2" -y "$3" \
		"$BUILD/ukeyctl --state $STATE watch; echo \$? >$STATE/$1.rc" \; \
		set-option -w -t "$1" remain-on-exit on
}

# exit_of SESSION: the watch in it has exited: its exit status
exit_of() {
	local i
	for i in $(seq 100); do
		[ -s "$STATE/$1.rc" ] && { cat "$STATE/$1.rc"; return 0; }
		sleep 0.05
	done
	fail "ukeyctl watch in $1 did not exit: $(screen "$1")"
}

# a short deadline, for the subscriber below that stops reading
TIMEOUT=10
write_config
sed -i "s/^\[station\]\$/[station]\nclient_timeout = $TIMEOUT/" "$STATE/ukeyd.conf"
start_station
watch_in w1 120 40
wait_screen w1 '^BAY +STATE +TOKEN'
wait_screen w1 '^ +4 empty'
wait_screen w1 'Queue: 0 queued, 0 held, 0 in production'
wait_screen w1 'Health: CA \(embedded\) reachable; database ok; sources: sim running'

# ---- an order of two certificates: the queue on the screen follows it
python3 "$SRC/tests/integration/orders_gen.py" "$SRC/examples/orders-sample.json" \
	"$STATE/two.json" WATCH-1:0:organisation=1x1,legal_rep=1x1
ctl order import "$STATE/two.json" >/dev/null || fail "import the order"
id=$(db "SELECT id FROM orders WHERE portal_ref = 'WATCH-1'")
ctl order approve "$id" >/dev/null || fail "approve"
wait_screen w1 'Queue: 0 queued, 0 held, 0 in production'
ctl order pay "$id" --payment-no 202611210000000000000000000001 >/dev/null || fail "pay"
wait_screen w1 'Queue: 2 queued, 0 held, 0 in production' 5

# ---- two virtual tokens: both bars go through the steps to done
ctl sim plug --bay 1 >/dev/null || fail "plug bay 1"
ctl sim plug --bay 2 >/dev/null || fail "plug bay 2"
partial="" done1="" done2=""
for _ in $(seq 1200); do
	s=$(screen w1)
	l1=$(bay_line "$s" 1)
	l2=$(bay_line "$s" 2)
	for l in "$l1" "$l2"; do
		if grepq -E '\[#+-+\] [1-8]/9 [a-z_]+' <<<"$l"; then
			partial="$partial
$l"
		fi
	done
	grepq -E '\[##########\] 9/9 done' <<<"$l1" && done1=$l1
	grepq -E '\[##########\] 9/9 done' <<<"$l2" && done2=$l2
	[ -n "$done1" ] && [ -n "$done2" ] && break
	sleep 0.05
done
[ -n "$done1" ] && [ -n "$done2" ] || fail "the bars did not reach done:
$(screen w1)"
[ -n "$partial" ] || fail "no bar was seen part of the way"
printf 'bars seen on the way:%s\n' "$(sort -u <<<"$partial")"
for n in 1 2; do
	serial=$(bay_field "$n" token_serial)
	[ -n "$serial" ] || fail "bay $n has no token serial"
	l=$(bay_line "$(screen w1)" "$n")
	grepq -E "^ +$n done +SoftHSM v2 $serial WATCH-1 " <<<"$l" || fail "bay $n line: $l"
	# issued, and the user PIN waits to be shown
	grepq -E ' waiting$' <<<"$l" || fail "bay $n: PIN not shown as waiting: $l"
done
wait_screen w1 'Queue: 0 queued, 0 held, 0 in production'
wait_screen w1 '^  [0-9:]+ arrived sim sim-2 virtual token'
# the PIN shown: pushed although the bay's state stays done
ctl bay take-pin --bay 1 >/dev/null || fail "take the PIN of bay 1"
for _ in $(seq 100); do
	grepq -E ' waiting$' <<<"$(bay_line "$(screen w1)" 1)" || break
	sleep 0.05
done
! grepq -E ' waiting$' <<<"$(bay_line "$(screen w1)" 1)" || fail "bay 1 still waits for its PIN"
grepq -E ' waiting$' <<<"$(bay_line "$(screen w1)" 2)" || fail "bay 2's PIN no longer waiting"

# ---- q ends the view, status 0; Ctrl-C too
tx send-keys -t w1 q
[ "$(exit_of w1)" = 0 ] || fail "watch after q: exit $(exit_of w1)"
watch_in w2 100 30
wait_screen w2 '^BAY +STATE'
tx send-keys -t w2 C-c
[ "$(exit_of w2)" = 0 ] || fail "watch after Ctrl-C: exit $(exit_of w2)"
# the terminal is given back: off the alternate screen, the view is gone
! grepq '^BAY +STATE' <<<"$(screen w2)" || fail "the view stayed on the screen after Ctrl-C"

# ---- not a terminal: one snapshot, and the same with --once
out=$(timeout 10 "$BUILD/ukeyctl" --state "$STATE" watch) || fail "watch into a pipe: exit $?"
grepq -E '^ +2 done .* 9/9 done' <<<"$out" || fail "watch into a pipe: $out"
grepq 'Queue: 0 queued, 0 held, 0 in production' <<<"$out" || fail "watch into a pipe: $out"
out=$(timeout 10 "$BUILD/ukeyctl" --state "$STATE" watch --once) || fail "watch --once: exit $?"
grepq -E '^ +1 done .*WATCH-1' <<<"$out" || fail "watch --once: $out"
timeout 10 "$BUILD/ukeyctl" --state "$STATE" --json watch --once >"$STATE/once.json" ||
	fail "--json watch --once"
python3 - "$STATE/once.json" <<'EOF' || fail "watch --json --once: $(cat "$STATE/once.json")"
import json, sys
s = json.load(open(sys.argv[1]))
b = {x["bay"]: x for x in s["bays"]}
assert b[1]["done"] and b[2]["done"] and b[1]["step_no"] == 9 == b[1]["steps"], b
assert b[1]["portal_ref"] == "WATCH-1" and b[1]["job_state"] == "issued", b[1]
assert not b[1]["pin_waiting"] and b[2]["pin_waiting"], b
assert b[3]["state"] == "empty" and "job" not in b[3], b[3]
assert s["queue"] == {"queued": 0, "held": 0, "in_production": 0}, s["queue"]
assert s["health"]["database"]["ok"] and s["health"]["ca"]["reachable"], s["health"]
assert any(e["kind"] == "arrived" for e in s["events"]), s["events"]
EOF

# ---- pushed, not polled: a change reaches a subscriber at once; a
# watching connection takes no other request
cat >"$STATE/peer.py" <<'EOF'
import fcntl, json, os, socket, struct, subprocess, sys, termios, time

def send(s, obj):
    b = json.dumps(obj).encode()
    s.sendall(struct.pack(">I", len(b)) + b)

def recv(s):
    def exact(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                raise SystemExit("daemon closed the connection")
            b += c
        return b
    return json.loads(exact(struct.unpack(">I", exact(4))[0]))

mode, sock = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
send(s, {"v": 1, "cmd": "watch.subscribe"})
first = recv(s)
assert first["ok"] and first["result"]["bays"], first
if mode == "idle":
    # never reads again; says how many bytes wait unread in its socket
    print("subscribed", flush=True)
    while True:
        n = struct.unpack("i", fcntl.ioctl(s, termios.FIONREAD, b"\0\0\0\0"))[0]
        with open(sys.argv[3] + ".tmp", "w") as f:
            f.write("%d\n" % n)
        os.replace(sys.argv[3] + ".tmp", sys.argv[3])
        time.sleep(0.1)
ctl = sys.argv[3:]
t0 = time.monotonic()
subprocess.run(ctl + ["sim", "unplug", "--bay", "1"], check=True, stdout=subprocess.DEVNULL)
t1 = time.monotonic()
s.settimeout(5)
while True:
    f = recv(s)
    assert "watch" in f, f
    if f["watch"]["bays"][0]["state"] == "empty":
        break
t2 = time.monotonic()
print("frame %.0f ms after the unplug began, %.0f ms after its reply" %
      ((t2 - t0) * 1000, (t2 - t1) * 1000))
# a generous bound for a loaded machine; the daemon sends within 50 ms
assert t2 - t1 < 1.0, t2 - t1
send(s, {"v": 1, "cmd": "ping"})
while True:
    f = recv(s)
    if "watch" not in f:
        break
assert not f["ok"] and f["error"]["code"] == "state", f
assert "watches the floor" in f["error"]["message"], f
EOF
python3 "$STATE/peer.py" push "$STATE/ukeyd.sock" "$BUILD/ukeyctl" --state "$STATE" ||
	fail "pushed frame"

# ---- a subscriber that never reads holds nobody up, and is closed once a
# frame has waited unread for station.client_timeout
python3 "$SRC/tests/integration/orders_gen.py" "$SRC/examples/orders-sample.json" \
	"$STATE/more.json" WATCH-2:0:organisation=1x1
ctl order import "$STATE/more.json" >/dev/null || fail "import the second order"
id=$(db "SELECT id FROM orders WHERE portal_ref = 'WATCH-2'")
ctl order approve "$id" >/dev/null || fail "approve the second order"
python3 "$STATE/peer.py" idle "$STATE/ukeyd.sock" "$STATE/unread" >"$STATE/idle.out" 2>&1 &
PEER_PID=$!
for _ in $(seq 100); do
	grepq subscribed "$STATE/idle.out" && break
	sleep 0.05
done
grepq subscribed "$STATE/idle.out" || fail "idle subscriber: $(cat "$STATE/idle.out")"
# changes enough to fill its socket: tokens in and out of bay 4 (nothing
# is queued for them), until what waits unread for it stops growing: the
# daemon then holds a frame it cannot write
t0=$SECONDS last="" same=0
while [ "$same" -lt 3 ]; do
	[ $((SECONDS - t0)) -lt 90 ] || fail "the subscriber's socket never filled: $(cat "$STATE/unread")"
	ctl sim plug --bay 4 --wait --timeout 10 >/dev/null || fail "plug bay 4"
	ctl sim unplug --bay 4 >/dev/null || fail "unplug bay 4"
	sleep 0.2
	n=$(cat "$STATE/unread")
	if [ "$n" = "$last" ] && [ "$n" -gt 0 ]; then same=$((same + 1)); else same=0; fi
	last=$n
done
echo "$n bytes unread by the subscriber after $((SECONDS - t0)) s"
# a certificate is made meanwhile, and the daemon answers as ever
ctl order pay "$id" --payment-no 202611210000000000000000000002 >/dev/null || fail "pay"
start=$(date +%s%N)
timeout 60 "$BUILD/ukeyctl" --state "$STATE" sim plug --bay 3 --wait >/dev/null ||
	fail "bay 3 not issued: $(bay_field 3 reason)"
echo "bay 3 issued in $(( ($(date +%s%N) - start) / 1000000 )) ms beside the subscriber that does not read"
[ "$(bay_field 3 state)" = done ] || fail "bay 3: $(bay_field 3 state) $(bay_field 3 reason)"
timeout 5 "$BUILD/ukeyctl" --state "$STATE" status >/dev/null || fail "daemon slow to answer"
[ "$(cat "$STATE/unread")" = "$n" ] || fail "the subscriber's unread bytes changed: not stuck"
# and it is closed after station.client_timeout
for _ in $(seq $((TIMEOUT * 20 + 200))); do
	grepq "pid $PEER_PID) has not read its reply for $TIMEOUT s; closed" "$STATE/ukeyd.log" && break
	sleep 0.05
done
grepq "pid $PEER_PID) has not read its reply for $TIMEOUT s; closed" "$STATE/ukeyd.log" ||
	fail "the subscriber that does not read was not closed"
kill "$PEER_PID" 2>/dev/null || true
wait "$PEER_PID" 2>/dev/null || true
PEER_PID=""

stop_station
echo "test_watch: ok"
