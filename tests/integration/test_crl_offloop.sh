# The CRL is signed off the event loop (crl.c, docs/performance.md): while
# a CRL is held in its thread (test hook UKEY_TEST_CRL_HOLD), ukeyctl status
# answers and a token is issued, but the revocation's reply and a ca crl
# asked meanwhile wait for the CRL that lists the revoked certificate; and
# a CRL file another tool put there is read in a thread while ca crl waits.
. "$(dirname "$0")/lib.sh"

export UKEY_TEST_CRL_HOLD=$STATE/crl-hold
CRL=$STATE/ca/crl.pem
start_station
orders_ready
ctl sim plug --bay 1 --wait >/dev/null || fail "token 1 not issued: $(bay_field 1 reason)"
ctl sim unplug --bay 1 >/dev/null
A=$(db "SELECT cert_serial FROM issuances ORDER BY id LIMIT 1")
ctl ca crl > /dev/null || fail "ca crl"	# the CRL of the start is written
n0=$(openssl crl -in "$CRL" -noout -crlnumber | sed -n 's/^crlNumber=//p')

touch "$UKEY_TEST_CRL_HOLD"
ctl --json cert revoke "$A" --reason keyCompromise --remark "token reported stolen" \
	> "$STATE/revoke.json" 2>&1 &
revoke=$!
wait_grep 100 0.1 "test hook UKEY_TEST_CRL_HOLD: CRL publication waits" "$STATE/ukeyd.log" ||
	fail "no CRL publication began after the revocation"
ctl --json ca crl > "$STATE/crl.json" 2>&1 &
crl=$!
# the loop serves meanwhile: status, and a whole token
ctl status >/dev/null || fail "status while the CRL is held"
ctl sim plug --bay 1 --wait >/dev/null || fail "token 2 not issued while the CRL is held"
ctl sim unplug --bay 1 >/dev/null
sleep 0.3
kill -0 "$revoke" 2>/dev/null || fail "the revocation answered before its CRL: $(cat "$STATE/revoke.json")"
kill -0 "$crl" 2>/dev/null || fail "ca crl answered before the CRL under way: $(cat "$STATE/crl.json")"
rm -f "$UKEY_TEST_CRL_HOLD"
wait "$revoke" || fail "cert revoke: $(cat "$STATE/revoke.json")"
wait "$crl" || fail "ca crl: $(cat "$STATE/crl.json")"
n=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["crl_number"])' "$STATE/revoke.json") ||
	fail "no crl_number in $(cat "$STATE/revoke.json")"
[ "$n" -gt "$((16#$n0))" ] || fail "CRL $n is not after $((16#$n0))"
python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["number"] == int(sys.argv[2]) and r["revoked"] == 1, r
open(sys.argv[3], "w").write(r["pem"])' "$STATE/crl.json" "$n" "$STATE/crl-page.pem" ||
	fail "ca crl asked meanwhile gave another CRL: $(head -c 300 "$STATE/crl.json")"
openssl crl -in "$STATE/crl-page.pem" -noout -text | grepq -i "Serial Number: 0*$A" ||
	fail "$A is not on the CRL ca crl gave"

# a CRL file the station did not write (here its own, put there anew by
# another tool: a new file) is read and parsed in a thread: ca crl waits
# for the read, status does not
cp "$CRL" "$CRL.new" && mv "$CRL.new" "$CRL"
touch "$UKEY_TEST_CRL_HOLD"
ctl --json ca crl > "$STATE/crl-read.json" 2>&1 &
crl=$!
wait_grep 100 0.1 "test hook UKEY_TEST_CRL_HOLD: CRL read waits" "$STATE/ukeyd.log" ||
	fail "the new CRL file was not read in a thread"
ctl status >/dev/null || fail "status while a CRL file is read"
sleep 0.3
kill -0 "$crl" 2>/dev/null || fail "ca crl answered before the file was read: $(cat "$STATE/crl-read.json")"
rm -f "$UKEY_TEST_CRL_HOLD"
wait "$crl" || fail "ca crl after the read: $(cat "$STATE/crl-read.json")"
python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["number"] == int(sys.argv[2]) and r["revoked"] == 1, r' "$STATE/crl-read.json" "$n" ||
	fail "ca crl after the read gave another CRL: $(head -c 300 "$STATE/crl-read.json")"
# a file that holds no CRL: the read says so
echo "not a CRL" > "$CRL.new" && mv "$CRL.new" "$CRL"
expect_exit 1 "does not hold a PEM CRL" -- ctl ca crl
stop_station
echo "PASS: the CRL is signed off the loop; its revocation and ca crl wait for it; a CRL file put there by another tool is read off the loop"
