/* The daemon's side of ukey-signer: the helper started, restarted after it
 * died, and asked for signatures; an EVP_PKEY whose RSA_METHOD or
 * EC_KEY_METHOD forwards its private-key operation to it. OpenSSL 3.0 runs
 * such "foreign" keys on its legacy path, which both OSSL_CMP_CTX_set1_pkey
 * and SSL_CTX_use_PrivateKey take (OpenSSH's ssh-pkcs11-client.c does the
 * same); hence the deprecated RSA and EC_KEY calls. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include <p11-kit/uri.h>

#include "ca/p11signer.h"
#include "common/err.h"
#include "common/frame.h"
#include "common/log.h"

struct p11signer {
	char what[32];			/* the setting: "cmp.ra_key" */
	char helper[512], module[512], uri[P11SIGNER_URI_MAX + 1];
	struct secret pin;
	int timeout_ms;
	pthread_mutex_t mu;		/* one request at a time on the channel */
	pid_t pid;			/* the running helper, or 0 */
	int fd;				/* its channel, or -1 */
	int failed;			/* a signature failed since the last reset */
	int pin_refused;		/* the token refused the PIN: never tried again */
	char why[600];
};

static RSA_METHOD *rsa_meth;
static EC_KEY_METHOD *ec_meth;
static int rsa_idx = -1, ec_idx = -1;
static pthread_once_t meth_once = PTHREAD_ONCE_INIT;

/* Helpers sent SIGKILL that had not ended 100 ms later (one held in the
 * kernel by a call into its token's module ends only when that call
 * returns): reaped by a later stop, never waited for, so that the thread
 * that stopped one (the CA's, or the loop at ukeyd's stop) goes on. */
#define HELPER_LEFT_MAX 16
#define HELPER_END_MS 100
static pid_t helper_left[HELPER_LEFT_MAX];
static pthread_mutex_t helper_left_mu = PTHREAD_MUTEX_INITIALIZER;

/* 1 when pid has ended and is reaped (or is no child of ours any more). */
static int
helper_reaped(pid_t pid)
{
	pid_t r;

	while ((r = waitpid(pid, NULL, WNOHANG)) < 0 && errno == EINTR)
		;
	return r == pid || r < 0;
}

static void
helper_leave(const struct p11signer *s, pid_t pid)
{
	size_t i;

	pthread_mutex_lock(&helper_left_mu);
	for (i = 0; i < HELPER_LEFT_MAX && helper_left[i] != 0; i++)
		;
	if (i < HELPER_LEFT_MAX)
		helper_left[i] = pid;
	pthread_mutex_unlock(&helper_left_mu);
	log_warn("%s: ukey-signer (pid %d) has not ended %d ms after SIGKILL (a call into the "
	    "module %.200s that does not return?); not waited for%s", s->what, (int)pid,
	    HELPER_END_MS, s->module, i < HELPER_LEFT_MAX ? ", reaped when it ends" :
	    ", and too many such to reap it before ukeyd ends");
}

static void
helpers_left_reap(void)
{
	size_t i;

	pthread_mutex_lock(&helper_left_mu);
	for (i = 0; i < HELPER_LEFT_MAX; i++)
		if (helper_left[i] != 0 && helper_reaped(helper_left[i]))
			helper_left[i] = 0;
	pthread_mutex_unlock(&helper_left_mu);
}

/* Ends the helper (it may have died already) and forgets it, waiting at
 * most HELPER_END_MS for it to end. */
static void
helper_stop(struct p11signer *s)
{
	int us;

	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->pid > 0) {
		(void)kill(s->pid, SIGKILL);
		for (us = 0; !helper_reaped(s->pid); us += 200) {
			if (us >= HELPER_END_MS * 1000) {
				helper_leave(s, s->pid);
				break;
			}
			(void)usleep(200);
		}
	}
	s->pid = 0;
	helpers_left_reap();
}

