# Replacement (补办) of a lost or damaged token (docs/lifecycle.md): a token
# is issued and marked lost; a replacement order naming its certificate is
# imported (the fee is [fees] replacement_fen), approved (it resolves to the
# certificate, its token lost) and paid; a new blank virtual token takes the
# unit. The new certificate verifies, the old one is revoked (keyCompromise)
# and on the CRL, audit serials links them (replaced_by / replaces) and the
# audit chain verifies. Refused at import: a wrong fee; at approval: an
# unknown serial, a token neither lost nor damaged, another organisation,
# another kind, another subject, a certificate another order already
# replaces. A damaged token's replacement
# with ukeyd killed right after the record, its replaced certificate left
# live: the next start revokes it (cessationOfOperation).
. "$(dirname "$0")/lib.sh"

gen() { python3 "$SRC/tests/integration/orders_gen.py" "$SRC/examples/orders-sample.json" "$@"; }
id_of() { db "SELECT id FROM orders WHERE portal_ref = '$1'"; }
pays=300
pay() {
	pays=$((pays + 1))
	ctl order pay "$1" --payment-no "202612050000000000000000000$pays" >/dev/null || fail "pay $1"
}
cert_pem() { issued_cert_pem "$1"; }	# the issued certificate as PEM
OTHER=91532901MA6P7H4T1G

write_config
cat >> "$STATE/ukeyd.conf" <<EOT
[fees]
replacement_fen = 5000
EOT
start_station
ctl ca show > "$STATE/ca.crt" || fail "ca show"

# an organisation certificate (token 1) and a legal representative's (token 2)
gen "$STATE/n.json" N-1:0:organisation=1x1 N-2:0:legal_rep=1x1
ctl order import "$STATE/n.json" >/dev/null || fail "import N-1, N-2"
for ref in N-1 N-2; do
	ctl order approve "$(id_of $ref)" >/dev/null || fail "approve $ref"
	pay "$(id_of $ref)"
done
ctl sim plug --bay 1 --wait >/dev/null || fail "bay 1: $(bay_field 1 reason)"
ctl sim plug --bay 2 --wait >/dev/null || fail "bay 2: $(bay_field 2 reason)"
c1=$(db "SELECT cert_serial FROM issuances WHERE kind = 'organisation'")
t1=$(db "SELECT token_serial FROM issuances WHERE kind = 'organisation'")
c2=$(db "SELECT cert_serial FROM issuances WHERE kind = 'legal_rep'")
t2=$(db "SELECT token_serial FROM issuances WHERE kind = 'legal_rep'")
[ -n "$c1" ] && [ -n "$c2" ] || fail "two issuances expected"
ctl sim unplug --bay 1 >/dev/null
ctl sim unplug --bay 2 >/dev/null
ctl token mark-lost "$t1" --remark "holder reported it lost" >/dev/null || fail "mark-lost $t1"
echo "ok: $c1 on token $t1 (now lost), $c2 on token $t2"

# import: the fee is the station's, 50 yuan per certificate
lower1=$(echo "$c1" | tr 'A-F' 'a-f')
gen "$STATE/bad-fee.json" P-F:0:organisation=1x1:replaces_serial="$lower1"
expect_exit 65 "order P-F, amount_fen: states 200.00 yuan, but a replacement costs 50.00 yuan" -- \
	ctl order import "$STATE/bad-fee.json"
[ "$(db "SELECT count(*) FROM orders WHERE portal_ref = 'P-F'")" = 0 ] || fail "P-F was imported"
gen "$STATE/p.json" P-1:0:organisation=1x1:replaces_serial="$lower1":amount=5000 \
	P-X:0:organisation=1x1:replaces_serial=deadbeef0001:amount=5000 \
	P-T:0:legal_rep=1x1:replaces_serial="$c2":amount=5000 \
	P-O:1:legal_rep=1x1:replaces_serial="$c2":amount=5000 \
	P-K:0:legal_rep=1x1:replaces_serial="$c1":amount=5000 \
	P-D:0:organisation=1x1:replaces_serial="$c1":amount=5000 \
	P-S:0:organisation=1x1:replaces_serial="$c1":amount=5000:city=大理市
