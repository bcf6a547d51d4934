/* ukey-signer: the process that holds a private key named by a PKCS#11 URI
 * (the CMP RA key, the TLS client key) for ukeyd, which never loads a
 * PKCS#11 module itself. It loads the module, logs in, finds the key and
 * signs what the daemon sends over the socketpair on fd 3 (docs/ca.md,
 * "Keys in an HSM"; the messages are in src/ca/p11signer.h). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <p11-kit/uri.h>

#include "ca/p11signer.h"
#include "common/err.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/secret.h"
#include "worker/p11.h"

struct signer {
	struct p11 p;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE key;
	CK_KEY_TYPE type;
	int ready;		/* logged in, key found */
};

static void
usage(void)
{
	fprintf(stderr, "usage: ukey-signer --fd N --module /path/to/module.so\n");
	exit(2);
}

static int
reply(int fd, uint8_t tag, const void *body, size_t len)
{
	uint8_t buf[P11SIGNER_MAX];

	if (len + 1 > sizeof(buf))
		return UKEY_ERR_PROTO;
	buf[0] = tag;
	if (len > 0)
		memcpy(buf + 1, body, len);
	return frame_write(fd, buf, len + 1, P11SIGNER_MAX);
}

/* "E" name '\n' message: the recorded PKCS#11 failure when there is one. */
static int
reply_error(int fd, const struct signer *g, int rc)
{
	char text[700];
	const char *msg = g->p.err_rc != 0 && g->p.err_msg[0] ? g->p.err_msg : ukey_strerror(rc);

	snprintf(text, sizeof(text), "%s\n%s", ukey_errname(rc), msg);
	return reply(fd, P11SIGNER_ERR, text, strlen(text));
}

/* The one token with a present slot that the URI's token attributes match. */
static int
find_token(struct signer *g, P11KitUri *uri)
{
	CK_SLOT_ID slots[P11_MAX_SLOTS];
	CK_ULONG n = P11_MAX_SLOTS, i;
	CK_TOKEN_INFO ti;
	CK_RV rv;
	int found = 0;

	if ((rv = g->p.f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK)
		return p11_fail(&g->p, "C_GetSlotList", rv);
	for (i = 0; i < n && i < P11_MAX_SLOTS; i++) {
		if (g->p.f->C_GetTokenInfo(slots[i], &ti) != CKR_OK ||
		    p11_kit_uri_match_token_info(uri, &ti) != 1)
			continue;
		if (found++ == 0) {
			g->p.slot = slots[i];
			p11_text(g->p.serial, sizeof(g->p.serial), ti.serialNumber,
			    sizeof(ti.serialNumber));
		}
	}
	if (found == 0)
		return p11_error(&g->p, UKEY_ERR_NOTFOUND, "no token of the module matches the URI");
	if (found > 1)
		return p11_error(&g->p, UKEY_ERR_BUSY, "%d tokens match the URI; add token= or "
		    "serial= to name one", found);
	g->p.have_slot = 1;
	return 0;
}

/* The one private key on the token that the URI's id= and object= match. */
static int
find_key(struct signer *g, P11KitUri *uri)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[3] = { { CKA_CLASS, &cls, sizeof(cls) } };
	CK_ATTRIBUTE *a;
	CK_OBJECT_HANDLE found[2];
	CK_ULONG nt = 1;
	size_t count = 0;
	int rc;

	if ((a = p11_kit_uri_get_attribute(uri, CKA_ID)) != NULL)
		tmpl[nt++] = *a;
	if ((a = p11_kit_uri_get_attribute(uri, CKA_LABEL)) != NULL)
		tmpl[nt++] = *a;
	if (nt == 1)
		return p11_error(&g->p, UKEY_ERR_INVAL, "the URI names no key: give object= or id=");
	if ((rc = p11_find(&g->p, g->s, tmpl, nt, found, 2, &count)) != 0)
		return rc;
	if (count != 1)
		return p11_error(&g->p, count == 0 ? UKEY_ERR_NOTFOUND : UKEY_ERR_BUSY,
		    count == 0 ? "no private key on the token matches the URI" :
		    "more than one private key on the token matches the URI");
	g->key = found[0];
	if ((rc = p11_get_ulong(&g->p, g->s, g->key, CKA_KEY_TYPE, &g->type)) != 0)
		return rc;
	if (g->type != CKK_RSA && g->type != CKK_EC)
		return p11_error(&g->p, UKEY_ERR_UNSUPPORTED, "the key is neither RSA nor EC");
	return 0;
}