/* Reads one answer: 0 and the body for OK; the helper's code and message
 * for ERR; UKEY_ERR_UNAVAIL when it died or did not answer in time. */
static int
helper_read(struct p11signer *s, uint8_t **body, size_t *len)
{
	char *buf = NULL, *nl;
	size_t n = 0;
	int rc;

	*body = NULL;
	*len = 0;
	if ((rc = frame_read(s->fd, &buf, &n, P11SIGNER_MAX, s->timeout_ms)) != 0 || n == 0) {
		snprintf(s->why, sizeof(s->why), "%s: the signing helper ukey-signer (pid %d) %s; "
		    "it is started again on the next use", s->what, (int)s->pid,
		    rc == UKEY_ERR_TIMEOUT ? "did not answer in time" : "died");
		free(buf);
		helper_stop(s);
		return UKEY_ERR_UNAVAIL;
	}
	if (buf[0] == P11SIGNER_OK) {
		memmove(buf, buf + 1, n - 1);
		*body = (uint8_t *)buf;
		*len = n - 1;
		return 0;
	}
	buf[n] = '\0';
	nl = strchr(buf + 1, '\n');
	if (nl != NULL)
		*nl = '\0';
	snprintf(s->why, sizeof(s->why), "%s %.200s: %.300s", s->what, s->uri,
	    nl ? nl + 1 : "?");
	rc = buf[0] == P11SIGNER_ERR ? ukey_errcode(buf + 1) : UKEY_ERR_PROTO;
	free(buf);
	return rc != 0 ? rc : UKEY_ERR_PROTO;
}

/* socketpair, fork, exec: the helper gets its end as fd 3. */
static int
helper_spawn(struct p11signer *s)
{
	char *argv[] = { "ukey-signer", "--fd", "3", "--module", s->module, NULL };
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		snprintf(s->why, sizeof(s->why), "%s: socketpair: %s", s->what, strerror(errno));
		return UKEY_ERR_IO;
	}
	if ((pid = fork()) < 0) {
		snprintf(s->why, sizeof(s->why), "%s: fork: %s", s->what, strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return UKEY_ERR_IO;
	}
	if (pid == 0) {
		/* only async-signal-safe calls until exec */
		if (sv[1] == 3)
			(void)fcntl(3, F_SETFD, 0);
		else if (dup2(sv[1], 3) < 0)
			_exit(127);
		execv(s->helper, argv);
		_exit(127);
	}
	close(sv[1]);
	s->fd = sv[0];
	s->pid = pid;
	return 0;
}

/* Starts the helper and logs in: its greeting, then OPEN. */
static int
helper_start(struct p11signer *s)
{
	uint8_t msg[P11SIGNER_MAX], *body = NULL;
	size_t ulen = strlen(s->uri), len = 0;
	int rc;

	if (s->pin_refused) {
		/* each try counts against the token's PIN retry limit */
		snprintf(s->why, sizeof(s->why), "%s: the token refused the PIN of "
		    "cmp.pkcs11_pin_file; not tried again until ukeyd restarts", s->what);
		return UKEY_ERR_PIN;
	}
	if ((rc = helper_spawn(s)) != 0)
		return rc;
	if ((rc = helper_read(s, &body, &len)) != 0) {
		if (rc == UKEY_ERR_UNAVAIL)
			snprintf(s->why, sizeof(s->why), "%s: the signing helper %.200s did not start "
			    "(not installed, or it could not load the module %.200s)", s->what, s->helper,
			    s->module);
		goto out;
	}
	free(body);
	body = NULL;
	if (3 + ulen + s->pin.len > sizeof(msg)) {
		snprintf(s->why, sizeof(s->why), "%s: URI or PIN too long", s->what);
		rc = UKEY_ERR_INVAL;
		goto out;
	}
	msg[0] = P11SIGNER_OPEN;
	msg[1] = (uint8_t)(ulen >> 8);
	msg[2] = (uint8_t)ulen;
	memcpy(msg + 3, s->uri, ulen);
	memcpy(msg + 3 + ulen, s->pin.p, s->pin.len);
	rc = frame_write(s->fd, msg, 3 + ulen + s->pin.len, P11SIGNER_MAX);
	secure_wipe(msg, sizeof(msg));
	if (rc != 0 || (rc = helper_read(s, &body, &len)) != 0) {
		s->pin_refused = rc == UKEY_ERR_PIN;
		goto out;
	}
	log_info("%s: ukey-signer (pid %d) holds the key %s", s->what, (int)s->pid, s->uri);
 out:
	free(body);
	if (rc != 0)
		helper_stop(s);
	return rc;
}

