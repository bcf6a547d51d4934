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
#include "common/log.h"
#include "common/secret.h"
#include "store/auditkey.h"

static void
log_ssl(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	log_error("%s: %s", what, e ? buf : "failed");
	ERR_clear_error();
}

/* Writes text to path through path.tmp, fsync and rename, with the given mode. */
static int
write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	char tmp[4200];
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) < 0) {
		log_error("create %s: %s", tmp, strerror(errno));
		return UKEY_ERR_IO;
	}
	if (fchmod(fd, mode) != 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0 ||
	    rename(tmp, path) != 0) {
		log_error("write %s: %s", path, strerror(errno));
		unlink(tmp);
		rc = UKEY_ERR_IO;
	}
	close(fd);
	return rc;
}

/* PEM of a key's public or private half, malloc'd. */
static int
key_pem(EVP_PKEY *key, int private, char **out, size_t *outlen)
{
	BIO *bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem;
	int ok;

	*out = NULL;
	if (bio == NULL)
		return UKEY_ERR_NOMEM;
	ok = private ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) :
	    PEM_write_bio_PUBKEY(bio, key);
	if (ok != 1) {
		log_ssl(private ? "PEM_write_bio_PrivateKey" : "PEM_write_bio_PUBKEY");
		BIO_free(bio);
		return UKEY_ERR_CRYPTO;
	}
	BIO_get_mem_ptr(bio, &mem);
	if ((*out = malloc(mem->length + 1)) != NULL) {
		memcpy(*out, mem->data, mem->length);
		(*out)[mem->length] = '\0';
		*outlen = mem->length;
	}
	/* the memory BIO held the private key's PEM: wipe it before it is freed */
	secure_wipe(mem->data, mem->length);
	BIO_free(bio);
	return *out ? 0 : UKEY_ERR_NOMEM;
}

int
audit_pubkey_pem(EVP_PKEY *key, char **pem)
{
	size_t n;

	return key_pem(key, 0, pem, &n);
}

static int
write_pub(EVP_PKEY *key, const char *path)
{
	char *pem = NULL;
	size_t n = 0;
	int rc;

	if ((rc = key_pem(key, 0, &pem, &n)) == 0)
		rc = write_file(path, pem, n, 0644);
	free(pem);
	return rc;
}

static int
create_key(const char *path, const char *pubpath, EVP_PKEY **out)
{
	EVP_PKEY *key = NULL;
	char *pem = NULL;
	size_t n = 0;
	int rc;

	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL) {
		log_ssl("EVP_PKEY_Q_keygen ED25519");
		return UKEY_ERR_CRYPTO;
	}
	if ((rc = key_pem(key, 1, &pem, &n)) != 0 ||
	    (rc = write_file(path, pem, n, 0600)) != 0 ||
	    (rc = write_pub(key, pubpath)) != 0)
		goto out;
	log_info("created audit signing key %s (public key %s)", path, pubpath);
	*out = key;
	key = NULL;
	rc = 0;
 out:
	if (pem != NULL) {
		secure_wipe(pem, n);
		free(pem);
	}
	EVP_PKEY_free(key);
	return rc;
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
		log_ssl(path);
		log_error("%s: not an Ed25519 private key in PEM", path);
		rc = UKEY_ERR_CRYPTO;
		goto out;
	}
	if (access(pubpath, F_OK) != 0 && (rc = write_pub(key, pubpath)) != 0)
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
		log_ssl("i2d_PUBKEY");
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
		log_ssl("EVP_DigestSign");
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
