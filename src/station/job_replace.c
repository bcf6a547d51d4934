/* Replacement (补办) after the record: once the new certificate of a
 * replacement unit is verified and recorded (with its link to the
 * certificate it replaces, in the record's own transaction), the replaced
 * certificate, if the record still has it live, is revoked at the CA and in
 * the record, audited (cert.revoke naming the replacement). docs/lifecycle.md */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "orders/tokenlife.h"
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

/* Revokes r's replaced certificate (CA first, then the record with its
 * audit record: station_revoke_cert), when the record still has it live. */
static int
revoke_replaced(struct station *s, const char *actor, const struct store_replaced *r)
{
	struct store_issuance_rev iss = { 0 };
	char remark[256], now[32];
	const char *reason;
	int rc;

	if ((rc = store_issuance_by_serial(station_store(s), r->old_serial, &iss)) != 0)
		goto out;
	if (iss.revoked_at != NULL)
		goto out;		/* revoked since: nothing left to do */
	reason = replaced_reason(s, iss.token_serial);
	snprintf(remark, sizeof(remark), "replaced by certificate %s (replacement order %lld,"
	    " unit %lld)", r->new_serial, (long long)r->order_id, (long long)r->unit_id);
	rc = station_revoke_cert(s, actor, &iss, reason, remark, now);
	if (rc == 0)
		log_info("certificate %s replaced by %s: revoked (%s)", iss.cert_serial,
		    r->new_serial, reason);
 out:
	if (rc != 0)
		log_error("certificate %s, replaced by %s: not revoked: %s; ukeyd tries again at"
		    " its next start", r->old_serial, r->new_serial, ukey_strerror(rc));
	store_issuance_rev_clear(&iss);
	return rc;
}

/* Revokes the replaced certificates still live of new_serial (NULL: of
 * every replacement), then publishes a CRL when one was revoked. */
static int
revoke_all_replaced(struct station *s, const char *actor, const char *new_serial)
{
	struct store_replaced *a = NULL;
	size_t i, n = 0;
	int rc, first = 0, done = 0;

	if ((rc = store_replaced_live(station_store(s), new_serial, &a, &n)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		if ((rc = revoke_replaced(s, actor, &a[i])) != 0 && first == 0)
			first = rc;
		else if (rc == 0)
			done++;
	}
	store_replaced_free(a, n);
	if (done > 0)
		(void)station_crl_publish(s, NULL);
	return first;
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