ctl order import "$STATE/p.json" >/dev/null || fail "import replacements"
[ "$(db "SELECT total_fen FROM orders WHERE portal_ref = 'P-1'")" = 5000 ] || fail "P-1 total"
[ "$(ctl order list --type replacement | awk 'NR > 1' | wc -l)" = 7 ] || fail "list --type replacement"
# the portal's CSV table: 订单类型 补办 and the column 补办证书序列号
python3 - "$SRC/examples/orders-yunnan.csv" "$STATE/p.csv" "$c2" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8-sig")))
row = [r for r in rows if r["订单类型"] == "续费"][0]
row.update({"订单编号": "P-C", "订单类型": "补办", "续费证书序列号": "", "补办证书序列号": sys.argv[3],
            "订单金额(元)": "50.00"})
w = csv.DictWriter(open(sys.argv[2], "w", encoding="utf-8", newline=""), fieldnames=list(row))
w.writeheader()
w.writerow(row)
PY
ctl order import "$STATE/p.csv" >/dev/null || fail "import the CSV replacement"
[ "$(db "SELECT type || ' ' || total_fen FROM orders WHERE portal_ref = 'P-C'")" = "replacement 5000" ] ||
	fail "P-C: $(db "SELECT type, total_fen FROM orders WHERE portal_ref = 'P-C'")"
lower2=$(echo "$c2" | tr 'A-F' 'a-f')
db "SELECT doc FROM orders WHERE portal_ref = 'P-C'" > "$STATE/pc.json"
grepq "\"replaces\":{\"serial\":\"$lower2\"}" "$STATE/pc.json" || fail "P-C does not name $c2: $(cat "$STATE/pc.json")"
ctl order cancel "$(id_of P-C)" --remark "test" >/dev/null || fail "cancel P-C"
echo "ok: a replacement costs [fees] replacement_fen; a wrong amount is refused at import; CSV 补办 imports"

# approval refusals: nothing changes
expect_exit 2 "order $(id_of P-X), replaces.serial: deadbeef0001 names no certificate issued by this station; not approved" -- \
	ctl order approve "$(id_of P-X)"
expect_exit 1 "order $(id_of P-T), replaces: token $t2 (certificate $c2) is not marked lost or damaged" -- \
	ctl order approve "$(id_of P-T)"
expect_exit 1 "replaces: certificate $c2 was issued to organisation 91530100MA6K5U5X7R, not to the account $OTHER" -- \
	ctl order approve "$(id_of P-O)"
expect_exit 1 "replaces: certificate $c1 is of kind organisation, but the order asks for one of kind legal_rep" -- \
	ctl order approve "$(id_of P-K)"
expect_exit 1 "a replacement keeps the subject; not approved" -- ctl order approve "$(id_of P-S)"
[ "$(db "SELECT count(*) FROM orders WHERE type = 'replacement' AND state = 'pending'")" = 7 ] ||
	fail "a refused approval changed an order"
out=$(ctl order approve "$(id_of P-1)") || fail "approve P-1: $out"
grepq "replaces certificate $c1 (token $t1, lost)" <<<"$out" || fail "approve P-1 said: $out"
[ "$(db "SELECT replaces_cert FROM orders WHERE portal_ref = 'P-1'")" = "$c1" ] || fail "replaces_cert"
expect_exit 1 "replaces: certificate $c1 is already being replaced by order $(id_of P-1)" -- \
	ctl order approve "$(id_of P-D)"
echo "ok: refused: unknown serial, token not lost, other organisation, other kind, other subject, replaced twice"

# production on a new blank token
pay "$(id_of P-1)"
ctl sim plug --bay 3 --wait >/dev/null || fail "P-1 not issued: $(bay_field 3 reason)"
c3=$(db "SELECT cert_serial FROM issuances WHERE order_id = $(id_of P-1)")
t3=$(db "SELECT token_serial FROM issuances WHERE order_id = $(id_of P-1)")
[ -n "$c3" ] && [ "$t3" != "$t1" ] || fail "replacement not issued on a new token: '$c3' '$t3'"
[ "$(db "SELECT replaces_serial || '/' || replaces_how FROM issuances WHERE cert_serial = '$c3'")" = "$c1/replacement" ] ||
	fail "link: $(db "SELECT replaces_serial, replaces_how FROM issuances WHERE cert_serial = '$c3'")"
[ "$(db "SELECT subject FROM issuances WHERE cert_serial = '$c3'")" = "$(db "SELECT subject FROM issuances WHERE cert_serial = '$c1'")" ] ||
	fail "the replacement's subject differs"
