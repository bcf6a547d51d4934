# Secrets stay secret: a demo-like flow (orders imported, approved, paid,
# several tokens issued, each initial user PIN taken once) with every ukeyctl
# request going through a socat relay that records both directions. The test
# then learns every SO PIN the station set (unsealed from station.db with the
# master key by tests/tools/unseal_pins), every user PIN (from its one
# take-pin reply) and every full resident ID number of the order file, and
# looks for each of them, as text, hex and base64, in the daemon's and the
# workers' log, station.db with its -wal and -shm (with UKEY_TEST_STORE=pg:
# pg_dump's text of the database and the server's log), the CA's ca.db and the
# socket capture. Allowed: each user PIN exactly once in the capture (its
# take-pin reply), and the ID numbers in the order import request (the
# order file itself) — never in a reply, a log or the database, where orders
# keep them masked and sealed (docs/orders-lifecycle.md, "Personal data").
. "$(dirname "$0")/lib.sh"
command -v socat >/dev/null || fail "socat is not installed"

start_station
RELAY=$STATE/relay.sock
CAP=$STATE/capture.txt
setsid socat -v UNIX-LISTEN:"$RELAY",fork UNIX-CONNECT:"$STATE/ukeyd.sock" 2>"$CAP" &
RELAY_PID=$!
trap 'rc=$?; kill -- -"$RELAY_PID" 2>/dev/null || true; (exit $rc); cleanup' EXIT
for _ in $(seq 200); do [ -S "$RELAY" ] && break; sleep 0.05; done
[ -S "$RELAY" ] || fail "socat relay did not start"
ctl() { "$BUILD/ukeyctl" --socket "$RELAY" "$@"; }

orders_ready
n=0
: > "$STATE/user-pins"
while [ "$(queued_units)" != 0 ] && [ $n -lt 4 ]; do
	ctl sim plug --bay 1 --wait >/dev/null || fail "token in bay 1 not issued: $(bay_field 1 reason)"
	pin=$(ctl bay take-pin --bay 1 | sed -n 's/.*initial user PIN: //p')
	[ -n "$pin" ] || fail "no user PIN shown"
	echo "$pin" >> "$STATE/user-pins"
	ctl sim unplug --bay 1 >/dev/null
	n=$((n + 1))
done
[ "$n" -ge 3 ] || fail "expected at least 3 tokens, issued $n"
ctl --json bays >/dev/null
ctl --json jobs >/dev/null
ctl --json audit log --limit 1000 >/dev/null
ctl --json order show 1 >/dev/null
ctl audit export --output "$STATE/export.jsonl" 2>/dev/null || fail "audit export"

"$BUILD/tests/unseal_pins" "$STATE" ${PG_CONN:+"$PG_CONN"} > "$STATE/sealed" || fail "unseal_pins"
grep '^token-so ' "$STATE/sealed" | awk '{ print $3 }' > "$STATE/so-pins"
[ "$(wc -l < "$STATE/so-pins")" = "$n" ] || fail "expected $n sealed SO PINs: $(cat "$STATE/sealed")"
grep '^job-' "$STATE/sealed" && fail "a finished job still holds a sealed PIN"
# the unsealed SO PIN is the token's: it logs in as SO on the first token
SOFTHSM2_CONF=$(token_conf 1) pkcs11-tool --module "$SOFTHSM_MODULE" --session-rw --login --login-type so \
	--so-pin "$(head -1 "$STATE/so-pins")" --list-objects >/dev/null 2>&1 ||
	fail "the unsealed SO PIN does not log in to token 1"
