/* Generating the key pair on the token (generate_key) and proving that the
 * private half was made there, can never leave and can do only what the
 * certificate allows: the evidence and usage attributes are read back and a
 * key that fails them is destroyed at once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "common/err.h"
#include "common/log.h"
#include "common/spki.h"
#include "worker/keytmpl.h"
#include "worker/ops.h"

static void
destroy_quietly(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, const char *what)
{
	CK_RV rv;

	if (o == CK_INVALID_HANDLE)
		return;
	if ((rv = P11F(p)->C_DestroyObject(s, o)) != CKR_OK)
		log_error("C_DestroyObject (%s): %s", what, p11_ckr_name(rv));
	else
		log_info("destroyed the new %s", what);
}

/* Longest key generation the simulated bays may ask for (10 minutes). */
#define SIM_KEYGEN_DELAY_MAX_MS 600000

/* The simulated bays' keygen delay (sim.keygen_delay_ms, docs/config.md):
 * with "sim_keygen_delay_ms" the worker waits that long before generating,
 * so that a virtual token takes as long as a real one. */
static int
sim_keygen_delay(struct p11 *p, struct json_object *req)
{
	struct json_object *v = json_object_object_get(req, "sim_keygen_delay_ms");
	struct timespec ts;
	int64_t ms;

	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_int) || (ms = json_object_get_int64(v)) < 0 ||
	    ms > SIM_KEYGEN_DELAY_MAX_MS)
		return p11_error(p, UKEY_ERR_PROTO, "sim_keygen_delay_ms: must be 0..%d",
		    SIM_KEYGEN_DELAY_MAX_MS);
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return 0;
}

int
op_generate_key(struct p11 *p, struct json_object *req, struct json_object *rep)
{
	struct secret pin = { 0 };
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE pubh = CK_INVALID_HANDLE, privh = CK_INVALID_HANDLE, old;
	int sign, decrypt, unwrap, derive;
	struct json_object *ev = NULL, *usage = NULL;
	const char *alg, *label, *bad = NULL;
	uint8_t *id = NULL, *spki = NULL, *discard = NULL;
	size_t idlen = 0, spkilen = 0, discardlen = 0;
	EVP_PKEY *key = NULL;
	unsigned ops = 0;
	int rc, rsa, have_usage;
	CK_RV rv;

	if ((rc = req_pin(p, req, "user_pin", 1, &pin)) != 0 ||
	    (rc = req_string(p, req, "alg", 1, 32, &alg)) != 0 ||
	    (rc = req_hex(p, req, "id", 1, P11_MAX_ID, &id, &idlen)) != 0 ||
	    (rc = req_string(p, req, "label", 1, P11_MAX_LABEL, &label)) != 0 ||
	    (rc = req_usage(p, req, "usage", 1, &ops, &have_usage)) != 0 ||
	    (json_object_object_get(req, "discard_id") != NULL &&
	    (rc = req_hex(p, req, "discard_id", 1, P11_MAX_ID, &discard, &discardlen)) != 0))
		goto out;
	if (strcmp(alg, "rsa2048") == 0) {
		rsa = 1;
	} else if (strcmp(alg, "ec-p256") == 0) {
		rsa = 0;
	} else {
		rc = p11_error(p, UKEY_ERR_INVAL, "alg: '%s' is not rsa2048 or ec-p256", alg);
		goto out;
	}
	/* the daemon decides what the key may do; these are the limits no
	 * profile can lift: the token signs its own certificate request, an EC
	 * key never enciphers, an RSA key has no key agreement */
	if (!(ops & KEY_OP_SIGN)) {
		rc = p11_error(p, UKEY_ERR_INVAL, "usage: must include sign (the key signs its "
		    "certificate request)");
		goto out;
	}
	if (!rsa && (ops & (KEY_OP_DECRYPT | KEY_OP_UNWRAP))) {
		rc = p11_error(p, UKEY_ERR_INVAL, "usage: %s is not allowed for an ec-p256 key",
		    ops & KEY_OP_DECRYPT ? "decrypt" : "unwrap");
		goto out;
	}
	if (rsa && (ops & KEY_OP_DERIVE)) {
		rc = p11_error(p, UKEY_ERR_INVAL, "usage: derive is not allowed for an rsa2048 key");
		goto out;
	}
	sign = (ops & KEY_OP_SIGN) != 0;
	decrypt = (ops & KEY_OP_DECRYPT) != 0;
	unwrap = (ops & KEY_OP_UNWRAP) != 0;
	derive = (ops & KEY_OP_DERIVE) != 0;
	if ((rc = sim_keygen_delay(p, req)) != 0 || (rc = p11_session_user(p, 1, &pin, &s)) != 0)
		goto out;
	if (discard != NULL && (rc = discard_objects(p, s, discard, discardlen, NULL)) != 0)
		goto out;
	/* one key per id: a second pair under the same id would make the
	 * certificate ambiguous */
	if ((rc = p11_find_by_id(p, s, CKO_PRIVATE_KEY, id, idlen, &old)) == 0) {
		rc = p11_error(p, UKEY_ERR_EXISTS, "id: a private key with this id is already on the token");
		goto out;
	} else if (rc != UKEY_ERR_NOTFOUND) {
		goto out;
	}
	{
		struct keytmpl t;

		keytmpl_fill(&t, rsa, sign, decrypt, unwrap, derive, id, idlen, label);
		log_info("generating %s key pair", alg);
		rv = P11F(p)->C_GenerateKeyPair(s, &t.mech, t.pub, t.npub, t.priv, t.npriv, &pubh,
		    &privh);
		if (rv != CKR_OK) {
			pubh = privh = CK_INVALID_HANDLE;
			rc = p11_fail(p, "C_GenerateKeyPair", rv);
			goto out;
		}
	}
	if ((rc = evidence_read(p, s, privh, &ev, &bad)) != 0)
		goto out;
	if (bad != NULL) {
		rc = p11_error(p, UKEY_ERR_VERIFY,
		    "the new private key fails the key-protection check on %s", bad);
		goto out;
	}
	/* a module that ignores the template must not hand out a key that can
	 * do more than the certificate says */
	if ((rc = usage_read(p, s, privh, pubh, ops, &usage, &bad)) != 0)
		goto out;
	rc = rep_take(ev, "usage", usage);
	usage = NULL;
	if (rc != 0)
		goto out;
	if (bad != NULL) {
		rc = p11_error(p, UKEY_ERR_VERIFY,
		    "the new key pair fails the usage check on %s: not what the profile allows", bad);
		goto out;
	}
	if ((rc = pubkey_from_object(p, s, pubh, &key)) != 0 ||
	    (rc = spki_encode(key, &spki, &spkilen)) != 0)
		goto out;
	rc = rep_take(rep, "evidence", ev);
	ev = NULL;
	if (rc != 0 || (rc = rep_hex(rep, "public_key", spki, spkilen)) != 0)
		goto out;
	log_info("%s key pair generated, evidence and usage checked", alg);
	pubh = privh = CK_INVALID_HANDLE;	/* keep them */
	rc = 0;
 out:
	/* a pair that failed a check or could not be reported is not left behind */
	destroy_quietly(p, s, privh, "private key");
	destroy_quietly(p, s, pubh, "public key");
	p11_session_release(p, s, rc == 0);
	json_object_put(ev);
	json_object_put(usage);
	EVP_PKEY_free(key);
	OPENSSL_free(spki);
	free(id);
	free(discard);
	secret_clear(&pin);
	return rc;
}
