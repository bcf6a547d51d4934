# Personal data at rest: an order's document is stored with its resident ID
# numbers masked (orders.doc) and whole only sealed under the station master
# key (orders.doc_sealed). A database from before sealing (documents in clear)
# is sealed when ukeyd starts; the sealed form is bound to its order, so a
# document moved to another order does not open; --reveal opens it.
. "$(dirname "$0")/lib.sh"

ID=530102199003070016	# the handler of YNCA-2026-0001 in the sample
start_station
ctl order import "$SRC/examples/orders-sample.json" >/dev/null || fail "import"
n=$(db "SELECT count(*) FROM orders")
[ "$n" -ge 2 ] || fail "expected the sample's orders, got $n"
[ "$(db "SELECT count(*) FROM orders WHERE doc_sealed IS NULL OR doc LIKE '%$ID%'")" = 0 ] ||
	fail "an order document holds an ID number in clear, or is not sealed"
db "SELECT doc FROM orders WHERE id = 1" | grepq '"id_number":"5301\*\*\*\*\*\*\*\*\*\*0016"' ||
	fail "the stored document is not masked: $(db "SELECT doc FROM orders WHERE id = 1")"
full=$(ctl --json order show 1 --reveal | python3 -c '
import json, sys
print(json.dumps(json.load(sys.stdin)["doc"], ensure_ascii=False, separators=(",", ":")))')
case $full in *"$ID"*) ;; *) fail "--reveal does not give the whole document" ;; esac
stop_station

# an older database: order 1's document in clear and not sealed
db "UPDATE orders SET doc = '$full', doc_sealed = NULL WHERE id = 1"
start_station
grepq "sealed the identity numbers of 1 stored order document" "$STATE/ukeyd.log" ||
	fail "start did not report sealing the old document"
[ "$(db "SELECT count(*) FROM orders WHERE doc_sealed IS NULL OR doc LIKE '%$ID%'")" = 0 ] ||
	fail "the old document was not sealed and masked at start"
ctl --json order show 1 --reveal | grepq "\"id_number\": *\"$ID\"" || fail "reveal after sealing"
ctl order import "$SRC/examples/orders-sample.json" | grepq unchanged ||
	fail "re-import after sealing should report unchanged"
stop_station

# a sealed document copied onto another order does not open there
db "UPDATE orders SET doc_sealed = (SELECT doc_sealed FROM orders WHERE id = 1) WHERE id = 2"
start_station
out=$(ctl order show 2 --reveal 2>&1) && fail "a document sealed for order 1 opened as order 2's"
case $out in *"cannot be opened"*) ;; *) fail "unclear error for a moved document: $out" ;; esac
ctl order show 2 >/dev/null || fail "the masked document should still show"
stop_station
echo "PASS: documents masked and sealed; an old database sealed at start; a moved document refused"
