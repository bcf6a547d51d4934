# ukeyd with a USB detection source (libusb hotplug, then the udev monitor)
# under a umockdev testbed: a mock ePass2003 plugged into port 1-2 becomes bay
# "usb:1-2", its profile's module (SoftHSM2 here) finds its slot, and a
# certificate is issued on it; pulling it empties the bay; a device whose
# firmware no profile covers is reported and never touched. Prints the time
# from the testbed's uevent to the source's event and from there to job start.
. "$(dirname "$0")/lib.sh"
# shellcheck source=usbbed.sh
. "$SRC/tests/integration/usbbed.sh"
trap 'usbbed_cleanup; cleanup' EXIT

DATA=$SRC/tests/data/umockdev
HUB=$DATA/usb1-root-hub.umockdev

# ev_field KIND BAY FIELD: FIELD of the last event KIND at BAY ("" if none)
ev_field() {
	ctl --json events | python3 -c '
import json, sys
v = ""
for e in json.load(sys.stdin)["events"]:
    if e["kind"] == sys.argv[1] and e["bay"] == sys.argv[2]:
        v = e.get(sys.argv[3])
print("" if v is None else v)' "$1" "$2" "$3"
}

wait_event() {	# wait_event KIND BAY
	local i
	for i in $(seq 600); do
		[ -n "$(ev_field "$1" "$2" seq)" ] && return 0
		sleep 0.05
	done
	fail "no $1 event for $2"
}

bay_by_name() {	# bay_by_name NAME FIELD
	ctl --json bays | python3 -c '
import json, sys
for b in json.load(sys.stdin):
    if b["name"] == sys.argv[1]:
        v = b.get(sys.argv[2])
        print("" if v is None else v)' "$1" "$2"
}

passed=0
for source in libusb udev; do
	rm -rf "$STATE"/*
	softhsm_store "$STATE/hsm"
	cat > "$STATE/ukeyd.conf" <<EOT
[station]
id = test-station
sources = $source
profile_dirs = $SRC/tests/data/firmware-profiles-station/usb
cert_profile_dir = $SRC/cert-profiles
worker = $BUILD/ukey-worker
EOT
	store_reset	# each source on a new store (its master key is new)
	store_conf "$STATE/ukeyd.conf"
	usbbed_start "$STATE/ukeyd.out" --device "$HUB" -- \
		bash -c "exec '$BUILD/ukeyd' --state '$STATE' 2>>'$STATE/ukeyd.log'" || fail "usbbed"
	for _ in $(seq 200); do ctl status >/dev/null 2>&1 && break; sleep 0.05; done
	ctl status >/dev/null || fail "$source: ukeyd did not start"
	[ "$(ctl --json sources | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["status"])')" = running ] ||
		fail "$source: source not running: $(ctl sources)"
	orders_ready

	# a known token: a bay named by its port, a job, an issued certificate
	syspath=$(usbbed_add "$DATA/epass2003-1-2.umockdev") || fail "add"
	sent=$(usbbed_last_ms)
	wait_event arrived usb:1-2
	[ "$(ev_field arrived usb:1-2 source)" = "$source" ] || fail "$source: event source"
	[ "$(ev_field arrived usb:1-2 profile)" = test-usb-softhsm ] || fail "$source: profile"
	[ "$(ev_field arrived usb:1-2 vid)" = 096e ] && [ "$(ev_field arrived usb:1-2 pid)" = 0807 ] ||
		fail "$source: ids"
	[ "$(ev_field arrived usb:1-2 usb_serial)" = 0F1E2D3C4B5A0102 ] || fail "$source: serial"
	seen=$(ev_field arrived usb:1-2 t_ms)
	bay=$(bay_by_name usb:1-2 bay)
	[ -n "$bay" ] || fail "$source: no bay usb:1-2"
	ctl bay wait --bay "$bay" --timeout 120 >/dev/null || fail "$source: job: $(bay_field "$bay" reason)"
	[ "$(bay_field "$bay" state)" = done ] || fail "$source: bay $bay is $(bay_field "$bay" state)"
	[ "$(db "SELECT count(*) FROM issuances WHERE token_profile = 'test-usb-softhsm'")" = 1 ] ||
		fail "$source: nothing issued"
	[ "$(db "SELECT bay FROM jobs")" = usb:1-2 ] || fail "$source: job bay"
	# usbbed gives milliseconds with a fraction
	echo "latency $source: uevent to event $(python3 -c 'import sys; print(round(float(sys.argv[1]) - float(sys.argv[2])))' \
		"$seen" "$sent") ms, event to job start $(bay_field "$bay" arrival_to_job_ms) ms"

	# pulled: the bay empties
	usbbed_remove "$syspath" || fail "remove"
	wait_event left usb:1-2
	for _ in $(seq 100); do [ "$(bay_field "$bay" state)" = empty ] && break; sleep 0.05; done
	[ "$(bay_field "$bay" state)" = empty ] || fail "$source: bay not empty after the pull"

	# firmware outside every profile: reported with its ids, never touched
	usbbed_add "$DATA/epass2003-newfw-1-4.umockdev" >/dev/null || fail "add newfw"
	wait_event arrived usb:1-4
	[ -z "$(ev_field arrived usb:1-4 profile)" ] || fail "$source: unknown firmware got a profile"
	[ "$(ev_field arrived usb:1-4 bcd)" = 0300 ] || fail "$source: bcd"
	b4=$(bay_by_name usb:1-4 bay)
	[ "$(bay_field "$b4" state)" = refused ] || fail "$source: unknown token not refused"
	bay_field "$b4" reason | grepq "no firmware profile" || fail "$source: reason $(bay_field "$b4" reason)"
	[ "$(db "SELECT count(*) FROM audit WHERE action = 'bay.unknown_token' AND bay = 'usb:1-4'")" = 1 ] ||
		fail "$source: the unknown token is not audited"
	[ "$(db "SELECT count(*) FROM jobs")" = 1 ] || fail "$source: a job ran on the unknown token"

	ctl audit verify >/dev/null || fail "$source: audit verify"
	usbbed_stop || fail "$source: ukeyd exited with an error status"
	echo "ok: $source"
	passed=$((passed + 1))
done
[ "$passed" = 2 ] || fail "only $passed of 2 sources went through"
echo "PASS: USB sources feed bays, jobs and the event stream"
