# The audit witness: with [audit] witness = file:..., the daemon writes its
# log's head (record count, last hash), signed, at start, at every checkpoint,
# every head_interval seconds and at stop. A log whose unsigned tail was cut
# off, or that was cut back to an earlier checkpoint together with the later
# checkpoints, still verifies by its chain alone; against the witness it is
# found, in all three modes (daemon, --db, export). A forged witness line is
# refused. The daemon's own log is a witness too.
. "$(dirname "$0")/lib.sh"
pg_skip "it edits copies of station.db with sqlite3 and starts stations on those files"

T=$STATE/wit
mkdir -p "$T"
W=$T/witness.log
write_config
sed -i '/^\[station\]/a audit_checkpoint_every = 100000' "$STATE/ukeyd.conf"
cat >> "$STATE/ukeyd.conf" <<EOT
[audit]
witness = file:$W
head_interval = 1
EOT

issue_one() {
	ctl sim plug --bay 1 --wait >/dev/null || fail "token in bay 1 not issued: $(bay_field 1 reason)"
	ctl bay take-pin --bay 1 >/dev/null || fail "take-pin"
	ctl sim unplug --bay 1 >/dev/null
}

# wait_head N: until the witness holds a head of N records
wait_head() {
	local _
	for _ in $(seq 100); do
		grepq " records=$1 " "$W" && return 0
		sleep 0.05
	done
	fail "the witness has no head of $1 records: $(tail -n 2 "$W")"
}

start_station
[ -f "$W" ] || fail "the witness file was not created"
grepq '^ukey-witness/1 station=test-station records=[0-9]* head=[0-9a-f]\{64\} at=[0-9TZ:-]* event=start key=[0-9a-f]\{64\} sig=[0-9a-f]\{128\}$' "$W" ||
	fail "no start line in the witness: $(cat "$W")"
orders_ready
issue_one
ctl audit checkpoint >/dev/null || fail "checkpoint 1"
issue_one
ctl audit checkpoint >/dev/null || fail "checkpoint 2"
issue_one
N=$(db "SELECT max(id) FROM audit")
C1=$(db "SELECT audit_id FROM audit_checkpoints WHERE id = 1")
C2=$(db "SELECT audit_id FROM audit_checkpoints WHERE id = 2")
[ "$(db "SELECT count(*) FROM audit_checkpoints")" = 2 ] || fail "expected 2 checkpoints"
[ "$N" -gt "$C2" ] || fail "no unsigned records after checkpoint 2"
# each checkpoint was witnessed, and the unsigned tail within a second
grepq " records=$C1 .* event=checkpoint " "$W" || fail "checkpoint 1 not witnessed"
grepq " records=$C2 .* event=checkpoint " "$W" || fail "checkpoint 2 not witnessed"
wait_head "$N"
sleep 1.2
[ "$(grep -c " records=$N .* event=interval " "$W")" -ge 1 ] || fail "the head is not written every second"

PUB=$T/pub.pem
ctl audit pubkey > "$PUB" || fail "audit pubkey"
out=$(ctl audit verify --witness "$W") || fail "daemon: an intact log does not verify against the witness: $out"
grepq "^witness: the log holds all [0-9]* heads witnessed (the latest at record $N)\$" <<<"$out" ||
	fail "daemon verify --witness: $out"
# audit.verify refuses a malformed witness argument, naming the item; a
# head the log does not hold is a broken result, not an error
python3 - "$STATE/ukeyd.sock" "$N" "$(db "SELECT hash FROM audit WHERE id = $N")" <<'PY' || fail "raw audit.verify checks"
import json, socket, struct, sys

def ask(args):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(sys.argv[1])
    b = json.dumps({"v": 1, "cmd": "audit.verify", "args": args}).encode()
    s.sendall(struct.pack(">I", len(b)) + b)
    buf = b""
    while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
        chunk = s.recv(65536)
        assert chunk, "connection closed"
        buf += chunk
    s.close()
    return json.loads(buf[4:4 + struct.unpack(">I", buf[:4])[0]])

n, head = int(sys.argv[2]), sys.argv[3]
good = {"line": 1, "records": n, "head": head, "at": "2026-11-21T08:20:00Z"}
r = ask({"witness": [good]})
assert r["ok"] and r["result"]["ok"] and r["result"]["witness"] == {"heads": 1, "records": n}, r
for bad in ({"witness": "x"}, {"witness": [good, dict(good, head=head.upper())]},
            {"witness": [dict(good, records=-1)]}, {"witness": [dict(good, line=0)]},
            {"witness": [dict(good, head=1)]}, {"witness": [{"records": n}]}):
    r = ask(bad)
    assert not r["ok"] and r["error"]["code"] == "invalid" and "argument witness" in r["error"]["message"], (bad, r)
