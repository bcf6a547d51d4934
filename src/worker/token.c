/* What a token says about itself (probe), its RFC 7512 name, putting a
 * blank token into service (init_token: label, SO PIN, user PIN), and giving
 * it a new user PIN with the SO PIN (unblock). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"
#include "worker/ops.h"

#define LABEL_LEN 32	/* CK_TOKEN_INFO.label: 32 bytes, blank padded */

int
token_json(const CK_TOKEN_INFO *ti, struct json_object **out)
{
	struct json_object *t;
	char label[4 * LABEL_LEN + 1], serial[17], model[17], manuf[4 * LABEL_LEN + 1];
	int rc;

	*out = NULL;
	if ((t = json_object_new_object()) == NULL)
		return UKEY_ERR_NOMEM;
	p11_text(label, sizeof(label), ti->label, sizeof(ti->label));
	p11_text(serial, sizeof(serial), ti->serialNumber, sizeof(ti->serialNumber));
	p11_text(model, sizeof(model), ti->model, sizeof(ti->model));
	p11_text(manuf, sizeof(manuf), ti->manufacturerID, sizeof(ti->manufacturerID));
	if ((rc = rep_string(t, "label", label)) != 0 ||
	    (rc = rep_string(t, "serial", serial)) != 0 ||
	    (rc = rep_string(t, "model", model)) != 0 ||
	    (rc = rep_string(t, "manufacturer", manuf)) != 0 ||
	    (rc = rep_bool(t, "initialized", ti->flags & CKF_TOKEN_INITIALIZED)) != 0 ||
	    (rc = rep_bool(t, "user_pin_initialized", ti->flags & CKF_USER_PIN_INITIALIZED)) != 0 ||
	    (rc = rep_bool(t, "user_pin_locked", ti->flags & CKF_USER_PIN_LOCKED)) != 0 ||
	    (rc = rep_bool(t, "user_pin_count_low", ti->flags & CKF_USER_PIN_COUNT_LOW)) != 0 ||
	    (rc = rep_bool(t, "user_pin_final_try", ti->flags & CKF_USER_PIN_FINAL_TRY)) != 0 ||
	    (rc = rep_bool(t, "so_pin_locked", ti->flags & CKF_SO_PIN_LOCKED)) != 0)
		goto out;
	*out = t;
	t = NULL;
	rc = 0;
 out:
	json_object_put(t);
	return rc;
}

char *
token_uri(const CK_TOKEN_INFO *ti, const struct p11uri *obj)
{
	char model[sizeof(ti->model) + 1], manuf[sizeof(ti->manufacturerID) + 1],
	    serial[sizeof(ti->serialNumber) + 1], label[sizeof(ti->label) + 1], *uri;
	struct p11uri u = { 0 };

	if (obj != NULL)
		u = *obj;
	/* the URI carries the values as the token reports them, trimmed; the
	 * text is never longer than the field it comes from */
	p11_text(model, sizeof(model), ti->model, sizeof(ti->model));
	p11_text(manuf, sizeof(manuf), ti->manufacturerID, sizeof(ti->manufacturerID));
	p11_text(serial, sizeof(serial), ti->serialNumber, sizeof(ti->serialNumber));
	p11_text(label, sizeof(label), ti->label, sizeof(ti->label));
	u.model = model;
	u.manufacturer = manuf;
	u.serial = serial;
	u.token = label;
	return p11uri_format(&u, &uri) == 0 ? uri : NULL;
}

/* Does the token offer key-pair generation with mech for a key of bits? */
static int
mech_keygen(struct p11 *p, const CK_MECHANISM_TYPE *list, CK_ULONG n, CK_MECHANISM_TYPE mech,
    CK_ULONG bits)
{
	CK_MECHANISM_INFO mi;
	CK_ULONG i;
	CK_RV rv;

	for (i = 0; i < n; i++)
		if (list[i] == mech)
			break;
	if (i == n)
		return 0;
	memset(&mi, 0, sizeof(mi));
	if ((rv = P11F(p)->C_GetMechanismInfo(p->slot, mech, &mi)) != CKR_OK) {
		log_warn("C_GetMechanismInfo(0x%lx): %s", (unsigned long)mech, p11_ckr_name(rv));
		return 0;
	}
	if (!(mi.flags & CKF_GENERATE_KEY_PAIR))
		return 0;
	/* a module reporting 0..0 gives no range, which is not a refusal */
	if (mi.ulMaxKeySize != 0 && (bits < mi.ulMinKeySize || bits > mi.ulMaxKeySize))
		return 0;
	return 1;
}

