# The audit log is tamper-evident: a realistic log (orders imported, approved,
# paid, tokens issued, checkpoints signed) verifies; then, on copies of the
# database edited with sqlite3 and of the JSON export edited with sed, every
# edit, deletion, reordering, insertion and forged checkpoint is found and the
# right record named. An independent Python check recomputes every hash and
# signature from docs/audit.md alone.
. "$(dirname "$0")/lib.sh"
pg_skip "it edits copies of station.db with sqlite3 (the append-only triggers dropped) and verifies those files with audit verify --db"

T=$STATE/tamper
mkdir -p "$T"
write_config
sed -i '/^\[station\]/a audit_checkpoint_every = 10' "$STATE/ukeyd.conf"
start_station
orders_ready
for _ in 1 2 3; do
	ctl sim plug --bay 1 --wait >/dev/null || fail "token in bay 1 not issued: $(bay_field 1 reason)"
	ctl bay take-pin --bay 1 >/dev/null || fail "take-pin"
	ctl sim unplug --bay 1 >/dev/null
done
ctl audit checkpoint | grepq '^checkpoint [0-9]* signed: record' || fail "audit checkpoint"
out=$(ctl audit verify) || fail "fresh log does not verify: $out"
echo "$out" | grepq '^audit log OK: [0-9]* records, [0-9]* checkpoints' || fail "verify output: $out"
if echo "$out" | grepq '^incremental:'; then fail "the first verify is not whole: $out"; fi
# the next verify goes on from each station's last checkpoint the first found intact
[ -s "$STATE/audit-verified.json" ] || fail "audit verify kept no audit-verified.json"
out=$(ctl audit verify) || fail "incremental verify: $out"
echo "$out" | grepq '^incremental: ' || fail "the second verify is not incremental: $out"
echo "$out" | grepq '^station test-station: OK: .*new since the last verification' || fail "incremental: $out"
out=$(ctl audit verify --full) || fail "verify --full: $out"
if echo "$out" | grepq '^incremental:'; then fail "verify --full is incremental: $out"; fi
ctl audit pubkey > "$T/pub.pem" || fail "audit pubkey"
cmp -s "$T/pub.pem" "$STATE/keys/audit.pub" || fail "audit pubkey differs from keys/audit.pub"
[ "$(stat -c %a "$STATE/keys/audit.key")" = 600 ] || fail "keys/audit.key is not mode 0600"
ctl audit export --output "$T/export.jsonl" 2>/dev/null || fail "audit export"
# the append-only triggers refuse the daemon's own connection and a casual edit
if db "UPDATE audit SET actor = 'x' WHERE id = 2" 2>/dev/null; then fail "audit row updated"; fi
if db "DELETE FROM audit_checkpoints" 2>/dev/null; then fail "checkpoints deleted"; fi
stop_station

PUB=$T/pub.pem
N=$(db "SELECT max(id) FROM audit")
NCP=$(db "SELECT count(*) FROM audit_checkpoints")
[ "$NCP" -ge 4 ] || fail "expected at least 4 checkpoints (every 10 records, on request, at stop), got $NCP"
[ "$(db "SELECT audit_id FROM audit_checkpoints ORDER BY id DESC LIMIT 1")" = "$N" ] ||
	fail "the clean stop did not sign the last record"
[ "$(db "SELECT action FROM audit WHERE id = $N")" = audit.checkpoint ] || fail "last record is not the stop checkpoint"
out=$(ctl audit verify --db "$STATE/station.db" --pubkey "$PUB") || fail "stopped log does not verify: $out"
echo "$out" | grepq "^audit log OK: $N records, $NCP checkpoints, last signed record $N\$" || fail "verify --db: $out"
if echo "$out" | grepq '^note:'; then fail "a cleanly stopped log has unsigned records: $out"; fi

# a record in the middle that is not a checkpoint event, and two more
M=$(db "SELECT min(id) FROM audit WHERE id > $N / 2 AND action <> 'audit.checkpoint'")
A=$(db "SELECT min(id) FROM audit WHERE id > $M + 2 AND action <> 'audit.checkpoint'")
CP2=$(db "SELECT audit_id FROM audit_checkpoints WHERE id = 2")
ACTOR_ROW=$(db "SELECT min(id) FROM audit WHERE actor <> 'ukeyd' AND id > 3")