/* One signature by the helper (started first when it is not running) into
 * out (outcap bytes). Returns its length, or -1 with the failure recorded. */
static int
helper_sign(struct p11signer *s, uint8_t mech, const uint8_t *data, size_t len, uint8_t *out,
    size_t outcap)
{
	uint8_t msg[1 + P11SIGNER_DATA_MAX + 1], *sig = NULL;
	size_t siglen = 0;
	int rc, n = -1;

	if (len > P11SIGNER_DATA_MAX)
		return -1;
	pthread_mutex_lock(&s->mu);
	if (s->fd < 0 && (rc = helper_start(s)) != 0)
		goto out;
	msg[0] = P11SIGNER_SIGN;
	msg[1] = mech;
	memcpy(msg + 2, data, len);
	if ((rc = frame_write(s->fd, msg, len + 2, P11SIGNER_MAX)) != 0) {
		rc = helper_read(s, &sig, &siglen);	/* records why it died */
		goto out;
	}
	if ((rc = helper_read(s, &sig, &siglen)) != 0)
		goto out;
	if (siglen > outcap) {
		snprintf(s->why, sizeof(s->why), "%s: the signature is too long", s->what);
		goto out;
	}
	memcpy(out, sig, siglen);
	n = (int)siglen;
 out:
	if (n < 0 && !s->failed) {
		s->failed = 1;
		log_warn("%s", s->why);
	}
	pthread_mutex_unlock(&s->mu);
	free(sig);
	return n;
}

static int
rsa_priv_enc(int flen, const unsigned char *from, unsigned char *to, RSA *rsa, int padding)
{
	struct p11signer *s = RSA_get_ex_data(rsa, rsa_idx);
	uint8_t mech = padding == RSA_PKCS1_PADDING ? P11SIGNER_MECH_RSA_PKCS :
	    padding == RSA_NO_PADDING ? P11SIGNER_MECH_RSA_X509 : 0;

	if (s == NULL || mech == 0 || flen < 0)
		return -1;
	return helper_sign(s, mech, from, (size_t)flen, to, (size_t)RSA_size(rsa));
}

static ECDSA_SIG *
ec_sign_sig(const unsigned char *dgst, int dlen, const BIGNUM *inv, const BIGNUM *rp,
    EC_KEY *ec)
{
	struct p11signer *s = EC_KEY_get_ex_data(ec, ec_idx);
	uint8_t sig[P11SIGNER_SIG_MAX];
	ECDSA_SIG *out = NULL;
	BIGNUM *r = NULL, *ss = NULL;
	int n;

	(void)inv;
	(void)rp;
	if (s == NULL || dlen < 0 ||
	    (n = helper_sign(s, P11SIGNER_MECH_ECDSA, dgst, (size_t)dlen, sig, sizeof(sig))) <= 0 ||
	    n % 2 != 0)
		return NULL;
	if ((r = BN_bin2bn(sig, n / 2, NULL)) == NULL ||
	    (ss = BN_bin2bn(sig + n / 2, n / 2, NULL)) == NULL ||
	    (out = ECDSA_SIG_new()) == NULL || ECDSA_SIG_set0(out, r, ss) != 1) {
		BN_free(r);
		BN_free(ss);
		ECDSA_SIG_free(out);
		return NULL;
	}
	return out;
}

