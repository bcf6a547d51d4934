/* Files the CMP tests hand to the connector and to the test CAs: PEM
 * certificates and keys, and secrets, written into a test's directory.
 * Include after cmocka.h. */
#ifndef UKEY_TEST_PEM_FIXTURE_H
#define UKEY_TEST_PEM_FIXTURE_H

#include <stdio.h>
#include <sys/stat.h>

#include <openssl/pem.h>

/* dir/name gets cert and then key (either may be NULL), mode 0600. */
static inline void
pem_fixture_write(const char *dir, const char *name, X509 *cert, EVP_PKEY *key)
{
	char p[256];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_non_null(fp = fopen(p, "w"));
	if (cert != NULL)
		assert_int_equal(PEM_write_X509(fp, cert), 1);
	if (key != NULL)
		assert_int_equal(PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(fp);
	assert_int_equal(chmod(p, 0600), 0);
}

/* dir/name gets text, with the given mode. */
static inline void
pem_fixture_text(const char *dir, const char *name, const char *text, mode_t mode)
{
	char p[256];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_non_null(fp = fopen(p, "w"));
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(chmod(p, mode), 0);
}

#endif
