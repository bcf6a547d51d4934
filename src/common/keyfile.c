/* Key and certificate files written whole or not at all (see keyfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "common/err.h"
#include "common/keyfile.h"
#include "common/log.h"
#include "common/secret.h"

void
log_openssl(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	log_error("%s: %s", what, e ? buf : "failed");
	ERR_clear_error();
}

/* Fsyncs the directory holding path, so that a rename in it survives a crash. */
static void
sync_parent(const char *path)
{
	char *copy = strdup(path);
	int fd;

	if (copy == NULL)
		return;
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (fsync(fd) != 0)
			log_warn("fsync(%s): %s", copy, strerror(errno));
		close(fd);
	}
	free(copy);
}

int
file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	const char *p = data;
	char tmp[4200];
	size_t done = 0;
	ssize_t n;
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return UKEY_ERR_IO;
	(void)unlink(tmp);	/* a leftover from a crash mid-write */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) < 0) {
		log_error("create %s: %s", tmp, strerror(errno));
		return UKEY_ERR_IO;
	}
	if (fchmod(fd, mode) != 0)	/* the umask may have narrowed it */
		goto fail;
	while (done < len) {
		if ((n = write(fd, p + done, len - done)) < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		done += (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	sync_parent(path);
	return 0;
 fail:
	log_error("write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	(void)unlink(tmp);
	return UKEY_ERR_IO;
}

int
pem_text(EVP_PKEY *key, int private, const X509 *cert, char **out, size_t *outlen)
{
	BIO *bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem;
	int ok;

	*out = NULL;
	*outlen = 0;
	if (bio == NULL)
		return UKEY_ERR_NOMEM;
	if (key == NULL)
		ok = PEM_write_bio_X509(bio, cert);
	else if (private)
		ok = PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_bio_PUBKEY(bio, key);
	if (ok != 1) {
		log_openssl(key == NULL ? "PEM_write_bio_X509" : private ?
		    "PEM_write_bio_PrivateKey" : "PEM_write_bio_PUBKEY");
		BIO_free(bio);
		return UKEY_ERR_CRYPTO;
	}
	BIO_get_mem_ptr(bio, &mem);
	if ((*out = malloc(mem->length + 1)) != NULL) {
		memcpy(*out, mem->data, mem->length);
		(*out)[mem->length] = '\0';
		*outlen = mem->length;
	}
	/* the memory BIO may hold a private key's PEM: wipe it before it is freed */
	secure_wipe(mem->data, mem->length);
	BIO_free(bio);
	return *out ? 0 : UKEY_ERR_NOMEM;
}

int
pem_write_atomic(const char *path, mode_t mode, EVP_PKEY *key, int private, const X509 *cert)
{
	char *pem = NULL;
	size_t n = 0;
	int rc;

	if ((rc = pem_text(key, private, cert, &pem, &n)) != 0)
		return rc;
	rc = file_write_atomic(path, pem, n, mode);
	secure_wipe(pem, n);
	free(pem);
	return rc;
}