static void
meth_init(void)
{
	int (*sign)(int, const unsigned char *, int, unsigned char *, unsigned int *,
	    const BIGNUM *, const BIGNUM *, EC_KEY *) = NULL;
	int (*setup)(EC_KEY *, BN_CTX *, BIGNUM **, BIGNUM **) = NULL;

	rsa_idx = RSA_get_ex_new_index(0, "ukey-signer", NULL, NULL, NULL);
	ec_idx = EC_KEY_get_ex_new_index(0, "ukey-signer", NULL, NULL, NULL);
	if ((rsa_meth = RSA_meth_dup(RSA_get_default_method())) != NULL &&
	    (RSA_meth_set1_name(rsa_meth, "ukey-signer") != 1 ||
	    RSA_meth_set_priv_enc(rsa_meth, rsa_priv_enc) != 1)) {
		RSA_meth_free(rsa_meth);
		rsa_meth = NULL;
	}
	if ((ec_meth = EC_KEY_METHOD_new(EC_KEY_OpenSSL())) != NULL) {
		EC_KEY_METHOD_get_sign(ec_meth, &sign, &setup, NULL);
		EC_KEY_METHOD_set_sign(ec_meth, sign, setup, ec_sign_sig);
	}
}

/* The public key of cert, its private operation sent to s. */
static EVP_PKEY *
forwarding_key(struct p11signer *s, X509 *cert)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert), *pk = NULL;
	RSA *rsa = NULL;
	EC_KEY *ec = NULL;

	(void)pthread_once(&meth_once, meth_init);
	if (pub == NULL || (pk = EVP_PKEY_new()) == NULL)
		goto fail;
	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA) {
		if (rsa_meth == NULL || (rsa = RSAPublicKey_dup(EVP_PKEY_get0_RSA(pub))) == NULL ||
		    RSA_set_method(rsa, rsa_meth) != 1 || RSA_set_ex_data(rsa, rsa_idx, s) != 1 ||
		    EVP_PKEY_assign_RSA(pk, rsa) != 1)
			goto fail;
	} else if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC) {
		if (ec_meth == NULL || (ec = EC_KEY_dup(EVP_PKEY_get0_EC_KEY(pub))) == NULL ||
		    EC_KEY_set_method(ec, ec_meth) != 1 || EC_KEY_set_ex_data(ec, ec_idx, s) != 1 ||
		    EVP_PKEY_assign_EC_KEY(pk, ec) != 1)
			goto fail;
	} else
		goto fail;
	return pk;
 fail:
	RSA_free(rsa);
	EC_KEY_free(ec);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return NULL;
}

/* One test signature by pk, verified with the certificate's key: a token
 * key that is not the certificate's is refused here, not by the CA. */
static int
key_check(EVP_PKEY *pk, X509 *cert)
{
	static const unsigned char text[] = "ukey-signer key check";
	unsigned char sig[P11SIGNER_SIG_MAX];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok;

	ok = md != NULL && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk) == 1 &&
	    EVP_DigestSign(md, sig, &siglen, text, sizeof(text)) == 1;
	EVP_MD_CTX_free(md);
	if (!ok) {
		ERR_clear_error();
		return -1;
	}
	md = EVP_MD_CTX_new();
	ok = md != NULL && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL,
	    X509_get0_pubkey(cert)) == 1 && EVP_DigestVerify(md, sig, siglen, text,
	    sizeof(text)) == 1;
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return ok ? 0 : 1;
}

