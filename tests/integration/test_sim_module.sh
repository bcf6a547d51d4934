# sim.softhsm_module: the module the simulated bays' workers load. A path that
# is not there refuses the bay with a reason naming it; another copy of
# SoftHSM2 is the one the workers load; without the key, the softhsm2
# profile's module is, as before.
. "$(dirname "$0")/lib.sh"

# a module path that does not exist: the bay is refused and says which
write_config
sed -i 's|^\[sim\]$|[sim]\nsofthsm_module = /nonexistent/libsofthsm2.so|' "$STATE/ukeyd.conf"
start_station
ctl sim plug --bay 1 --wait >/dev/null 2>&1 || true
[ "$(bay_field 1 state)" = refused ] || fail "bogus module: bay 1 is $(bay_field 1 state)"
bay_field 1 reason | grepq "sim.softhsm_module /nonexistent/libsofthsm2.so: No such file" ||
	fail "bogus module: reason does not name it: $(bay_field 1 reason)"
grepq "module /nonexistent/libsofthsm2.so loaded" "$STATE/ukeyd.log" && fail "a worker was started with the bogus module"
stop_station

# a copy of SoftHSM2 under another name: the workers load that one, and a
# token is issued with it
mkdir -p "$STATE/lib"
cp "$SOFTHSM_MODULE" "$STATE/lib/softhsm-copy.so"
write_config
sed -i "s|^\[sim\]\$|[sim]\nsofthsm_module = $STATE/lib/softhsm-copy.so|" "$STATE/ukeyd.conf"
start_station
orders_ready
ctl sim plug --bay 1 --wait >/dev/null || fail "token not issued with the configured module: $(bay_field 1 reason)"
grepq "module $STATE/lib/softhsm-copy.so loaded" "$STATE/ukeyd.log" ||
	fail "the worker did not load sim.softhsm_module"
grepq "module $SOFTHSM_MODULE loaded" "$STATE/ukeyd.log" &&
	fail "a worker loaded the profile's module despite sim.softhsm_module"
[ "$(db "SELECT count(*) FROM issuances")" = 1 ] || fail "no issuance with the configured module"
stop_station

# no key: the softhsm2 profile's module, as before
: > "$STATE/ukeyd.log"
write_config
start_station
ctl sim plug --bay 2 --wait >/dev/null || fail "token not issued with the default module: $(bay_field 2 reason)"
grepq "module $SOFTHSM_MODULE loaded" "$STATE/ukeyd.log" ||
	fail "without sim.softhsm_module the worker did not load the profile's module"
stop_station
echo "PASS: sim.softhsm_module refused when missing, loaded when set, default otherwise"
