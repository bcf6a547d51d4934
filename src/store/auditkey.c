/* Ed25519 signing key for audit checkpoints, through OpenSSL 3's EVP
 * interface: created once, kept beside the master key, never leaves the host. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/err.h"
#include "common/keyfile.h"
#include "common/log.h"
#include "common/secret.h"
#include "store/auditkey.h"

int
audit_pubkey_pem(EVP_PKEY *key, char **pem)
{
	size_t n;

	return pem_text(key, 0, NULL, pem, &n);
}

static int
create_key(const char *path, const char *pubpath, EVP_PKEY **out)
{
	EVP_PKEY *key;
	int rc;

	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL) {
		log_openssl("EVP_PKEY_Q_keygen ED25519");
		return UKEY_ERR_CRYPTO;
	}
	if ((rc = pem_write_atomic(path, 0600, key, 1, NULL)) != 0 ||
	    (rc = pem_write_atomic(pubpath, 0644, key, 0, NULL)) != 0) {
		EVP_PKEY_free(key);
		return rc;
	}
	log_info("created audit signing key %s (public key %s)", path, pubpath);
	*out = key;
	return 0;
}

int
audit_key_load(const char *keydir, EVP_PKEY **out)
{
	char path[4096], pubpath[4096];
	EVP_PKEY *key = NULL;
	struct stat sb;
	FILE *f = NULL;
	int fd, rc;

	*out = NULL;
	snprintf(path, sizeof(path), "%s/audit.key", keydir);
	snprintf(pubpath, sizeof(pubpath), "%s/audit.pub", keydir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT)
			return create_key(path, pubpath, out);
		log_error("open %s: %s", path, strerror(errno));
		return UKEY_ERR_IO;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (sb.st_mode & 077) != 0) {
		log_error("%s: the audit signing key must be a regular file of mode 0600", path);
		close(fd);
		return UKEY_ERR_PERM;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return UKEY_ERR_IO;
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (key == NULL || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
		log_openssl(path);
		log_error("%s: not an Ed25519 private key in PEM", path);
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	if (access(pubpath, F_OK) != 0 && (rc = pem_write_atomic(pubpath, 0644, key, 0, NULL)) != 0)
		goto out;
	*out = key;
	key = NULL;
	rc = 0;
 out:
	EVP_PKEY_free(key);
	return rc;
}

int
audit_pubkey_read(const char *path, EVP_PKEY **out)
{
	EVP_PKEY *key;
	FILE *f;

	*out = NULL;
	if ((f = fopen(path, "r")) == NULL) {
		log_error("open %s: %s", path, strerror(errno));
		return UKEY_ERR_IO;
	}
	key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	if (key == NULL || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
		log_error("%s: not an Ed25519 public key in PEM (BEGIN PUBLIC KEY)", path);
		EVP_PKEY_free(key);
		return UKEY_ERR_INVAL;
	}
	*out = key;
	return 0;
}

int
audit_key_id(EVP_PKEY *key, char out[AUDIT_KEY_ID_LEN + 1])
{
	unsigned char *der = NULL, md[32];
	unsigned mdlen = 0;
	char *hex;
	int n;

	out[0] = '\0';
	if ((n = i2d_PUBKEY(key, &der)) <= 0) {
		log_openssl("i2d_PUBKEY");
		return UKEY_ERR_CRYPTO;
	}
	if (EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1) {
		OPENSSL_free(der);
		return UKEY_ERR_CRYPTO;
	}
	OPENSSL_free(der);
	if ((hex = hex_encode(md, sizeof(md))) == NULL)
		return UKEY_ERR_NOMEM;
	memcpy(out, hex, AUDIT_KEY_ID_LEN + 1);
	free(hex);
	return 0;
}

int
audit_sign(EVP_PKEY *key, const char *msg, size_t len, char **sig_hex)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char sig[64];
	size_t siglen = sizeof(sig);
	int rc = UKEY_ERR_CRYPTO;

	*sig_hex = NULL;
	/* Ed25519 signs the message itself (no separate digest: md is NULL) */
	if (md == NULL || EVP_DigestSignInit(md, NULL, NULL, NULL, key) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)msg, len) != 1) {
		log_openssl("EVP_DigestSign");
		goto out;
	}
	rc = (*sig_hex = hex_encode(sig, siglen)) != NULL ? 0 : UKEY_ERR_NOMEM;
 out:
	EVP_MD_CTX_free(md);
	return rc;
}

int
audit_sig_check(EVP_PKEY *key, const char *msg, size_t len, const char *sig_hex)
{
	EVP_MD_CTX *md = NULL;
	uint8_t *sig = NULL;
	size_t siglen = 0;
	int rc = UKEY_ERR_VERIFY;

	if (hex_decode(sig_hex, &sig, &siglen) != 0)
		goto out;
	if ((md = EVP_MD_CTX_new()) == NULL) {
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) == 1 &&
	    EVP_DigestVerify(md, sig, siglen, (const unsigned char *)msg, len) == 1)
		rc = 0;
 out:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	free(sig);
	return rc;
}
