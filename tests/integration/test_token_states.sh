# The physical token's recorded life (docs/lifecycle.md): two tokens issued
# on simulated bays are marked lost / damaged / returned / destroyed / back in
# stock by `ukeyctl token mark-*`. Marking revokes the token's live
# certificates first (keyCompromise for lost, cessationOfOperation else) and
# puts them on the CRL; illegal marks are refused naming the legal ones; every
# mark says who, when and why, in token_states (append-only) and the audit log.
. "$(dirname "$0")/lib.sh"

start_station
orders_ready
ctl sim plug --bay 1 --wait >/dev/null || fail "bay 1: $(bay_field 1 reason)"
ctl sim plug --bay 2 --wait >/dev/null || fail "bay 2: $(bay_field 2 reason)"
t1=$(db "SELECT token_serial FROM issuances ORDER BY id LIMIT 1")
t2=$(db "SELECT token_serial FROM issuances ORDER BY id LIMIT 1 OFFSET 1")
c1=$(db "SELECT cert_serial FROM issuances WHERE token_serial = '$t1'")
c2=$(db "SELECT cert_serial FROM issuances WHERE token_serial = '$t2'")
[ -n "$t1" ] && [ -n "$t2" ] && [ "$t1" != "$t2" ] || fail "two issued tokens expected: '$t1' '$t2'"
ctl sim unplug --bay 1 >/dev/null
ctl sim unplug --bay 2 >/dev/null

state_of() { ctl --json token show "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])'; }
[ "$(state_of "$t1")" = issued ] || fail "token $t1 is $(state_of "$t1"), not issued"
echo "ok: tokens $t1 and $t2 issued"

# refusals: nothing changes
expect_exit 1 "token $t1 is issued: it cannot be marked destroyed (from issued: lost, damaged, returned)" -- \
	ctl token mark-destroyed "$t1" --remark "shredded"
expect_exit 64 "--remark TEXT" -- ctl token mark-lost "$t1"
expect_exit 65 "argument remark: must say why" -- ctl token mark-lost "$t1" --remark " "
expect_exit 2 "token NOSUCHTOKEN: this station neither initialised it nor issued a certificate onto it" -- \
	ctl token mark-lost NOSUCHTOKEN --remark "x"
[ "$(db "SELECT count(*) FROM token_states")" = 0 ] || fail "a refused mark was recorded"
[ "$(db "SELECT count(*) FROM issuances WHERE revoked_at IS NOT NULL")" = 0 ] || fail "a refused mark revoked"
echo "ok: an illegal mark, a missing or empty remark and an unknown token are refused"

# lost: the certificate is revoked for keyCompromise and is on the CRL
out=$(ctl token mark-lost "$t1" --remark "holder reported it lost on 2026-12-01") || fail "mark-lost: $out"
grepq "token $t1: issued -> lost" <<<"$out" || fail "mark-lost said: $out"
grepq "certificate $c1 revoked" <<<"$out" || fail "mark-lost did not revoke $c1: $out"
[ "$(db "SELECT revoke_reason FROM issuances WHERE cert_serial = '$c1'")" = keyCompromise ] ||
	fail "reason: $(db "SELECT revoke_reason FROM issuances WHERE cert_serial = '$c1'")"
ctl ca crl --output "$STATE/crl.pem" >/dev/null || fail "ca crl"
openssl crl -in "$STATE/crl.pem" -noout -text > "$STATE/crl.txt"
grepq -i "Serial Number: 0*$c1" "$STATE/crl.txt" || fail "$c1 is not on the CRL"
grepq "Key Compromise" "$STATE/crl.txt" || fail "the CRL does not say Key Compromise"
[ "$(state_of "$t1")" = lost ] || fail "token $t1 is $(state_of "$t1") after mark-lost"
ctl --json token show "$t1" | python3 -c '
import json, sys
t = json.load(sys.stdin)
m = t["marks"]
assert len(m) == 1 and m[0]["state"] == "lost" and m[0]["by"] == "root", m
assert m[0]["remark"] == "holder reported it lost on 2026-12-01", m
assert m[0]["at"].endswith("Z"), m
c = t["certificates"]
assert len(c) == 1 and c[0]["status"] == "revoked" and c[0]["revoke_reason"] == "keyCompromise", c
' || fail "token show after mark-lost"
expect_exit 1 "token $t1 is lost: it cannot be marked lost (from lost: returned)" -- \
	ctl token mark-lost "$t1" --remark "again"
echo "ok: lost: $c1 revoked (keyCompromise), on the CRL; the mark says who, when, why"

# found and handed back, wiped, back in stock: nothing more to revoke
ctl token mark-returned "$t1" --remark "found, handed in at the counter" >/dev/null || fail "mark-returned"
ctl token mark-in-stock "$t1" --remark "wiped" >/dev/null || fail "mark-in-stock"
[ "$(state_of "$t1")" = in-stock ] || fail "token $t1 is $(state_of "$t1")"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'cert.revoke'")" = 1 ] || fail "a certificate was revoked twice"

# damaged, then destroyed: cessationOfOperation, and destroyed is final
out=$(ctl --json token mark-damaged "$t2" --remark "USB connector broken") || fail "mark-damaged: $out"
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["revoked"] == [sys.argv[2]] and r["from"] == "issued", r' \
	"$out" "$c2" || fail "mark-damaged reply: $out"
[ "$(db "SELECT revoke_reason FROM issuances WHERE cert_serial = '$c2'")" = cessationOfOperation ] ||
	fail "reason for $c2: $(db "SELECT revoke_reason FROM issuances WHERE cert_serial = '$c2'")"
ctl token mark-destroyed "$t2" --remark "shredded under witness" >/dev/null || fail "mark-destroyed"
expect_exit 1 "token $t2 is destroyed: it cannot be marked returned (from destroyed: none)" -- \
	ctl token mark-returned "$t2" --remark "x"
echo "ok: damaged: $c2 revoked (cessationOfOperation); destroyed is final"

# recorded for good: five marks, each audited; the table refuses changes
[ "$(db "SELECT count(*) FROM token_states")" = 5 ] || fail "marks: $(db "SELECT * FROM token_states")"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'token.mark'")" = 5 ] || fail "token.mark audit records"
db "SELECT detail FROM audit WHERE action = 'token.mark' AND token = '$t2' ORDER BY id LIMIT 1" |
	grepq "\"revoked\":\[\"$c2\"\]" || fail "the audit record does not name the revoked certificate"
if db "UPDATE token_states SET remark = 'x'" 2>/dev/null; then fail "token_states was changed"; fi
if db "DELETE FROM token_states" 2>/dev/null; then fail "token_states rows were deleted"; fi
ctl audit verify >/dev/null || fail "audit verify"
echo "ok: 5 marks recorded and audited; token_states is append-only; the audit chain verifies"
stop_station
