/* Replacement (补办) after the record: once the new certificate of a
 * replacement unit is verified and recorded (with its link to the
 * certificate it replaces, in the record's own transaction), the replaced
 * certificate, if the record still has it live, is revoked at the CA and in
 * the record, audited (cert.revoke naming the replacement). docs/lifecycle.md */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "orders/tokenlife.h"
#include "station/carevoke.h"
#include "station/job.h"
#include "station/station.h"
#include "store/store_jobs.h"
#include "store/store_revoke.h"
#include "store/store_tokens.h"

/* keyCompromise when the replaced certificate's token was marked lost
 * (someone else may hold the key), cessationOfOperation otherwise. */
static const char *
replaced_reason(struct station *s, const char *token_serial)
{
	struct store_token_mark *m = NULL;
	const char *reason = "cessationOfOperation";
	size_t n = 0;

	if (store_token_marks(station_store(s), token_serial, &m, &n) == 0 && n > 0 &&
	    strcmp(m[n - 1].state, "lost") == 0)
		reason = token_mark_reason(TS_LOST);
	store_token_marks_free(m, n);
	return reason;
}

/* The replaced certificates to revoke, one after the other: with an
 * external CA each waits for the CA's answer off the event loop. */
struct replace_run {
	char actor[64];
	struct store_replaced *a;
	size_t n, i;
	int done;
};

static void
replace_run_free(void *p)
{
	struct replace_run *w = p;

	if (w != NULL)
		store_replaced_free(w->a, w->n);
	free(w);
}

static void replace_next(struct station *s, struct replace_run *w);

/* One replaced certificate revoked, or not (cert_revoked_fn): logged, and
 * the next one. */
static void
replace_revoked(struct station *s, int rc, const char *ca_said, const char *now, void *arg)
{
	struct replace_run *w = arg;
	const struct store_replaced *r = &w->a[w->i];

	(void)now;
	if (rc == 0) {
		log_info("certificate %s replaced by %s: revoked", r->old_serial, r->new_serial);
		w->done++;
	} else {
		log_error("certificate %s, replaced by %s: not revoked: %s%s%s; ukeyd tries again at"
		    " its next start", r->old_serial, r->new_serial, ukey_strerror(rc),
		    ca_said[0] ? ": " : "", ca_said);
	}
	w->i++;
	replace_next(s, w);
}

/* Revokes the next replaced certificate (CA first, then the record with
 * its audit record: station_revoke_cert) when the record still has it
 * live; after the last, publishes a CRL when one was revoked. */
static void
replace_next(struct station *s, struct replace_run *w)
{
	struct store_issuance_rev iss = { 0 };
	const struct store_replaced *r;
	char remark[256];
	int rc;

	for (; w->i < w->n; w->i++) {
		r = &w->a[w->i];
		if ((rc = store_issuance_by_serial(station_store(s), r->old_serial, &iss)) != 0) {
			log_error("certificate %s, replaced by %s: not revoked: %s; ukeyd tries again"
			    " at its next start", r->old_serial, r->new_serial, ukey_strerror(rc));
			continue;
		}
		if (iss.revoked_at != NULL || carevoke_pending(s, iss.cert_serial)) {
			store_issuance_rev_clear(&iss);
			continue;	/* revoked since, or being revoked: nothing left to do */
		}
		snprintf(remark, sizeof(remark), "replaced by certificate %s (replacement order"
		    " %lld, unit %lld)", r->new_serial, (long long)r->order_id, (long long)r->unit_id);
		/* w may be freed by the time this returns */
		station_revoke_cert(s, w->actor, &iss, replaced_reason(s, iss.token_serial), remark,
		    replace_revoked, w, replace_run_free);
		store_issuance_rev_clear(&iss);
		return;
	}
	if (w->done > 0)	/* signed off the loop */
		station_crl_publish_async(s, NULL, NULL, NULL);
	replace_run_free(w);
}

/* Revokes the replaced certificates still live of new_serial (NULL: of
 * every replacement), then publishes a CRL when one was revoked. */
static int
revoke_all_replaced(struct station *s, const char *actor, const char *new_serial)
{
	struct replace_run *w = calloc(1, sizeof(*w));
	int rc;

	if (w == NULL)
		return UKEY_ERR_NOMEM;
	snprintf(w->actor, sizeof(w->actor), "%s", actor);
	if ((rc = store_replaced_live(station_store(s), new_serial, &w->a, &w->n)) != 0) {
		free(w);
		return rc;
	}
	replace_next(s, w);
	return 0;
}

void
job_replace_after_record(struct station *s, const struct store_job *job)
{
	if (job->src.replaces_cert == NULL || job->cert_serial == NULL)
		return;
	(void)revoke_all_replaced(s, job->operator_name, job->cert_serial);
}

int
job_replace_resume(struct station *s)
{
	return revoke_all_replaced(s, "ukeyd", NULL);
}
