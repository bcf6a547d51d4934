# ukeyd with the PC/SC detection source, against a private pcscd with
# vsmartcard's virtual reader: the source reports pcscd missing and keeps
# trying; once pcscd runs its readers are reported; a virtual card put in
# reader "Virtual PCD 00 00" becomes bay "pcsc:Virtual PCD 00 00" and a
# certificate is issued (SoftHSM2 plays the token's PKCS#11 side, see the
# test profile); taking the card out empties the bay; pcscd going away is
# reported. Prints the time from the card's connection to the event and from
# there to job start.
. "$(dirname "$0")/lib.sh"
# shellcheck source=pcsc_env.sh
. "$SRC/tests/integration/pcsc_env.sh"

BAY_NAME="pcsc:$PCSC_READER0"

ev_field() {	# ev_field KIND BAY FIELD: FIELD of the last event KIND at BAY
	ctl --json events | python3 -c '
import json, sys
v = ""
for e in json.load(sys.stdin)["events"]:
    if e["kind"] == sys.argv[1] and (e["bay"] or "") == sys.argv[2]:
        v = e.get(sys.argv[3])
print("" if v is None else v)' "$1" "$2" "$3"
}

ev_count() {	# ev_count KIND BAY
	ctl --json events | python3 -c '
import json, sys
print(sum(1 for e in json.load(sys.stdin)["events"]
          if e["kind"] == sys.argv[1] and (e["bay"] or "") == sys.argv[2]))' "$1" "$2"
}

wait_events() {	# wait_events KIND BAY N: until N such events were reported
	local i
	for i in $(seq 600); do
		[ "$(ev_count "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.05
	done
	pcsc_logs
	fail "fewer than $3 $1 events for '$2'"
}

softhsm_store "$STATE/hsm"
cat > "$STATE/ukeyd.conf" <<EOT
[station]
id = test-station
sources = pcsc
profile_dirs = $SRC/tests/data/firmware-profiles-station/pcsc
cert_profile_dir = $SRC/cert-profiles
worker = $BUILD/ukey-worker
EOT
start_station
orders_ready

# no pcscd yet: reported, and the daemon runs on
wait_events source-down "" 1
ev_field source-down "" message | grepq "pcscd" || fail "source-down does not name pcscd"
ctl status >/dev/null || fail "ukeyd stopped without pcscd"

pcsc_start
wait_events source-up "" 1
wait_events reader-added "pcsc:$PCSC_READER0" 1
wait_events reader-added "pcsc:$PCSC_READER1" 1

# a card: a bay named by the reader, a job, an issued certificate
vicc_insert 0
sent=$(pcsc_now_ms)
wait_events arrived "$BAY_NAME" 1
seen=$(ev_field arrived "$BAY_NAME" t_ms)
[ "$(ev_field arrived "$BAY_NAME" profile)" = test-pcsc-softhsm ] || fail "profile"
[ "$(ev_field arrived "$BAY_NAME" reader)" = "$PCSC_READER0" ] || fail "reader"
[ -n "$(ev_field arrived "$BAY_NAME" atr)" ] || fail "no ATR"
bay=$(ctl --json bays | python3 -c '
import json, sys
print([b["bay"] for b in json.load(sys.stdin) if b["name"] == sys.argv[1]][0])' "$BAY_NAME") ||
	fail "no bay $BAY_NAME"
ctl bay wait --bay "$bay" --timeout 120 >/dev/null || fail "job: $(bay_field "$bay" reason)"
[ "$(bay_field "$bay" state)" = done ] || fail "bay $bay is $(bay_field "$bay" state)"
[ "$(db "SELECT bay FROM jobs")" = "$BAY_NAME" ] || fail "job bay"
[ "$(db "SELECT count(*) FROM issuances WHERE token_profile = 'test-pcsc-softhsm'")" = 1 ] ||
	fail "nothing issued"
# from vicc's "connected" to the daemon's event: pcscd polls the reader for
# the card, which takes most of it
echo "latency pcsc: card connected to event $((seen - sent)) ms, event to job start" \
	"$(bay_field "$bay" arrival_to_job_ms) ms"

# the card leaves: the bay empties
vicc_remove 0
wait_events left "$BAY_NAME" 1
for _ in $(seq 100); do [ "$(bay_field "$bay" state)" = empty ] && break; sleep 0.05; done
[ "$(bay_field "$bay" state)" = empty ] || fail "bay not empty after the card left"

# pcscd goes away: readers and source reported gone, the daemon runs on
pcsc_stop
wait_events reader-removed "pcsc:$PCSC_READER0" 1
wait_events source-down "" 2
ctl status >/dev/null || fail "ukeyd stopped with pcscd"
ctl audit verify >/dev/null || fail "audit verify"
stop_station
echo "PASS: PC/SC source feeds bays, jobs and the event stream"