# tamper NAME EXPECTED-REGEX SQL: the edited copy must fail with that message
tamper() {
	local name=$1 expect=$2 sql=$3 out
	cp "$STATE/station.db" "$T/$name.db"
	sqlite3 "$T/$name.db" "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;
		DROP TRIGGER audit_checkpoints_no_update; DROP TRIGGER audit_checkpoints_no_delete; $sql" ||
		fail "$name: sqlite3"
	if out=$(ctl audit verify --db "$T/$name.db" --pubkey "$PUB"); then
		fail "$name: the tampered log verifies: $out"
	fi
	echo "$out" | grepq -E "$expect" || fail "$name: expected /$expect/, got: $out"
	echo "found: $name: $out"
}

tamper edit-detail "^audit log BROKEN at record $M: .*hash mismatch" \
	"UPDATE audit SET detail = '{\"forged\":1}' WHERE id = $M"
tamper edit-actor "^audit log BROKEN at record $ACTOR_ROW: .*hash mismatch" \
	"UPDATE audit SET actor = 'somebody-else' WHERE id = $ACTOR_ROW"
tamper null-to-empty "^audit log BROKEN at record $M: .*hash mismatch" \
	"UPDATE audit SET token = '' WHERE id = $M AND token IS NULL;
	 UPDATE audit SET token = NULL WHERE id = $M AND token <> ''"
tamper drop-order-ref "^audit log BROKEN at record 2: .*hash mismatch" \
	"UPDATE audit SET order_id = NULL WHERE id = 2"
tamper delete-middle "^audit log BROKEN at record $M: record $M is missing: record $((M + 1)) follows record $((M - 1))" \
	"DELETE FROM audit WHERE id = $M"
K=$((CP2 - 3))
tamper truncate-tail "^audit log BROKEN at record $((K + 1)): checkpoint 2 signed record $CP2, but the log ends at record $K" \
	"DELETE FROM audit WHERE id > $K"
# (each row keeps its seq, its place in the station's chain: the chain finds
# seq A where seq M belongs)
tamper swap-ids "^audit log BROKEN at record $M: record $M is missing: record $A follows" \
	"UPDATE audit SET id = -1 WHERE id = $M; UPDATE audit SET id = $M WHERE id = $A;
	 UPDATE audit SET id = $A WHERE id = -1"
tamper insert-forged "^audit log BROKEN at record $((N + 1)): .*hash mismatch" \
	"INSERT INTO audit (id, format, station, seq, at, actor, action, order_id, prev_hash, hash)
	 SELECT $((N + 1)), 3, station, seq + 1, at, 'mallory', 'order.approve', 1, hash, hash
	 FROM audit WHERE id = $N"
tamper forge-checkpoint-hash "checkpoint 2: signature does not verify" \
	"UPDATE audit_checkpoints SET audit_hash = (SELECT hash FROM audit WHERE id = $M) WHERE id = 2"
tamper forge-checkpoint-row "checkpoint $((NCP + 1)): signature does not verify" \
	"INSERT INTO audit_checkpoints (id, seq, audit_id, audit_hash, records, at, station, key_id, alg,
	        signature)
	 SELECT id + 1, seq + 1, audit_id - 1, (SELECT hash FROM audit WHERE id = $N - 1), records - 1, at, station,
	        key_id, alg, signature FROM audit_checkpoints WHERE id = $NCP"
tamper delete-last-checkpoint "^audit log BROKEN at record $N: record $N is checkpoint event $NCP but that signed checkpoint is missing" \
	"DELETE FROM audit_checkpoints WHERE id = $NCP"
tamper delete-middle-checkpoint "checkpoint 2 is missing" \
	"DELETE FROM audit_checkpoints WHERE id = 2"

# An independent implementation of docs/audit.md: recompute every record's
# hash and every checkpoint's signed text from the export; "forge" re-chains
# a database from a record on (what someone without the signing key can do).
cat > "$T/audit.py" <<'EOF'
import hashlib, json, sqlite3, subprocess, sys

COLS = ["id", "at", "actor", "action", "order_id", "unit_id", "job_id", "token", "bay",
        "detail", "prev_hash"]
COLS3 = ["id", "station", "seq"] + COLS[1:]

def field(v):
    if v is None:
        return b"-\n"
    if isinstance(v, int):
        return b"i%d\n" % v
    b = v.encode("utf-8")
    return b"s%d:" % len(b) + b + b"\n"

def record_hash(r):
    tag, cols = {2: (b"ukey-audit/2\n", COLS), 3: (b"ukey-audit/3\n", COLS3)}[r["format"]]
    return hashlib.sha256(tag + b"".join(field(r[c]) for c in cols)).hexdigest()