/* The URI checked and its module chosen: module-path= or the setting. */
static int
uri_check(struct p11signer *s, const char *uri, const char *module)
{
	P11KitUri *u = p11_kit_uri_new();
	const char *mp;
	int rc = UKEY_ERR_INVAL;

	if (u == NULL)
		return UKEY_ERR_NOMEM;
	if (strlen(uri) > P11SIGNER_URI_MAX ||
	    p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, u) != P11_KIT_URI_OK)
		snprintf(s->why, sizeof(s->why), "%s: not a PKCS#11 URI (RFC 7512)", s->what);
	else if (p11_kit_uri_get_pin_value(u) != NULL)
		snprintf(s->why, sizeof(s->why), "%s: the URI holds a PIN (pin-value=); put it in "
		    "cmp.pkcs11_pin_file", s->what);
	else if ((mp = p11_kit_uri_get_module_path(u)) == NULL && module[0] == '\0')
		snprintf(s->why, sizeof(s->why), "%s: no module: give module-path= in the URI or "
		    "cmp.pkcs11_module", s->what);
	else if (mp != NULL && mp[0] != '/')
		snprintf(s->why, sizeof(s->why), "%s: module-path= must be an absolute path",
		    s->what);
	else {
		snprintf(s->module, sizeof(s->module), "%s", mp != NULL ? mp : module);
		snprintf(s->uri, sizeof(s->uri), "%s", uri);
		rc = 0;
	}
	p11_kit_uri_free(u);
	return rc;
}

int
p11signer_open(const char *what, const char *helper, const char *module, const char *uri,
    const struct secret *pin, X509 *cert, int timeout_s, struct p11signer **out,
    EVP_PKEY **pkey, char *err, size_t errlen)
{
	struct p11signer *s;
	EVP_PKEY *pk = NULL;
	int rc;

	*out = NULL;
	*pkey = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return UKEY_ERR_NOMEM;
	s->fd = -1;
	s->timeout_ms = timeout_s * 1000;
	pthread_mutex_init(&s->mu, NULL);
	snprintf(s->what, sizeof(s->what), "%s", what);
	snprintf(s->helper, sizeof(s->helper), "%s", helper);
	if ((rc = uri_check(s, uri, module)) != 0 ||
	    (rc = secret_set(&s->pin, pin->p, pin->len)) != 0)
		goto out;
	pthread_mutex_lock(&s->mu);
	rc = helper_start(s);
	pthread_mutex_unlock(&s->mu);
	if (rc != 0)
		goto out;
	rc = UKEY_ERR_VERIFY;
	if ((pk = forwarding_key(s, cert)) == NULL)
		snprintf(s->why, sizeof(s->why), "%s: the certificate's key is neither RSA nor EC",
		    what);
	else if ((rc = key_check(pk, cert)) < 0)
		rc = s->failed ? UKEY_ERR_UNAVAIL : UKEY_ERR_CRYPTO;
	else if (rc > 0) {
		snprintf(s->why, sizeof(s->why), "%s %.200s: the token's key is not the key of "
		    "the certificate %.200s", what, s->uri, X509_NAME_oneline(X509_get_subject_name(cert),
		    err, (int)errlen) ? err : "?");
		rc = UKEY_ERR_VERIFY;
	}
	if (rc != 0)
		goto out;
	p11signer_reset(s);
	*pkey = pk;
	pk = NULL;
	*out = s;
	s = NULL;
 out:
	if (rc != 0 && s != NULL)
		snprintf(err, errlen, "%s", s->why[0] != '\0' ? s->why : ukey_strerror(rc));
	EVP_PKEY_free(pk);
	p11signer_free(s);
	return rc;
}

void
p11signer_free(struct p11signer *s)
{
	if (s == NULL)
		return;
	helper_stop(s);
	secret_clear(&s->pin);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void
p11signer_reset(struct p11signer *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->failed = 0;
	s->why[0] = '\0';
	pthread_mutex_unlock(&s->mu);
}

int
p11signer_failed(struct p11signer *s, char *why, size_t len)
{
	int f;

	if (s == NULL)
		return 0;
	pthread_mutex_lock(&s->mu);
	if ((f = s->failed) != 0)
		snprintf(why, len, "%s", s->why);
	pthread_mutex_unlock(&s->mu);
	return f;
}
