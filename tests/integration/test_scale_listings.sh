# Listings page, a reply that cannot be sent closes its connection, and
# `audit verify` runs off the event loop (issue 15, item 3):
# - 20,000 certificates of one organisation: `ukeyctl audit serials --org`
#   prints them all, in pages of 1000 (table and --json) none of which is
#   over 2 MiB (UKEY_TEST_REPLY_MAX), and --limit/--after
#   give one page and the key to go on from (the reply's "next");
# - `audit expiring`, `jobs` and `queue` page by a key too (an issuance id,
#   a job id, a unit's place): every row once and in order, also across
#   certificates that expire in the same second;
# - under a test-only lower reply limit (UKEY_TEST_REPLY_MAX) a reply too
#   large is logged, told in one frame and its connection closed at once:
#   ukeyctl fails at once with the message, and the daemon serves on;
# - while `audit verify` is held in its thread (UKEY_TEST_VERIFY_HOLD),
#   `status` answers and a token is produced; the verify then answers.
. "$(dirname "$0")/lib.sh"

write_config
# replies of at most 2 MiB: the 20,000 certificates (some 20 MiB of JSON)
# come only in pages
UKEY_TEST_REPLY_MAX=2097152 start_station
orders_ready
ctl sim plug --bay 1 --wait >/dev/null || fail "the first token: $(bay_field 1 reason)"
[ "$(db "SELECT count(*) FROM issuances")" = 1 ] || fail "no issuance recorded"
ORG=$(db "SELECT org_uscc FROM issuances")

# 19,999 more certificates of that organisation, copies of the first (the
# listing reads them; the foreign keys of the sqlite3 shell are off, and on
# PostgreSQL the test's superuser turns their triggers off for the insert)
if pg_mode; then
	pre="SET session_replication_role = replica;"
	serial="'7E57' || lpad(to_hex(n.i), 12, '0')"
else
	pre=""
	serial="printf('7E57%012X', n.i)"
fi
db "$pre WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 19999)
INSERT INTO issuances (order_id, item_id, unit_id, job_id, cert_serial, subject, issuer,
 not_before, not_after, key_alg, key_local, key_always_sensitive, key_never_extractable,
 token_serial, token_model, token_profile, org_uscc, kind, cert, operator, station_id,
 started_at, issued_at)
SELECT s.order_id, s.item_id, 1000000 + n.i, s.job_id, $serial, s.subject,
 s.issuer, s.not_before, s.not_after, s.key_alg, s.key_local, s.key_always_sensitive,
 s.key_never_extractable, s.token_serial, s.token_model, s.token_profile, s.org_uscc, s.kind,
 s.cert, s.operator, s.station_id, s.started_at, s.issued_at FROM issuances s, n"
[ "$(db "SELECT count(*) FROM issuances")" = 20000 ] || fail "the copies were not inserted"

ctl audit serials --org "$ORG" > "$STATE/serials.txt" || fail "audit serials --org"
rows=$(($(wc -l < "$STATE/serials.txt") - 1))
[ "$rows" = 20000 ] || fail "audit serials --org printed $rows rows, not 20000"
[ "$(grep -c '^serial ' "$STATE/serials.txt")" = 1 ] || fail "the header is printed more than once"
ctl --json audit serials --org "$ORG" > "$STATE/serials.json" || fail "audit serials --json"
python3 - "$STATE/serials.json" <<'PY' || fail "audit serials --json is not every certificate once, in order"
import json, sys
rows = json.load(open(sys.argv[1]))
ids = [r["id"] for r in rows]
assert len(ids) == 20000 and ids == sorted(set(ids)), (len(ids), ids[:3])
PY
echo "ok: audit serials --org prints 20000 certificates in pages (table and --json)"

# one page, and the key to go on from
ctl --json audit serials --org "$ORG" --limit 1000 > "$STATE/p1.json" 2> "$STATE/p1.err" ||
	fail "audit serials --limit 1000"
next=$(python3 -c 'import json,sys; r = json.load(open(sys.argv[1])); print(len(r), r[-1]["id"])' \
	"$STATE/p1.json")
[ "${next%% *}" = 1000 ] || fail "--limit 1000 gave ${next%% *} rows"
grepq -- "--after ${next##* }" "$STATE/p1.err" || fail "no key to go on from: $(cat "$STATE/p1.err")"
n=$(ctl --json audit serials --org "$ORG" --after "${next##* }" |
	python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 19000 ] || fail "--after ${next##* } gave $n rows, not the other 19000"