def checkpoint_text(c):
    v, n = (2, c["seq"]) if c.get("seq") else (1, c["checkpoint"])
    return ("ukey-station audit checkpoint %d\nstation %s\ncheckpoint %d\naudit-id %d\n"
            "audit-hash %s\nrecords %d\nat %s\nkey-id %s\n" % (v, c["station"], n,
            c["audit_id"], c["audit_hash"], c["records"], c["at"], c["key_id"]))

if sys.argv[1] == "check":
    prev, n, tmp = {}, 0, sys.argv[4]
    for line in open(sys.argv[2], encoding="utf-8"):
        o = json.loads(line)
        if o["type"] == "key":
            assert o["pubkey"] == open(sys.argv[3]).read(), "key of %s" % o["station"]
        elif o["type"] == "record":
            # one chain per station (records of format 2 have none)
            assert o["prev_hash"] == prev.get(o.get("station"), "0" * 64), "record %d: link" % o["id"]
            assert record_hash(o) == o["hash"], "record %d: hash" % o["id"]
            prev[o.get("station")] = o["hash"]
        else:
            open(tmp + ".txt", "w").write(checkpoint_text(o))
            open(tmp + ".sig", "wb").write(bytes.fromhex(o["signature"]))
            subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", sys.argv[3],
                            "-rawin", "-in", tmp + ".txt", "-sigfile", tmp + ".sig"],
                           check=True, stdout=subprocess.DEVNULL)
        n += 1
    print(n)
elif sys.argv[1] == "forge":
    db = sqlite3.connect(sys.argv[2])
    db.executescript("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
    start = int(sys.argv[3])
    db.execute("UPDATE audit SET detail = '{\"forged\":1}' WHERE id = ?", (start,))
    cur = db.execute("SELECT format, %s, hash FROM audit WHERE id >= ? - 1 ORDER BY id"
                     % ", ".join(COLS3), (start,))
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r)) for r in cur.fetchall()]
    prev = rows[0]["hash"]
    for r in rows[1:]:
        r["prev_hash"] = prev
        prev = record_hash(r)
        db.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?",
                   (r["prev_hash"], prev, r["id"]))
    if len(sys.argv) > 4:   # a whole forged record at the end, correctly chained
        r = dict(rows[-1], id=rows[-1]["id"] + 1, seq=rows[-1]["seq"] + 1, actor="mallory",
                 action="order.approve", detail=None, prev_hash=prev)
        db.execute("INSERT INTO audit (id, format, station, seq, at, actor, action, prev_hash,"
                   " hash) VALUES (?, 3, ?, ?, ?, ?, ?, ?, ?)", (r["id"], r["station"], r["seq"],
                   r["at"], r["actor"], r["action"], r["prev_hash"], record_hash(dict(r,
                   order_id=None, unit_id=None, job_id=None, token=None, bay=None))))
    db.commit()
EOF
lines=$(python3 "$T/audit.py" check "$T/export.jsonl" "$PUB" "$T/py") ||
	fail "the export does not verify by docs/audit.md alone"
[ "$lines" = "$(wc -l < "$T/export.jsonl")" ] || fail "independent check read $lines lines"

# rewriting every hash from record M on is caught by the first checkpoint after M
cp "$STATE/station.db" "$T/rechain.db"
python3 "$T/audit.py" forge "$T/rechain.db" "$M" || fail "rechain"
CPM=$(db "SELECT min(audit_id) FROM audit_checkpoints WHERE audit_id >= $M")
if out=$(ctl audit verify --db "$T/rechain.db" --pubkey "$PUB"); then fail "re-chained log verifies: $out"; fi
echo "$out" | grepq "^audit log BROKEN at record $CPM: record $CPM no longer matches checkpoint" ||
	fail "rechain: $out"
echo "found: rechain: $out"
# a correctly chained record after the last checkpoint cannot be refuted
# without the key; it is reported as unsigned, which a cleanly stopped
# station never leaves behind
cp "$STATE/station.db" "$T/tail.db"
python3 "$T/audit.py" forge "$T/tail.db" "$((N + 1))" append || fail "forge tail"
out=$(ctl audit verify --db "$T/tail.db" --pubkey "$PUB") || fail "forged tail: $out"
echo "$out" | grepq '^note: 1 records after the last checkpoint are not signed yet' || fail "tail note: $out"

