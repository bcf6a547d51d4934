/* Revocations at the CA off the event loop: see carevoke.h. */
#include <stdio.h>
#include <string.h>

#include "ca/ca.h"
#include "common/err.h"
#include "common/log.h"
#include "station/carevoke.h"
#include "station/cathread.h"

static void
log_answer(const char *serial, int rc, const char *ca_said)
{
	if (rc != 0 && rc != UKEY_ERR_STATE)
		log_error("revoking certificate %s at the CA: %s%s%s; tried again at the next"
		    " start", serial, ukey_strerror(rc), ca_said[0] ? ": " : "", ca_said);
}

/* The embedded CA answers at once: no thread to wait for. */
static int
revoke_here(struct station *s)
{
	return station_cathread(s) == NULL || strcmp(ca_kind(station_ca(s)), "embedded") == 0;
}

void
carevoke_submit(struct station *s, const char *serial, const char *reason, carevoke_fn done,
    void *arg, void (*arg_free)(void *))
{
	struct cacall *c;
	int rc;

	if (revoke_here(s)) {
		rc = ca_revoke(station_ca(s), serial, reason);
		if (done != NULL)
			done(s, rc, "", arg);
		else
			log_answer(serial, rc, "");
		return;
	}
	if ((c = cacall_new(CACALL_REVOKE, 0)) == NULL) {
		if (done != NULL)
			done(s, UKEY_ERR_NOMEM, "", arg);
		else
			log_answer(serial, UKEY_ERR_NOMEM, "");
		return;
	}
	snprintf(c->serial, sizeof(c->serial), "%s", serial);
	snprintf(c->reason, sizeof(c->reason), "%s", reason != NULL ? reason : "");
	c->revoked = done;
	c->revoked_arg = arg;
	c->revoked_arg_free = arg_free;
	log_info("certificate %s: revocation (%s) sent to the CA thread", serial,
	    reason != NULL ? reason : "unspecified");
	cathread_submit(station_cathread(s), c);
}

int
carevoke_pending(struct station *s, const char *serial)
{
	if (station_cathread(s) == NULL)
		return 0;
	return cathread_revoking(station_cathread(s), serial);
}

void
carevoke_answer(struct station *s, struct cacall *c)
{
	carevoke_fn done = c->revoked;
	void *arg = c->revoked_arg;

	if (done == NULL) {
		log_answer(c->serial, c->rc, c->error);
		return;
	}
	c->revoked = NULL;
	c->revoked_arg = NULL;		/* done owns it now */
	done(s, c->rc, c->error, arg);
}