static int
probe_mechanisms(struct p11 *p, struct json_object **out)
{
	CK_MECHANISM_TYPE *list = NULL;
	CK_ULONG n = 0;
	struct json_object *m = NULL;
	CK_RV rv;
	int rc;

	*out = NULL;
	if ((rv = P11F(p)->C_GetMechanismList(p->slot, NULL, &n)) != CKR_OK)
		return p11_fail(p, "C_GetMechanismList", rv);
	if (n > 4096)
		n = 4096;
	if ((list = calloc(n + 1, sizeof(*list))) == NULL)
		return UKEY_ERR_NOMEM;
	if (n > 0 && (rv = P11F(p)->C_GetMechanismList(p->slot, list, &n)) != CKR_OK) {
		rc = p11_fail(p, "C_GetMechanismList", rv);
		goto out;
	}
	if ((m = json_object_new_object()) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if ((rc = rep_bool(m, "rsa_keygen", mech_keygen(p, list, n, CKM_RSA_PKCS_KEY_PAIR_GEN,
	    2048))) != 0 ||
	    (rc = rep_bool(m, "ec_keygen", mech_keygen(p, list, n, CKM_EC_KEY_PAIR_GEN, 256))) != 0)
		goto out;
	*out = m;
	m = NULL;
	rc = 0;
 out:
	json_object_put(m);
	free(list);
	return rc;
}

/* Counts the objects visible without login; an uninitialised token has none
 * and may refuse a session, so it is not asked. */
static int
count_public(struct p11 *p, const CK_TOKEN_INFO *ti, size_t *count)
{
	CK_OBJECT_HANDLE objs[P11_MAX_OBJECTS];
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	int rc;

	*count = 0;
	if (!(ti->flags & CKF_TOKEN_INITIALIZED))
		return 0;
	if ((rc = p11_session_open(p, 0, CKU_USER, NULL, &s)) != 0)
		return rc;
	rc = p11_find(p, s, NULL, 0, objs, P11_MAX_OBJECTS, count);
	p11_session_close(p, s, 0);
	return rc;
}

/* Adds slot_id, slot_description, token, uri, public_objects and mechanisms. */
static int
describe_token(struct p11 *p, struct json_object *rep)
{
	CK_TOKEN_INFO ti;
	CK_SLOT_INFO si;
	struct json_object *t = NULL, *m = NULL;
	char desc[4 * 64 + 1];
	char *uri = NULL;
	size_t nobj = 0;
	CK_RV rv;
	int rc;

	if ((rc = p11_ensure_slot(p, &ti)) != 0)
		return rc;
	memset(&si, 0, sizeof(si));
	if ((rv = P11F(p)->C_GetSlotInfo(p->slot, &si)) != CKR_OK)
		return p11_fail(p, "C_GetSlotInfo", rv);
	p11_text(desc, sizeof(desc), si.slotDescription, sizeof(si.slotDescription));
	if ((rc = token_json(&ti, &t)) != 0)
		goto out;
	if ((uri = token_uri(&ti, NULL)) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if ((rc = count_public(p, &ti, &nobj)) != 0 || (rc = probe_mechanisms(p, &m)) != 0)
		goto out;
	if ((rc = rep_int(rep, "slot_id", (int64_t)p->slot)) != 0 ||
	    (rc = rep_string(rep, "slot_description", desc)) != 0)
		goto out;
	rc = rep_take(rep, "token", t);
	t = NULL;		/* rep_take consumes it on every path */
	if (rc != 0)
		goto out;
	rc = rep_take(rep, "mechanisms", m);
	m = NULL;
	if (rc != 0 || (rc = rep_string(rep, "uri", uri)) != 0 ||
	    (rc = rep_int(rep, "public_objects", (int64_t)nobj)) != 0)
		goto out;
	rc = 0;
 out:
	json_object_put(t);
	json_object_put(m);
	free(uri);
	return rc;
}

#define PROBE_MAX_EXCLUDE 64
#define PROBE_MAX_WAIT_MS 120000
#define PROBE_RETRY_MS 250

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the probe's slot criteria (docs/worker-protocol.md). */
static int
probe_match(struct p11 *p, struct json_object *req, struct p11_match *m, const char **ex,
    int64_t *wait_ms, int *any)
{
	struct json_object *v;
	const char *how = NULL;
	size_t i, n;
	int rc;

	memset(m, 0, sizeof(*m));
	*wait_ms = 0;
	*any = 0;
	if ((rc = req_string(p, req, "match", 0, 16, &how)) != 0 ||
	    (rc = req_string(p, req, "reader_pattern", 0, 127, &m->reader_pattern)) != 0 ||
	    (rc = req_string(p, req, "reader", 0, 127, &m->reader)) != 0 ||
	    (rc = req_string(p, req, "usb_serial", 0, 127, &m->usb_serial)) != 0 ||
	    (rc = req_string(p, req, "token_serial", 0, 16, &m->token_serial)) != 0)
		return rc;
	if (how == NULL || strcmp(how, "any") == 0) {
		/* the module shows this bay's token store only (virtual tokens):
		 * its first token is the bay's, whatever other slots it lists */
		m->reader_pattern = m->reader = m->usb_serial = NULL;
		*any = 1;
	} else if (strcmp(how, "reader") == 0) {
		if (m->reader_pattern == NULL)
			return p11_error(p, UKEY_ERR_PROTO, "match reader needs reader_pattern");
		m->usb_serial = NULL;
	} else if (strcmp(how, "usb-serial") == 0) {
		/* without the USB serial nothing ties a slot to this bay */
		if (m->usb_serial == NULL)
			return p11_error(p, UKEY_ERR_UNSUPPORTED, "the profile finds the token by"
			    " its USB serial number, and the device reported none");
		m->reader_pattern = m->reader = NULL;
	} else {
		return p11_error(p, UKEY_ERR_PROTO, "match: unknown value '%s'", how);
	}
	if ((v = json_object_object_get(req, "exclude")) != NULL) {
		if (!json_object_is_type(v, json_type_array) ||
		    (n = json_object_array_length(v)) > PROBE_MAX_EXCLUDE)
			return p11_error(p, UKEY_ERR_PROTO, "exclude: must be an array of at most %d"
			    " serials", PROBE_MAX_EXCLUDE);
		for (i = 0; i < n; i++) {
			struct json_object *e = json_object_array_get_idx(v, i);

			if (!json_object_is_type(e, json_type_string))
				return p11_error(p, UKEY_ERR_PROTO, "exclude: must hold strings");
			ex[i] = json_object_get_string(e);
		}
		m->exclude = ex;
		m->n_exclude = n;
	}
	if ((v = json_object_object_get(req, "wait_ms")) != NULL) {
		if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
		    json_object_get_int64(v) > PROBE_MAX_WAIT_MS)
			return p11_error(p, UKEY_ERR_PROTO, "wait_ms: must be 0..%d", PROBE_MAX_WAIT_MS);
		*wait_ms = json_object_get_int64(v);
	}
	return 0;
}

/* A worker kept for the bay's next token (docs/worker-protocol.md, "A worker
 * for many tokens"): with "rescan", the module's slots are released and
 * enumerated again, after SOFTHSM2_CONF is set to "softhsm_conf" when given
 * (a virtual token has its own SoftHSM2 token store, which SoftHSM2 reads at
 * C_Initialize). Without it, only the kept session is closed. */
static int
probe_fresh(struct p11 *p, struct json_object *req)
{
	struct json_object *v = json_object_object_get(req, "rescan");
	const char *conf = NULL;
	int rc;

	p11_session_drop(p);
	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return p11_error(p, UKEY_ERR_PROTO, "rescan: must be true or false");
	if ((rc = req_string(p, req, "softhsm_conf", 0, 511, &conf)) != 0)
		return rc;
	if (!json_object_get_boolean(v))
		return 0;
	if (conf != NULL && setenv("SOFTHSM2_CONF", conf, 1) != 0)
		return p11_error(p, UKEY_ERR_NOMEM, "softhsm_conf: cannot set SOFTHSM2_CONF");
	return p11_rescan(p);
}

int
op_probe(struct p11 *p, struct json_object *req, struct json_object *rep)
{
	const char *ex[PROBE_MAX_EXCLUDE];
	struct p11_match m;
	int64_t wait_ms, deadline;
	size_t ncand = 0;
	int rc, tries = 0, any;

	if ((rc = probe_match(p, req, &m, ex, &wait_ms, &any)) != 0 ||
	    (rc = probe_fresh(p, req)) != 0)
		return rc;
	/* a probe starts afresh: the bay may hold a different token now. A
	 * token the USB source reported may not be in the module's slot list
	 * yet: release and re-enumerate until it is, or the wait is over. */
	deadline = mono_ms() + wait_ms;
	for (;;) {
		rc = any ? p11_find_slot(p, m.token_serial) : p11_select_slot(p, &m, &ncand);
		tries++;
		if (rc == 0 || (rc != UKEY_ERR_REMOVED && rc != UKEY_ERR_BUSY) || mono_ms() >= deadline)
			break;
		p11_error_clear(p);
		{
			struct timespec ts = { 0, PROBE_RETRY_MS * 1000000L };

			nanosleep(&ts, NULL);
		}
		if ((rc = p11_rescan(p)) != 0)
			return rc;
	}
	if (rc != 0)
		return rc;
	if (tries > 1)
		log_info("token '%s' found after %d slot scans", p->serial, tries);
	return describe_token(p, rep);
}

static int
check_pin_len(struct p11 *p, const CK_TOKEN_INFO *ti, const char *field, const struct secret *pin)
{
	if (ti->ulMaxPinLen != 0 && (pin->len < ti->ulMinPinLen || pin->len > ti->ulMaxPinLen))
		return p11_error(p, UKEY_ERR_PIN, "%s: length %zu outside the token's range %lu..%lu",
		    field, pin->len, (unsigned long)ti->ulMinPinLen, (unsigned long)ti->ulMaxPinLen);
	return 0;
}

int
op_init_token(struct p11 *p, struct json_object *req, struct json_object *rep)
{
	struct secret so_pin = { 0 }, user_pin = { 0 }, old_so_pin = { 0 };
	const struct secret *init_pin;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_TOKEN_INFO ti;
	CK_UTF8CHAR label32[LABEL_LEN];
	CK_SLOT_ID old_slot;
	struct json_object *t = NULL;
	char *uri = NULL;
	char serial[17];
	const char *label;
	int rc, reinit, logged_in = 0;
	CK_RV rv;

	if ((rc = req_string(p, req, "label", 1, 1024, &label)) != 0 ||
	    (rc = req_pin(p, req, "so_pin", 1, &so_pin)) != 0 ||
	    (rc = req_pin(p, req, "user_pin", 1, &user_pin)) != 0 ||
	    (rc = req_pin(p, req, "old_so_pin", 0, &old_so_pin)) != 0)
		goto out;
	if (!utf8_valid(label, strlen(label)) || utf8_has_control(label)) {
		rc = p11_error(p, UKEY_ERR_INVAL, "label: must be UTF-8 text without control"
		    " characters");
		goto out;
	}
	/* the station fits the label to the token (certprof_label: cut on a
	 * character boundary); a longer one here is the sender's error */
	if (strlen(label) > LABEL_LEN) {
		rc = p11_error(p, UKEY_ERR_INVAL, "label: %zu bytes, a token label holds at most %d",
		    strlen(label), LABEL_LEN);
		goto out;
	}
	memset(label32, ' ', sizeof(label32));
	memcpy(label32, label, strlen(label));
	if ((rc = p11_ensure_slot(p, &ti)) != 0)
		goto out;
	if ((rc = check_pin_len(p, &ti, "so_pin", &so_pin)) != 0 ||
	    (rc = check_pin_len(p, &ti, "user_pin", &user_pin)) != 0)
		goto out;
	reinit = (ti.flags & CKF_TOKEN_INITIALIZED) && old_so_pin.p != NULL;
	init_pin = reinit ? &old_so_pin : &so_pin;
	old_slot = p->slot;
	log_info("initialising token in slot %lu%s", (unsigned long)old_slot,
	    reinit ? " (again, with the old SO PIN)" : "");
	p11_session_drop(p);	/* C_InitToken needs no session open on the token */
	if ((rv = P11F(p)->C_InitToken(p->slot, init_pin->p, (CK_ULONG)init_pin->len,
	    label32)) != CKR_OK) {
		rc = p11_fail(p, "C_InitToken", rv);
		goto out;
	}
	/* SoftHSM2 moves a freshly initialised token to a new slot id (and shows
	 * a new blank token in another): learn the serial the token now has from
	 * its old slot, then find that serial in a fresh slot list */
	memset(&ti, 0, sizeof(ti));
	if ((rv = P11F(p)->C_GetTokenInfo(old_slot, &ti)) != CKR_OK) {
		rc = p11_fail(p, "C_GetTokenInfo", rv);
		goto out;
	}
	p11_text(serial, sizeof(serial), ti.serialNumber, sizeof(ti.serialNumber));
	if ((rc = p11_find_slot(p, serial)) != 0)
		goto out;
	if (p->slot != old_slot)
		log_info("token '%s' moved from slot %lu to slot %lu", serial,
		    (unsigned long)old_slot, (unsigned long)p->slot);
	if ((rc = p11_session_open(p, 1, CKU_SO, init_pin, &s)) != 0)
		goto out;
	logged_in = 1;
	if (reinit && (rv = P11F(p)->C_SetPIN(s, old_so_pin.p, (CK_ULONG)old_so_pin.len, so_pin.p,
	    (CK_ULONG)so_pin.len)) != CKR_OK) {
		rc = p11_fail(p, "C_SetPIN(SO)", rv);
		goto out;
	}
	if ((rv = P11F(p)->C_InitPIN(s, user_pin.p, (CK_ULONG)user_pin.len)) != CKR_OK) {
		rc = p11_fail(p, "C_InitPIN", rv);
		goto out;
	}
	p11_session_close(p, s, logged_in);
	s = CK_INVALID_HANDLE;
	if ((rc = p11_ensure_slot(p, &ti)) != 0 || (rc = token_json(&ti, &t)) != 0)
		goto out;
	if ((uri = token_uri(&ti, NULL)) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	rc = rep_take(rep, "token", t);
	t = NULL;
	if (rc != 0 || (rc = rep_int(rep, "slot_id", (int64_t)p->slot)) != 0 ||
	    (rc = rep_string(rep, "uri", uri)) != 0)
		goto out;
	log_info("token '%s' initialised in slot %lu", serial, (unsigned long)p->slot);
	rc = 0;
 out:
	json_object_put(t);
	free(uri);
	p11_session_close(p, s, logged_in);
	secret_clear(&so_pin);
	secret_clear(&user_pin);
	secret_clear(&old_so_pin);
	return rc;
}

/* A failed C_Login(SO) in words an administrator can act on; the CKR name
 * stays in the message and in the reply's ckr field. */
static void
so_login_message(struct p11 *p, CK_RV rv)
{
	const char *what = NULL;

	if (rv == CKR_PIN_INCORRECT)
		what = "the station's SO PIN for this token is wrong";
	else if (rv == CKR_PIN_LOCKED)
		what = "SO PIN locked: the token cannot be unblocked";
	if (what != NULL && p->err_ckr != NULL)
		snprintf(p->err_msg, sizeof(p->err_msg), "C_Login(SO): %s: %s", p->err_ckr, what);
}

int
op_unblock(struct p11 *p, struct json_object *req, struct json_object *rep)
{
	struct secret so_pin = { 0 }, user_pin = { 0 };
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_TOKEN_INFO ti;
	struct json_object *t = NULL;
	char serial[17];
	int rc, logged_in = 0;
	CK_RV rv;

	if ((rc = req_pin(p, req, "so_pin", 1, &so_pin)) != 0 ||
	    (rc = req_pin(p, req, "user_pin", 1, &user_pin)) != 0)
		goto out;
	if ((rc = p11_ensure_slot(p, &ti)) != 0)
		goto out;
	p11_text(serial, sizeof(serial), ti.serialNumber, sizeof(ti.serialNumber));
	if (!(ti.flags & CKF_TOKEN_INITIALIZED)) {
		rc = p11_error(p, UKEY_ERR_STATE, "token '%s' is not initialised: there is no user PIN"
		    " to unblock", serial);
		goto out;
	}
	if ((rc = check_pin_len(p, &ti, "user_pin", &user_pin)) != 0)
		goto out;
	/* each try with a wrong SO PIN brings a real token closer to being
	 * lost for good: a token that already says its SO PIN is locked is
	 * not asked */
	if (ti.flags & CKF_SO_PIN_LOCKED) {
		rc = p11_error(p, UKEY_ERR_PIN, "token '%s' reports CKF_SO_PIN_LOCKED: SO PIN locked:"
		    " the token cannot be unblocked", serial);
		goto out;
	}
	if ((rc = p11_session_open(p, 1, CKU_SO, NULL, &s)) != 0)
		goto out;
	rv = P11F(p)->C_Login(s, CKU_SO, so_pin.p, (CK_ULONG)so_pin.len);
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		rc = p11_fail(p, "C_Login(SO)", rv);
		so_login_message(p, rv);
		goto out;
	}
	logged_in = 1;
	/* C_InitPIN as SO sets a new user PIN and, on tokens that count
	 * failures, clears the user PIN's lock; keys and certificates stay */
	if ((rv = P11F(p)->C_InitPIN(s, user_pin.p, (CK_ULONG)user_pin.len)) != CKR_OK) {
		rc = p11_fail(p, "C_InitPIN", rv);
		goto out;
	}
	p11_session_close(p, s, logged_in);
	s = CK_INVALID_HANDLE;
	logged_in = 0;
	if ((rc = p11_ensure_slot(p, &ti)) != 0 || (rc = token_json(&ti, &t)) != 0)
		goto out;
	rc = rep_take(rep, "token", t);
	t = NULL;
	if (rc != 0)
		goto out;
	log_info("token '%s': user PIN set by the SO", serial);
	rc = 0;
 out:
	json_object_put(t);
	p11_session_close(p, s, logged_in);
	secret_clear(&so_pin);
	secret_clear(&user_pin);
	return rc;
}
