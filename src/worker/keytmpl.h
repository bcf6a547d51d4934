/* The templates of the key pairs the worker generates (generate_key), in
 * one place for the worker and for the benchmark's floor, which must write
 * the same token form (ukey-bench-floor --form station). */
#ifndef UKEY_WORKER_KEYTMPL_H
#define UKEY_WORKER_KEYTMPL_H

#include <stddef.h>
#include <stdint.h>

#include <pkcs11.h>

#define KEYTMPL_MAX 10

struct keytmpl {
	CK_MECHANISM mech;
	CK_ATTRIBUTE pub[KEYTMPL_MAX], priv[KEYTMPL_MAX];
	CK_ULONG npub, npriv;
	/* the values the attributes point to */
	CK_BBOOL yes, no, sign, decrypt, unwrap, derive;
	CK_ULONG bits;
};

/*
 * Fills t for an RSA-2048 (rsa 1) or EC P-256 key pair that may sign,
 * decrypt, unwrap and derive as the flags say, under id and label. Every
 * usage attribute is set, allowed or not: left out, it takes the module's
 * default, which for SoftHSM2 and many tokens lets any private key decrypt
 * and unwrap. The private half is sensitive and never extractable. The
 * attributes point into t, id and label, which must stay in place while t
 * is used.
 */
void keytmpl_fill(struct keytmpl *t, int rsa, int sign, int decrypt, int unwrap, int derive,
    const uint8_t *id, size_t idlen, const char *label);

#endif
