/* AES-256-GCM sealing of station secrets with a random 96-bit nonce each. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/err.h"
#include "common/keyfile.h"
#include "common/log.h"
#include "common/seal.h"
#include "common/secret.h"

#define SEAL_VERSION 1
#define NONCE_LEN 12
#define TAG_LEN 16

int
seal_key_load(const char *path, uint8_t key[SEAL_KEY_LEN])
{
	struct stat sb;
	ssize_t n;
	int fd = -1, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
		if (fstat(fd, &sb) != 0 || (sb.st_mode & 077) != 0) {
			log_error("%s: master key must be mode 0600 and a regular file", path);
			rc = UKEY_ERR_PERM;
			goto out;
		}
		n = read(fd, key, SEAL_KEY_LEN);
		rc = n == SEAL_KEY_LEN ? 0 : UKEY_ERR_IO;
		if (rc != 0)
			log_error("%s: master key is not %d bytes", path, SEAL_KEY_LEN);
		goto out;
	}
	if (errno != ENOENT) {
		log_error("open %s: %s", path, strerror(errno));
		return UKEY_ERR_IO;
	}
	if (RAND_bytes(key, SEAL_KEY_LEN) != 1)
		return UKEY_ERR_CRYPTO;
	if ((rc = file_write_atomic(path, key, SEAL_KEY_LEN, 0600)) != 0)
		goto out;
	log_info("created station master key %s", path);
	rc = 0;
 out:
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		secure_wipe(key, SEAL_KEY_LEN);
	return rc;
}

static int
gcm(int enc, const uint8_t *key, const uint8_t *nonce, const char *aad, const uint8_t *in,
    size_t inlen, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int len = 0, ok;

	ok = c != NULL &&
	    EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
	    EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) == 1 &&
	    (aad == NULL || EVP_CipherUpdate(c, NULL, &len, (const uint8_t *)aad, (int)strlen(aad)) == 1) &&
	    EVP_CipherUpdate(c, out, &len, in, (int)inlen) == 1 &&
	    (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1) &&
	    EVP_CipherFinal_ex(c, out + len, &len) == 1 &&
	    (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1);
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : (enc ? UKEY_ERR_CRYPTO : UKEY_ERR_VERIFY);
}

int
seal(const uint8_t key[SEAL_KEY_LEN], const char *aad, const uint8_t *in, size_t inlen,
    uint8_t **out, size_t *outlen)
{
	size_t n = 1 + NONCE_LEN + inlen + TAG_LEN;
	uint8_t *buf;
	int rc;

	*out = NULL;
	*outlen = 0;
	if ((buf = malloc(n)) == NULL)
		return UKEY_ERR_NOMEM;
	buf[0] = SEAL_VERSION;
	if (RAND_bytes(buf + 1, NONCE_LEN) != 1) {
		free(buf);
		return UKEY_ERR_CRYPTO;
	}
	rc = gcm(1, key, buf + 1, aad, in, inlen, buf + 1 + NONCE_LEN, buf + 1 + NONCE_LEN + inlen);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	*outlen = n;
	return 0;
}

int
unseal(const uint8_t key[SEAL_KEY_LEN], const char *aad, const uint8_t *in, size_t inlen,
    uint8_t **out, size_t *outlen)
{
	uint8_t *buf, tag[TAG_LEN];
	size_t n;
	int rc;

	*out = NULL;
	*outlen = 0;
	if (inlen < 1 + NONCE_LEN + TAG_LEN || in[0] != SEAL_VERSION)
		return UKEY_ERR_VERIFY;
	n = inlen - 1 - NONCE_LEN - TAG_LEN;
	if ((buf = malloc(n + 1)) == NULL)
		return UKEY_ERR_NOMEM;
	memcpy(tag, in + 1 + NONCE_LEN + n, TAG_LEN);
	rc = gcm(0, key, in + 1, aad, in + 1 + NONCE_LEN, n, buf, tag);
	if (rc != 0) {
		secure_wipe(buf, n);
		free(buf);
		return UKEY_ERR_VERIFY;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}