# the daemon's own bound on a page, and the reply's next
PYTHONPATH=$SRC/tests/integration python3 - "$STATE/ukeyd.sock" "$ORG" <<'PY' || fail "audit.serials without limit: not one bounded page with next"
import sys
from ctlsock import connect, send, reply
s = connect(sys.argv[1])
send(s, {"v": 1, "cmd": "audit.serials", "args": {"org": sys.argv[2]}})
r = reply(s)
assert r["ok"] and len(r["result"]) == 2000, len(r["result"])
assert r["next"] == r["result"][-1]["id"], r.get("next")
PY
expect_exit 65 "argument limit: 1..2000" -- ctl audit serials --org "$ORG" --limit 2001
echo "ok: --limit gives one page and the key to go on from; a page holds at most 2000"

# the listings that page by a key read from an index: the 20,000
# certificates expire in the same second (copies), so the expiring list's
# pages go on by issuance id within it; 5,000 jobs (the one made and copies)
ctl --json audit expiring --within 3650 > "$STATE/expiring.json" || fail "audit expiring --json"
python3 - "$STATE/expiring.json" <<'PY' || fail "audit expiring is not every certificate once"
import json, sys
serials = [r["serial"] for r in json.load(open(sys.argv[1]))]
assert len(serials) == 20000 and len(set(serials)) == 20000, (len(serials), len(set(serials)))
PY
ctl --json audit expiring --within 3650 --limit 1500 > "$STATE/e1.json" 2> "$STATE/e1.err" ||
	fail "audit expiring --limit 1500"
key=$(sed -n 's/.*--after \([0-9]*\).*/\1/p' "$STATE/e1.err")
[ -n "$key" ] || fail "audit expiring --limit: no key to go on from: $(cat "$STATE/e1.err")"
ctl --json audit expiring --within 3650 --after "$key" > "$STATE/e2.json" ||
	fail "audit expiring --after $key"
python3 - "$STATE/e1.json" "$STATE/e2.json" "$STATE/expiring.json" <<'PY' || fail "audit expiring --after does not go on where --limit stopped"
import json, sys
one, two, whole = (json.load(open(p)) for p in sys.argv[1:])
assert len(one) == 1500 and one + two == whole, (len(one), len(two))
PY
expect_exit 65 "argument after: no issuance 999999999" -- \
	ctl audit expiring --within 3650 --after 999999999
db "$pre WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4999)
INSERT INTO jobs (id, unit_id, bay, profile, step, state, operator, started_at, updated_at,
 finished_at)
SELECT 1000000 + n.i, j.unit_id, j.bay, j.profile, j.step,
 CASE WHEN n.i % 10 = 0 THEN 'failed' ELSE 'aborted' END, j.operator, j.started_at,
 j.updated_at, j.finished_at FROM jobs j, n WHERE j.id = (SELECT min(id) FROM jobs)"
ctl --json jobs > "$STATE/jobs.json" || fail "jobs --json"
ctl --json jobs --state failed > "$STATE/failed.json" || fail "jobs --state failed --json"
ctl --json jobs --limit 1000 --after 1000100 > "$STATE/j1.json" 2> "$STATE/j1.err" ||
	fail "jobs --after --limit"
python3 - "$STATE/jobs.json" "$STATE/failed.json" "$STATE/j1.json" <<'PY' || fail "jobs: not every job once, in id order, in pages"
import json, sys
jobs, failed, page = (json.load(open(p)) for p in sys.argv[1:])
ids = [r["id"] for r in jobs]
assert len(ids) == 5000 and ids == sorted(set(ids)), (len(ids), ids[:3])
assert [r["id"] for r in failed] == [i for i in ids if i > 1000000 and i % 10 == 0], len(failed)
assert [r["id"] for r in page] == [i for i in ids if i > 1000100][:1000], page[:1]
PY
grepq -- "--after 1001100" "$STATE/j1.err" || fail "jobs --limit: no key to go on from: $(cat "$STATE/j1.err")"
# the queue, in pages of two by its keys, is the queue in one page
ctl --json queue > "$STATE/queue.json" || fail "queue --json"
after=0
: > "$STATE/queue.pages"
while :; do
	ctl --json queue --limit 2 --after "$after" > "$STATE/qp.json" 2> "$STATE/qp.err" ||
		fail "queue --limit 2 --after $after: $(cat "$STATE/qp.err")"
	cat "$STATE/qp.json" >> "$STATE/queue.pages"
	after=$(sed -n 's/.*--after \([0-9]*\).*/\1/p' "$STATE/qp.err")
	[ -n "$after" ] || break