python3 -c '
import json, sys
def walk(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k == "id_number" and isinstance(v, str) and v:
                print(v)
            walk(v)
    elif isinstance(o, list):
        for v in o:
            walk(v)
walk(json.load(open(sys.argv[1], encoding="utf-8")))' "$SRC/examples/orders-sample.json" | sort -u > "$STATE/ids"
[ "$(wc -l < "$STATE/ids")" -ge 3 ] || fail "expected ID numbers in the sample orders"

# database files while the daemon runs (with its -wal and -shm), then after
mkdir "$STATE/snap"
for f in station.db station.db-wal station.db-shm ca/ca.db ca/ca.db-wal; do
	[ -f "$STATE/$f" ] && cp "$STATE/$f" "$STATE/snap/$(echo "$f" | tr / _)"
done
# on PostgreSQL (UKEY_TEST_STORE=pg): every row as text (a blob in hex)
if pg_mode; then db_dump > "$STATE/snap/station-running.sql"; fi
stop_station
kill -- -"$RELAY_PID" 2>/dev/null || true
wait "$RELAY_PID" 2>/dev/null || true
if pg_mode; then	# and the server's log, which names failed statements
	db_dump > "$STATE/snap/station-stopped.sql"
	cp "$PG_DIR/server.log" "$STATE/snap/pg-server.log"
else
	cp "$STATE/station.db" "$STATE/snap/station-stopped.db"
fi
cp "$STATE/ca/ca.db" "$STATE/snap/ca-stopped.db"
[ -s "$CAP" ] || fail "the socket capture is empty"

# socat -v: each chunk follows a "> " (to ukeyd) or "< " (from ukeyd) header,
# which starts a new line only when the chunk before ended in one
python3 - "$CAP" "$STATE/cap" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="latin-1").read()
head = re.compile(r"([<>]) \d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d+ +length=\d+ from=\d+ to=\d+\n")
out = {">": open(sys.argv[2] + ".req", "w", encoding="latin-1"),
       "<": open(sys.argv[2] + ".rep", "w", encoding="latin-1")}
parts = head.split(text)
for i in range(1, len(parts) - 1, 2):
    out[parts[i]].write(parts[i + 1])
EOF
grepq take_pin "$STATE/cap.req" || fail "the capture has no take_pin request"
grepq user_pin "$STATE/cap.rep" || fail "the capture has no take_pin reply"

# forms SECRET: the text, lower and upper hex of it, base64 of it
forms() {
	local s=$1
	printf '%s\n' "$s"
	printf '%s' "$s" | od -An -tx1 | tr -d ' \n'
	echo
	printf '%s' "$s" | od -An -tx1 | tr -d ' \n' | tr a-f A-F
	echo
	printf '%s' "$s" | base64 -w0
	echo
}
# count FILE STRING: occurrences of STRING in FILE (binary-safe)
count() { grep -aoF -- "$2" "$1" | wc -l; }

FILES=("$STATE/ukeyd.log" "$STATE"/snap/* "$STATE/export.jsonl")
checked=0
check_absent() {	# check_absent WHAT SECRET FILE...
	local what=$1 secret=$2 form f
	shift 2
	while read -r form; do
		for f in "$@"; do
			[ "$(count "$f" "$form")" = 0 ] || fail "$what found in $(basename "$f") (as $form)"
			checked=$((checked + 1))
		done
	done < <(forms "$secret")
}
while read -r so; do
	check_absent "an SO PIN" "$so" "${FILES[@]}" "$CAP"
done < "$STATE/so-pins"
while read -r pin; do
	check_absent "a user PIN" "$pin" "${FILES[@]}"
	[ "$(count "$STATE/cap.req" "$pin")" = 0 ] || fail "a user PIN was sent to the daemon: $(grep -aoE ".{0,60}$pin.{0,20}" "$STATE/cap.req" | head -3)"
	[ "$(count "$STATE/cap.rep" "$pin")" = 1 ] ||
		fail "user PIN seen $(count "$STATE/cap.rep" "$pin") times in the replies, expected once (take-pin)"
	for form in $(forms "$pin" | tail -3); do
		[ "$(count "$CAP" "$form")" = 0 ] || fail "a user PIN in the capture as $form"
	done
done < "$STATE/user-pins"
while read -r id; do
	# orders keep their document with ID numbers masked and the whole of it
	# sealed: no file of the station's holds one in clear
	check_absent "an ID number" "$id" "${FILES[@]}" "$STATE/cap.rep"
done < "$STATE/ids"
echo "PASS: $n tokens; $(wc -l < "$STATE/so-pins") SO PINs, $(wc -l < "$STATE/user-pins") user PINs, $(wc -l < "$STATE/ids") ID numbers; $checked (secret form, file) pairs clean; each user PIN once in the capture"
