/* What the daemon's modules read of its state (station.h): the event loop
 * owns struct station (station_impl.h); these are the only ways in for the
 * rest. */
#include "station/station_impl.h"

struct store *
station_store(const struct station *s)
{
	return s->st;
}

const struct station_config *
station_cfg(const struct station *s)
{
	return &s->cfg;
}

struct ca *
station_ca(const struct station *s)
{
	return s->ca;
}

const char *
station_ca_hex(const struct station *s)
{
	return s->ca_hex;
}

struct cathread *
station_cathread(const struct station *s)
{
	return s->cathread;
}

struct fw_profile_set *
station_fw(const struct station *s)
{
	return s->fw;
}

struct certprof_set *
station_cp(const struct station *s)
{
	return s->cp;
}

const uint8_t *
station_master_key(const struct station *s)
{
	return s->master_key;
}

EVP_PKEY *
station_audit_key(const struct station *s)
{
	return s->audit_key;
}

const char *
station_state_dir(const struct station *s)
{
	return s->state_dir;
}

const struct dual_actors *
station_dual(const struct station *s)
{
	return s->dual;
}

void
station_set_dual(struct station *s, const struct dual_actors *d)
{
	s->dual = d;
}

struct bay *
station_bay(struct station *s, int i)
{
	return i >= 0 && i < s->n_bays ? &s->bays[i] : NULL;
}

int
station_n_bays(const struct station *s)
{
	return s->n_bays;
}
