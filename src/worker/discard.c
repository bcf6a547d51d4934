/* What renewing a token asks of it besides issuance's steps: checking the
 * holder's PIN before anything is changed (login), and removing the
 * superseded key pair and certificate once the new ones are verified
 * (discard). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "worker/ops.h"

#define DISCARD_BATCH 8
#define DISCARD_ROUNDS (P11_MAX_OBJECTS / DISCARD_BATCH)

int
discard_objects(struct p11 *p, CK_SESSION_HANDLE s, const uint8_t *id, size_t idlen,
    size_t *count)
{
	CK_ATTRIBUTE t[] = { { CKA_ID, (void *)id, (CK_ULONG)idlen } };
	CK_OBJECT_HANDLE objs[DISCARD_BATCH];
	size_t n, i, total = 0;
	int rc, round;
	CK_RV rv;

	for (round = 0; round < DISCARD_ROUNDS; round++) {
		if ((rc = p11_find(p, s, t, 1, objs, DISCARD_BATCH, &n)) != 0)
			return rc;
		if (n == 0)
			break;
		for (i = 0; i < n; i++)
			if ((rv = P11F(p)->C_DestroyObject(s, objs[i])) != CKR_OK)
				return p11_fail(p, "C_DestroyObject", rv);
		total += n;
	}
	if (round == DISCARD_ROUNDS)
		return p11_error(p, UKEY_ERR_P11, "objects with that CKA_ID keep appearing after "
		    "C_DestroyObject");
	if (total > 0)
		log_info("destroyed %zu objects", total);
	if (count != NULL)
		*count = total;
	return 0;
}

/* Adds to a failed login's message what the token now says of the PIN, so
 * that the operator can tell the holder how many tries are left, and puts
 * the token's state (its flags) in the error reply. */
static void
login_explain(struct p11 *p, struct json_object *rep)
{
	struct json_object *tok = NULL;
	CK_TOKEN_INFO ti;
	const char *what = NULL;
	size_t len = strlen(p->err_msg);

	if (p11_ensure_slot(p, &ti) != 0)
		return;
	if (token_json(&ti, &tok) == 0)
		rep_take(rep, "token", tok);
	if (ti.flags & CKF_USER_PIN_LOCKED)
		what = "the user PIN is now locked";
	else if (ti.flags & CKF_USER_PIN_FINAL_TRY)
		what = "one try is left";
	else if (ti.flags & CKF_USER_PIN_COUNT_LOW)
		what = "the token counts the wrong tries";
	if (what != NULL && len < sizeof(p->err_msg))
		snprintf(p->err_msg + len, sizeof(p->err_msg) - len, " (%s)", what);
}

int
op_login(struct p11 *p, struct json_object *req, struct json_object *rep)
{
	struct secret pin = { 0 };
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	struct json_object *tok = NULL;
	CK_TOKEN_INFO ti;
	int rc;

	if ((rc = req_pin(p, req, "user_pin", 1, &pin)) != 0)
		goto out;
	if ((rc = p11_ensure_slot(p, &ti)) != 0)
		goto out;
	if (!(ti.flags & CKF_USER_PIN_INITIALIZED)) {
		rc = p11_error(p, UKEY_ERR_STATE, "the token has no user PIN");
		goto out;
	}
	if (ti.flags & CKF_USER_PIN_LOCKED) {
		/* no try: it could only fail, and some tokens count it */
		rc = p11_error(p, UKEY_ERR_PIN, "the user PIN is locked (CKF_USER_PIN_LOCKED)");
		goto out;
	}
	if ((rc = p11_session_open(p, 0, CKU_USER, &pin, &s)) != 0) {
		login_explain(p, rep);
		goto out;
	}
	p11_session_close(p, s, 1);
	if ((rc = p11_ensure_slot(p, &ti)) != 0 || (rc = token_json(&ti, &tok)) != 0 ||
	    (rc = rep_take(rep, "token", tok)) != 0)
		goto out;
 out:
	secret_clear(&pin);
	return rc;
}

int
op_discard(struct p11 *p, struct json_object *req, struct json_object *rep)
{
	struct secret pin = { 0 };
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	uint8_t *id = NULL;
	size_t idlen = 0, n = 0;
	int rc;

	if ((rc = req_pin(p, req, "user_pin", 1, &pin)) != 0 ||
	    (rc = req_hex(p, req, "id", 1, P11_MAX_ID, &id, &idlen)) != 0)
		goto out;
	if ((rc = p11_session_open(p, 1, CKU_USER, &pin, &s)) != 0)
		goto out;
	rc = discard_objects(p, s, id, idlen, &n);
	p11_session_close(p, s, 1);
	if (rc == 0)
		rc = rep_int(rep, "destroyed", (int64_t)n);
 out:
	free(id);
	secret_clear(&pin);
	return rc;
}
