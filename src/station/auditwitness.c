/* The audit log's head (record count, last hash), signed, sent at start,
 * after each checkpoint, at least once a minute and at stop to the daemon's
 * log and the [audit] witnesses, where a cut-back log is found against it. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "station/station.h"
#include "store/audit.h"
#include "station/station_impl.h"

int
station_witness_open(struct station *s)
{
	size_t i;
	int rc;

	for (i = 0; i < s->cfg.n_audit_witness; i++) {
		if ((rc = witness_sink_open(s->cfg.audit_witness[i], &s->witness[i])) != 0)
			return rc;
		s->n_witness = i + 1;
		log_info("audit witness %s", s->cfg.audit_witness[i]);
	}
	return 0;
}

void
station_witness_close(struct station *s)
{
	size_t i;

	for (i = 0; i < s->n_witness; i++) {
		witness_sink_free(s->witness[i]);
		s->witness[i] = NULL;
	}
	s->n_witness = 0;
}

void
station_witness(struct station *s, const char *event)
{
	char head[AUDIT_HASH_LEN + 1], now[32], *line = NULL;
	int64_t records = 0;
	size_t i;
	int rc;

	s->next_head_ms = now_ms() + (int64_t)s->cfg.audit_head_interval * 1000;
	if ((rc = audit_head(s->st, s->cfg.station_id, &records, head)) != 0) {
		log_error("audit witness (%s): reading the head: %s", event, ukey_strerror(rc));
		goto out;
	}
	store_now(now);
	if ((rc = witness_line_make(s->audit_key, s->cfg.station_id, records, head, now, event,
	    &line)) != 0) {
		log_error("audit witness (%s): %s", event, ukey_strerror(rc));
		goto out;
	}
	/* the daemon's own log (journald) is always a witness; the fixed tag
	 * makes the line easy to find: journalctl -t ukeyd -g ukey-witness/1 */
	log_info("%s", line);
	for (i = 0; i < s->n_witness; i++)
		if (witness_sink_write(s->witness[i], line) != 0)
			log_error("audit witness %s: the head of record %lld was not written",
			    witness_sink_name(s->witness[i]), (long long)records);
 out:
	free(line);
}

void
station_witness_if_due(struct station *s)
{
	if (now_ms() >= s->next_head_ms)
		station_witness(s, "interval");
}