r = ask({"witness": [dict(good, records=n + 1)]})
assert r["ok"] and not r["result"]["ok"] and r["result"]["first_bad"] == n + 1, r
assert "removed from the end" in r["result"]["reason"], r
PY
ctl audit export --output "$T/export.jsonl" 2>/dev/null || fail "audit export"
out=$(ctl audit verify --file "$T/export.jsonl" --pubkey "$PUB" --witness "$W") ||
	fail "export: an intact export does not verify against the witness: $out"
grepq "^audit log OK: $N records, 2 checkpoints, last signed record $C2\$" <<<"$out" || fail "export: $out"

# the power goes: no stop checkpoint, the tail after checkpoint 2 stays unsigned
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=""
db "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
[ "$(db "SELECT max(id) FROM audit")" = "$N" ] || fail "records lost at the kill"
out=$(ctl audit verify --db "$STATE/station.db" --pubkey "$PUB" --witness "$W") ||
	fail "--db: the intact log does not verify against the witness: $out"
grepq "^note: $((N - C2)) records after the last checkpoint are not signed yet" <<<"$out" || fail "--db: $out"
# the daemon's log is a witness too (journald under systemd)
out=$(ctl audit verify --db "$STATE/station.db" --pubkey "$PUB" --witness "$STATE/ukeyd.log") ||
	fail "--db against the daemon's log: $out"
grepq "^witness: the log holds all [0-9]* heads witnessed (the latest at record $N)\$" <<<"$out" ||
	fail "--db against the daemon's log: $out"

# cut_db CASE SQL: a copy of the database with the cut made
cut_db() {
	cp "$STATE/station.db" "$T/$1.db"
	sqlite3 "$T/$1.db" "DROP TRIGGER audit_no_delete; DROP TRIGGER audit_checkpoints_no_delete; $2" ||
		fail "$1: sqlite3"
}
cut_db tail "DELETE FROM audit WHERE id > $C2"
cut_db back "DELETE FROM audit WHERE id > $C1; DELETE FROM audit_checkpoints WHERE id = 2"
# the chain alone cannot tell: both verify
out=$(ctl audit verify --db "$T/tail.db" --pubkey "$PUB") || fail "tail, no witness: $out"
grepq "^audit log OK: $C2 records, 2 checkpoints" <<<"$out" || fail "tail, no witness: $out"
out=$(ctl audit verify --db "$T/back.db" --pubkey "$PUB") || fail "back, no witness: $out"
grepq "^audit log OK: $C1 records, 1 checkpoints" <<<"$out" || fail "back, no witness: $out"

# expect_cut NAME END OUT: OUT names the first record after END as removed
expect_cut() {
	grepq -E "^audit log BROKEN at record $(($2 + 1)): witness line [0-9]+: at [0-9TZ:-]+ the log had [0-9]+ records \(head [0-9a-f]{16}\.\.\.\), but it ends at record $2: records $(($2 + 1)) to [0-9]+ were removed from the end \(truncated\)\$" <<<"$3" ||
		fail "$1: expected the cut after record $2, got: $3"
	echo "found: $1: $3"
}
for c in tail back; do
	end=$C2
	[ $c = back ] && end=$C1
	if out=$(ctl audit verify --db "$T/$c.db" --pubkey "$PUB" --witness "$W"); then
		fail "$c: the cut log verifies against the witness: $out"
	fi
	expect_cut "--db $c" "$end" "$out"
	if out=$(ctl audit verify --db "$T/$c.db" --pubkey "$PUB" --witness "$STATE/ukeyd.log"); then
		fail "$c: the cut log verifies against the daemon's log: $out"
	fi
	expect_cut "--db $c, daemon's log" "$end" "$out"
done
out=$(ctl --json audit verify --db "$T/tail.db" --pubkey "$PUB" --witness "$W") && fail "--json: $out"
grepq "\"first_bad\": *$((C2 + 1))," <<<"$out" || fail "--json: $out"

# the export cut the same ways
E=$T/export.jsonl
KL=$(grep -c '^{"type":"key",' "$E") || fail "no key line in the export"
sed "$((KL + C2 + 1)),$((KL + N))d" "$E" > "$T/tail.jsonl"
sed -e "$((KL + C1 + 1)),$((KL + N))d" -e "$((KL + N + 2))d" "$E" > "$T/back.jsonl"
for c in tail back; do
	end=$C2
	[ $c = back ] && end=$C1
	out=$(ctl audit verify --file "$T/$c.jsonl" --pubkey "$PUB") || fail "export $c, no witness: $out"
	grepq "^audit log OK: $end records" <<<"$out" || fail "export $c, no witness: $out"
	if out=$(ctl audit verify --file "$T/$c.jsonl" --pubkey "$PUB" --witness "$W"); then
		fail "export $c: the cut export verifies against the witness: $out"
	fi
	expect_cut "export $c" "$end" "$out"