ctl sim unplug --bay 3 >/dev/null
cert_pem "$c3" > "$STATE/new.pem"
cert_pem "$c1" > "$STATE/old.pem"
ctl ca crl --output "$STATE/crl.pem" >/dev/null || fail "ca crl"
openssl verify -crl_check -CAfile "$STATE/ca.crt" -CRLfile "$STATE/crl.pem" "$STATE/new.pem" >/dev/null 2>&1 ||
	fail "the replacement certificate does not verify"
if openssl verify -crl_check -CAfile "$STATE/ca.crt" -CRLfile "$STATE/crl.pem" "$STATE/old.pem" >/dev/null 2>&1; then
	fail "the replaced certificate still verifies"
fi
openssl crl -in "$STATE/crl.pem" -noout -text > "$STATE/crl.txt"
grepq -i "Serial Number: 0*$c1" "$STATE/crl.txt" || fail "$c1 is not on the CRL"
[ "$(db "SELECT revoke_reason FROM issuances WHERE cert_serial = '$c1'")" = keyCompromise ] || fail "reason for $c1"
echo "ok: $c3 issued on new token $t3 verifies; $c1 is revoked (keyCompromise) and on the CRL"

# audit serials: the link both ways, JSON and text
ctl --json audit serials > "$STATE/serials.json" || fail "audit serials"
python3 -c '
import json, sys
rows = {r["serial"]: r for r in json.load(open(sys.argv[1]))}
old, new = rows[sys.argv[2]], rows[sys.argv[3]]
assert old["replaced_by"] == sys.argv[3] and old["renewed_by"] is None, old
assert old["status"] == "revoked" and old["revoke_reason"] == "keyCompromise", old
assert new["replaces"] == sys.argv[2] and new["replaces_how"] == "replacement", new
assert new["status"] == "live" and new["replaced_by"] is None, new
' "$STATE/serials.json" "$c1" "$c3" || fail "audit serials links"
ctl audit serials > "$STATE/serials.txt" || fail "audit serials (text)"
grepq "replaced_by" "$STATE/serials.txt" || fail "audit serials text has no replaced_by column"
grepq "$c3.*$c1" "$STATE/serials.txt" || fail "audit serials text: $c3 does not show it replaces $c1"
ctl audit verify >/dev/null || fail "audit verify"
echo "ok: audit serials shows $c1 replaced_by $c3 and $c3 replaces $c1; the audit chain verifies"

# a damaged token's replacement, ukeyd killed right after the record; its
# replaced certificate left live in the record (as when the CA could not be
# reached): the next start revokes it and audits the cause
ctl token mark-damaged "$t2" --remark "connector broken" >/dev/null || fail "mark-damaged $t2"
out=$(ctl order approve "$(id_of P-T)") || fail "approve P-T: $out"
grepq "replaces certificate $c2 (token $t2, damaged)" <<<"$out" || fail "approve P-T said: $out"
pay "$(id_of P-T)"
stop_station
UKEY_TEST_CRASH_AT=record:done start_station
ctl sim plug --bay 4 >/dev/null 2>&1 || true
for _ in $(seq 600); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$DAEMON_PID" 2>/dev/null && fail "ukeyd did not stop at record:done"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=""
c4=$(db "SELECT cert_serial FROM issuances WHERE order_id = $(id_of P-T)")
[ -n "$c4" ] || fail "P-T was not recorded before the kill"
db "UPDATE issuances SET revoked_at = NULL, revoke_reason = NULL, revoked_by = NULL, revoke_remark = NULL WHERE cert_serial = '$c2'"
start_station
[ "$(db "SELECT revoke_reason FROM issuances WHERE cert_serial = '$c2'")" = cessationOfOperation ] ||
	fail "start did not revoke $c2: $(db "SELECT revoked_at, revoke_reason FROM issuances WHERE cert_serial = '$c2'")"
db "SELECT detail FROM audit WHERE action = 'cert.revoke' ORDER BY id DESC LIMIT 1" > "$STATE/last.txt"
grepq "replaced by certificate $c4" "$STATE/last.txt" || fail "cert.revoke does not name the replacement: $(cat "$STATE/last.txt")"
[ "$(db "SELECT replaces_serial FROM issuances WHERE cert_serial = '$c4'")" = "$c2" ] || fail "link of $c4"
ctl audit verify >/dev/null || fail "audit verify after the restart"
echo "ok: killed after the record, the next start revoked $c2 (cessationOfOperation), audited with its cause"
stop_station