done
python3 - "$STATE/queue.json" "$STATE/queue.pages" <<'PY' || fail "the queue's pages by key are not the queue"
import json, sys
whole = [r["unit"] for r in json.load(open(sys.argv[1]))]
dec, text, pages = json.JSONDecoder(), open(sys.argv[2]).read(), []
i = 0
while i < len(text):
    while i < len(text) and text[i].isspace():
        i += 1
    if i == len(text):
        break
    page, i = dec.raw_decode(text, i)
    assert len(page) <= 2, page
    pages += [r["unit"] for r in page]
assert len(whole) > 2 and pages == whole, (whole, pages)
PY
expect_exit 65 "argument after: 7 is no key of the queue" -- ctl queue --after 7
echo "ok: audit expiring, jobs and the queue page by a key: every row once, in order, across ties"

# a reply too large: a lower limit for the test, the same path as 4 MiB
stop_station
UKEY_TEST_REPLY_MAX=3000 start_station
expect_exit 65 "over the protocol's 3000: ask for less" -- ctl --json profiles
grepq "cannot be sent: the reply would be .* connection closed" "$STATE/ukeyd.log" ||
	fail "the daemon did not log the reply it could not send"
PYTHONPATH=$SRC/tests/integration python3 - "$STATE/ukeyd.sock" <<'PY' || fail "the connection of a reply too large was not closed"
import json, struct, sys
from ctlsock import connect, send
s = connect(sys.argv[1])
s.settimeout(60)
send(s, {"v": 1, "cmd": "profile.list"})
data = b""
while True:
    c = s.recv(65536)
    if not c:
        break	# closed by the daemon: the end of the stream, not a wait
    data += c
n = struct.unpack(">I", data[:4])[0]
r = json.loads(data[4:4 + n])
assert not r["ok"] and r["error"]["code"] == "invalid", r
assert len(data) == 4 + n, "more than the one error frame"
PY
ctl status >/dev/null || fail "status after a reply too large"
echo "ok: a reply too large is logged, told and its connection closed; the daemon serves on"

# audit verify off the event loop
stop_station
touch "$STATE/verify.hold"
UKEY_TEST_VERIFY_HOLD="$STATE/verify.hold" start_station
ctl audit verify > "$STATE/verify.out" 2>&1 &
verify=$!
wait_grep 1200 0.1 "audit.verify waits while" "$STATE/ukeyd.log" || fail "the verification did not start"
ctl status >/dev/null || fail "status while audit verify runs"
# a request sent behind audit.verify on the same connection is answered after it
cat > "$STATE/pipeline.py" <<'PY'
import sys
from ctlsock import connect, send, reply
s = connect(sys.argv[1])
for cmd in ("audit.verify", "ping"):
    send(s, {"v": 1, "cmd": cmd})
first = reply(s)
second = reply(s)
assert first["ok"] and "records" in first["result"], first
assert second["ok"] and "version" in second["result"], second
print("in order")
PY
PYTHONPATH=$SRC/tests/integration python3 "$STATE/pipeline.py" "$STATE/ukeyd.sock" > "$STATE/pipeline.out" 2>&1 &
pipeline=$!
ctl sim plug --bay 2 --wait >/dev/null || fail "production while audit verify runs: $(bay_field 2 reason)"
kill -0 "$verify" 2>/dev/null || fail "audit verify answered while its thread was held: $(cat "$STATE/verify.out")"
[ "$(db "SELECT count(*) FROM jobs WHERE state = 'issued'")" = 2 ] || fail "no second token issued"
rm -f "$STATE/verify.hold"
wait "$verify" || fail "audit verify: $(cat "$STATE/verify.out")"
wait "$pipeline" || fail "replies out of order behind audit.verify: $(cat "$STATE/pipeline.out")"
grepq '^audit log OK: ' "$STATE/verify.out" || fail "audit verify said: $(cat "$STATE/verify.out")"
echo "ok: status answered and a token was produced while audit verify ran; it then answered OK"
stop_station
