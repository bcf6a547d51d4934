/* The key pair templates of generate_key (keytmpl.h). */
#include <string.h>

#include "worker/keytmpl.h"

/* DER OID 1.2.840.10045.3.1.7, prime256v1 (NIST P-256) */
static const CK_BYTE oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const CK_BYTE rsa_e65537[] = { 0x01, 0x00, 0x01 };

static void
put(CK_ATTRIBUTE *a, CK_ULONG *n, CK_ATTRIBUTE_TYPE type, const void *value, size_t len)
{
	a[*n].type = type;
	a[*n].pValue = (void *)value;
	a[*n].ulValueLen = (CK_ULONG)len;
	(*n)++;
}

void
keytmpl_fill(struct keytmpl *t, int rsa, int sign, int decrypt, int unwrap, int derive,
    const uint8_t *id, size_t idlen, const char *label)
{
	size_t lablen = strlen(label);

	memset(t, 0, sizeof(*t));
	t->yes = CK_TRUE;
	t->no = CK_FALSE;
	t->sign = sign ? CK_TRUE : CK_FALSE;
	t->decrypt = decrypt ? CK_TRUE : CK_FALSE;
	t->unwrap = unwrap ? CK_TRUE : CK_FALSE;
	t->derive = derive ? CK_TRUE : CK_FALSE;
	t->bits = 2048;
	t->mech.mechanism = rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN;

	/* an EC key never enciphers or wraps; neither public half derives */
	put(t->pub, &t->npub, CKA_TOKEN, &t->yes, sizeof(t->yes));
	put(t->pub, &t->npub, CKA_PRIVATE, &t->no, sizeof(t->no));
	put(t->pub, &t->npub, CKA_VERIFY, &t->sign, sizeof(t->sign));
	put(t->pub, &t->npub, CKA_ENCRYPT, rsa ? &t->decrypt : &t->no, sizeof(t->no));
	put(t->pub, &t->npub, CKA_WRAP, rsa ? &t->unwrap : &t->no, sizeof(t->no));
	put(t->pub, &t->npub, CKA_DERIVE, &t->no, sizeof(t->no));
	put(t->pub, &t->npub, CKA_ID, id, idlen);
	put(t->pub, &t->npub, CKA_LABEL, label, lablen);
	if (rsa) {
		put(t->pub, &t->npub, CKA_MODULUS_BITS, &t->bits, sizeof(t->bits));
		put(t->pub, &t->npub, CKA_PUBLIC_EXPONENT, rsa_e65537, sizeof(rsa_e65537));
	} else {
		put(t->pub, &t->npub, CKA_EC_PARAMS, oid_p256, sizeof(oid_p256));
	}

	put(t->priv, &t->npriv, CKA_TOKEN, &t->yes, sizeof(t->yes));
	put(t->priv, &t->npriv, CKA_PRIVATE, &t->yes, sizeof(t->yes));
	put(t->priv, &t->npriv, CKA_SENSITIVE, &t->yes, sizeof(t->yes));
	put(t->priv, &t->npriv, CKA_EXTRACTABLE, &t->no, sizeof(t->no));
	put(t->priv, &t->npriv, CKA_SIGN, &t->sign, sizeof(t->sign));
	put(t->priv, &t->npriv, CKA_DECRYPT, &t->decrypt, sizeof(t->decrypt));
	put(t->priv, &t->npriv, CKA_UNWRAP, &t->unwrap, sizeof(t->unwrap));
	put(t->priv, &t->npriv, CKA_DERIVE, &t->derive, sizeof(t->derive));
	put(t->priv, &t->npriv, CKA_ID, id, idlen);
	put(t->priv, &t->npriv, CKA_LABEL, label, lablen);
}
