/* The station form's certificates for ukey-bench-floor --form station: a CA
 * certificate like the embedded CA's and a holder certificate like one the
 * station issues, made once per run with OpenSSL, with the DER values
 * create_cert (src/worker/certs.c) writes into a certificate object. */
#ifndef UKEY_FLOOR_CERTS_H
#define UKEY_FLOOR_CERTS_H

#include <stddef.h>

/* One certificate's DER and the DER of its subject, issuer and serial
 * number (CKA_VALUE, CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER). */
struct floor_cert {
	unsigned char *der, *subject, *issuer, *serial;
	size_t der_len, subject_len, issuer_len, serial_len;
};

struct floor_certs {
	struct floor_cert holder, ca;
	unsigned char ca_id[20];	/* SHA-1 of the CA's public key bits, as write_cert */
	const char *holder_label;	/* the profile's label: {name} (EC), {org_name} (RSA) */
	const char *ca_label;		/* the station's ca_name */
};

/* Makes the CA (EC P-384, self-signed, SHA-384, CN = "Yunnan Station Test
 * Embedded CA") and a holder certificate it signs for a fresh key of the
 * algorithm (rsa: RSA-2048 organisation certificate, else EC P-256 legal
 * representative's), with the subject and extensions of the station's
 * certificate profiles. Returns 0, or -1 after a message on stderr. */
int floor_certs_make(int rsa, struct floor_certs *fc);

void floor_certs_free(struct floor_certs *fc);

#endif