# the export, verified offline
EXP=$T/export.jsonl
ER=$(grep -c '"type":"record"' "$EXP")
KL=$(grep -c '"type":"key"' "$EXP")	# the key lines before the records
[ "$KL" = 1 ] || fail "expected the station's key line in the export, got $KL"
out=$(ctl audit verify --file "$EXP" --pubkey "$PUB") || fail "export does not verify: $out"
echo "$out" | grepq "^audit log OK: $ER records" || fail "verify --file: $out"
openssl genpkey -algorithm ed25519 -out "$T/other.key" 2>/dev/null
openssl pkey -in "$T/other.key" -pubout -out "$T/other.pub"
if out=$(ctl audit verify --file "$EXP" --pubkey "$T/other.pub"); then fail "export verifies with another key"; fi
echo "$out" | grepq "checkpoint 1: signed by key .*, not by the public key given" || fail "wrong key: $out"
echo "found: wrong-key: $out"

# texport NAME EXPECTED-REGEX CMD...: CMD turns the export into $T/NAME.jsonl
texport() {
	local name=$1 expect=$2 out
	shift 2
	"$@" < "$EXP" > "$T/$name.jsonl" || fail "$name: edit"
	cmp -s "$EXP" "$T/$name.jsonl" && fail "$name: the edit changed nothing"
	if out=$(ctl audit verify --file "$T/$name.jsonl" --pubkey "$PUB"); then
		fail "$name: the edited export verifies: $out"
	fi
	echo "$out" | grepq -E "$expect" || fail "$name: expected /$expect/, got: $out"
	echo "found: $name: $out"
}
LA=$((ACTOR_ROW + KL)) LM=$((M + KL)) LB=$((A + KL))
texport export-edit-actor "^audit log BROKEN at record $ACTOR_ROW: line $LA: .*hash mismatch" \
	sed "${LA}s/\"actor\":\"[^\"]*\"/\"actor\":\"somebody-else\"/"
texport export-edit-detail "^audit log BROKEN at record $M: line $LM: .*hash mismatch" \
	sed "${LM}s/\"detail\":\"/\"detail\":\" /"
texport export-delete "^audit log BROKEN at record $M: line $LM: record $M is missing" sed "${LM}d"
texport export-reorder "^audit log BROKEN at record $M: line $LM: record $M is missing: record $A follows" \
	python3 -c 'import sys; L = sys.stdin.readlines(); a, b = int(sys.argv[1]) - 1, int(sys.argv[2]) - 1
L[a], L[b] = L[b], L[a]; sys.stdout.writelines(L)' "$LM" "$LB"
texport export-truncate "checkpoint [0-9]+ signed record [0-9]+, but the log ends at record $K" \
	sed "$((KL + K + 1)),$((KL + ER))d"
texport export-forge-checkpoint "checkpoint 1: signature does not verify" \
	sed "$((KL + ER + 1))s/\"records\":[0-9]*/\"records\":1/"
texport export-unknown-field "line $((KL + 2)): a record line has 17 members" \
	sed "$((KL + 2))s/^{/{\"extra\":1,/"
texport export-forge-key "station test-station: BROKEN .*not registered for station test-station" \
	sed "1s/\"key_id\":\"[0-9a-f]*\"/\"key_id\":\"$(openssl pkey -pubin -in "$T/other.pub" -outform DER |
	sha256sum | cut -c1-64)\"/;1s|\"pubkey\":\"[^\"]*\"|\"pubkey\":\"$(awk '{printf "%s\\\\n", $0}' "$T/other.pub")\"|"

# the daemon's own verify on a tampered copy of the whole state directory
orig=$STATE
mkdir "$T/copy"
cp -a "$orig/station.db" "$orig/keys" "$orig/ca" "$orig/sim" "$orig/ukeyd.conf" "$T/copy/"
STATE=$T/copy
sqlite3 "$STATE/station.db" "DROP TRIGGER audit_no_update; UPDATE audit SET detail = NULL WHERE id = $M"
start_station
if out=$(ctl audit verify); then fail "daemon: tampered log verifies: $out"; fi
echo "$out" | grepq "^audit log BROKEN at record $M: .*hash mismatch" || fail "daemon verify: $out"
echo "found: daemon: $out"
if out=$(ctl --json audit verify); then fail "daemon: --json verify passes"; fi
echo "$out" | grepq "\"first_bad\": *$M," || fail "daemon verify --json: $out"
stop_station
STATE=$orig
echo "PASS: $N records, $NCP checkpoints; 13 database and 9 export tamperings found; independent check of $lines lines"