done

# a forged witness line (a head moved back to hide a cut) is refused
L=$(grep -n " records=$N " "$W" | tail -n 1 | cut -d: -f1)
sed "${L}s/ records=$N / records=$C2 /" "$W" > "$T/forged.log"
for mode in "--db $T/tail.db --pubkey $PUB" "--file $T/tail.jsonl --pubkey $PUB"; do
	# shellcheck disable=SC2086
	if out=$(ctl audit verify $mode --witness "$T/forged.log"); then fail "forged witness accepted: $out"; fi
	grepq "^audit witness REFUSED: $T/forged.log: witness line $L: signature does not verify (line forged or edited)\$" <<<"$out" ||
		fail "forged witness: $out"
done
echo "found: forged: $out"
# a witness signed by another key is refused
openssl genpkey -algorithm ed25519 -out "$T/other.key" 2>/dev/null
openssl pkey -in "$T/other.key" -pubout -out "$T/other.pub"
if out=$(ctl audit verify --db "$STATE/station.db" --pubkey "$T/other.pub" --witness "$W"); then
	fail "witness verifies with another key: $out"
fi
grepq "^audit witness REFUSED: .*witness line 1: signed by key .*, not by the public key given" <<<"$out" ||
	fail "other key: $out"
if ctl audit verify --db "$STATE/station.db" --pubkey "$PUB" --witness "$T/none.log" 2>/dev/null; then
	fail "a missing witness file verifies"
fi
# a file without witness lines (the wrong file) vouches for nothing
printf 'nothing to see\n' > "$T/empty.log"
if out=$(ctl audit verify --db "$STATE/station.db" --pubkey "$PUB" --witness "$T/empty.log"); then
	fail "a file without witness lines verifies: $out"
fi
grepq "^audit witness REFUSED: $T/empty.log: no witness line (ukey-witness/1) in 1 lines\$" <<<"$out" ||
	fail "empty witness: $out"
expect_exit 66 "cannot read" -- ctl audit verify --db "$STATE/station.db" --pubkey "$PUB" --witness "$T/none.log"

# the daemon's verify, on copies of the state with each cut; each daemon
# writes to its own copy of the witness, which also gets its start line
orig=$STATE
for c in tail back; do
	end=$C2
	[ $c = back ] && end=$C1
	mkdir "$T/state-$c"
	cp -a "$orig/keys" "$orig/ca" "$orig/sim" "$T/state-$c/"
	cp "$T/$c.db" "$T/state-$c/station.db"
	cp "$W" "$T/w-$c.log"
	sed "s|^witness = .*|witness = file:$T/w-$c.log|" "$orig/ukeyd.conf" > "$T/state-$c/ukeyd.conf"
	STATE=$T/state-$c
	start_station
	if out=$(ctl audit verify --witness "$T/w-$c.log"); then
		fail "daemon $c: the cut log verifies against the witness: $out"
	fi
	# the restarted daemon appended records: the first witnessed head past
	# the cut is either gone or no longer the record at its place
	grepq -E "^audit log BROKEN at record [0-9]+: witness line [0-9]+: (at .* the log had [0-9]+ records .*removed from the end|record [0-9]+ differs from the head witnessed at .*rewritten or cut back and grown again)" <<<"$out" ||
		fail "daemon $c: $out"
	bad=$(sed -n 's/^audit log BROKEN at record \([0-9]*\):.*/\1/p' <<<"$out")
	[ "$bad" -gt "$end" ] && [ "$bad" -le "$N" ] || fail "daemon $c: record $bad named, the cut is after $end"
	echo "found: daemon $c: $out"
	# without the witness the chain alone still holds
	out=$(ctl audit verify) || fail "daemon $c, no witness: $out"
	stop_station
	STATE=$orig
done
# a witness that cannot be opened stops the daemon at start
mkdir "$T/state-bad"
sed "s|^witness = .*|witness = file:$T/no/such/dir/w.log|" "$orig/ukeyd.conf" > "$T/state-bad/ukeyd.conf"
if "$BUILD/ukeyd" --state "$T/state-bad" 2>"$T/bad.err"; then fail "ukeyd started without its witness"; fi
grepq "witness file:$T/no/such/dir/w.log: open: No such file or directory" "$T/bad.err" ||
	fail "no message about the witness: $(cat "$T/bad.err")"
echo "PASS: $N records, checkpoints at $C1 and $C2; cuts found in the database, the export and by the daemon"
