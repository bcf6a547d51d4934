# The PC/SC station test as it runs where no namespace can be made (an
# unprivileged container): pcscd on the machine's /run/pcscd, vpcd on a
# private port, the PC/SC tests taking turns (tests/integration/pcsc_env.sh).
export UKEY_PCSC_NS=none
exec bash "$(dirname "$0")/test_station_pcsc.sh"