/* OPEN: uri length (2 bytes, big-endian), the URI, then the PIN. */
static int
do_open(struct signer *g, int fd, const uint8_t *m, size_t len)
{
	P11KitUri *uri = NULL;
	struct secret pin = { 0 };
	char text[P11SIGNER_URI_MAX + 1];
	size_t ulen = len >= 2 ? ((size_t)m[0] << 8 | m[1]) : 0;
	uint8_t type = 0;
	int rc;

	if (g->ready || ulen == 0 || ulen > P11SIGNER_URI_MAX || ulen + 2 > len) {
		rc = p11_error(&g->p, UKEY_ERR_PROTO, "bad open request");
		goto out;
	}
	memcpy(text, m + 2, ulen);
	text[ulen] = '\0';
	if ((uri = p11_kit_uri_new()) == NULL ||
	    p11_kit_uri_parse(text, P11_KIT_URI_FOR_ANY, uri) != P11_KIT_URI_OK) {
		rc = p11_error(&g->p, UKEY_ERR_INVAL, "not a PKCS#11 URI (RFC 7512)");
		goto out;
	}
	if ((rc = secret_set(&pin, m + 2 + ulen, len - 2 - ulen)) != 0 ||
	    (rc = find_token(g, uri)) != 0 ||
	    (rc = p11_session_open(&g->p, 0, CKU_USER, &pin, &g->s)) != 0 ||
	    (rc = find_key(g, uri)) != 0)
		goto out;
	g->ready = 1;
	type = g->type == CKK_RSA ? 'r' : 'e';
	log_info("logged in to token %s; key found", g->p.serial);
	rc = 0;
 out:
	secret_clear(&pin);
	p11_kit_uri_free(uri);
	return rc == 0 ? reply(fd, P11SIGNER_OK, &type, 1) : reply_error(fd, g, rc);
}

/* SIGN: the mechanism (one byte), then the data to sign. */
static int
do_sign(struct signer *g, int fd, const uint8_t *m, size_t len)
{
	CK_MECHANISM mech = { CKM_RSA_PKCS, NULL, 0 };
	uint8_t sig[P11SIGNER_SIG_MAX];
	CK_ULONG siglen = sizeof(sig);
	CK_RV rv;
	int rc;

	if (!g->ready || len < 2 || len - 1 > P11SIGNER_DATA_MAX) {
		rc = p11_error(&g->p, UKEY_ERR_PROTO, "bad sign request");
		goto out;
	}
	if (m[0] == P11SIGNER_MECH_RSA_PKCS || m[0] == P11SIGNER_MECH_RSA_X509)
		mech.mechanism = m[0] == P11SIGNER_MECH_RSA_PKCS ? CKM_RSA_PKCS : CKM_RSA_X_509;
	else if (m[0] == P11SIGNER_MECH_ECDSA)
		mech.mechanism = CKM_ECDSA;
	else {
		rc = p11_error(&g->p, UKEY_ERR_UNSUPPORTED, "unknown mechanism %u", m[0]);
		goto out;
	}
	if ((rv = g->p.f->C_SignInit(g->s, &mech, g->key)) != CKR_OK) {
		rc = p11_fail(&g->p, "C_SignInit", rv);
		goto out;
	}
	if ((rv = g->p.f->C_Sign(g->s, (CK_BYTE_PTR)(m + 1), (CK_ULONG)(len - 1), sig,
	    &siglen)) != CKR_OK) {
		rc = p11_fail(&g->p, "C_Sign", rv);
		goto out;
	}
	rc = 0;
 out:
	return rc == 0 ? reply(fd, P11SIGNER_OK, sig, siglen) : reply_error(fd, g, rc);
}

static int
serve(struct signer *g, int fd)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	for (;;) {
		if ((rc = frame_read(fd, (char **)&buf, &len, P11SIGNER_MAX, -1)) != 0)
			return rc == UKEY_ERR_IO ? 0 : rc;
		p11_error_clear(&g->p);
		if (len > 0 && buf[0] == P11SIGNER_OPEN)
			rc = do_open(g, fd, buf + 1, len - 1);
		else if (len > 0 && buf[0] == P11SIGNER_SIGN)
			rc = do_sign(g, fd, buf + 1, len - 1);
		else
			rc = reply_error(fd, g, p11_error(&g->p, UKEY_ERR_PROTO, "unknown request"));
		secure_wipe(buf, len);
		free(buf);
		buf = NULL;
		if (rc != 0)
			return rc;
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fd", required_argument, NULL, 'f' },
		{ "module", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	struct signer g;
	const char *module = NULL;
	char *end;
	int fd = -1, c, rc;

	while ((c = getopt_long(argc, argv, "f:m:", opts, NULL)) != -1) {
		if (c == 'f') {
			fd = (int)strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || fd < 0)
				usage();
		} else if (c == 'm')
			module = optarg;
		else
			usage();
	}
	if (fd < 0 || module == NULL || optind != argc)
		usage();
	/* the PIN passes through here: no core dumps, no ptrace by others */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		perror("prctl(PR_SET_DUMPABLE)");
	signal(SIGPIPE, SIG_IGN);
	log_init("ukey-signer", LOG_LVL_INFO);
	memset(&g, 0, sizeof(g));
	g.s = CK_INVALID_HANDLE;
	if ((rc = p11_load(&g.p, module)) != 0) {
		/* the daemon reads why from the first answer */
		(void)reply_error(fd, &g, rc);
		p11_unload(&g.p);
		return 1;
	}
	(void)reply(fd, P11SIGNER_OK, "", 0);
	rc = serve(&g, fd);
	p11_session_close(&g.p, g.s, g.ready);
	p11_unload(&g.p);
	close(fd);
	return rc == 0 ? 0 : 1;
}
