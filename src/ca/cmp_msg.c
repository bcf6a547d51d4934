/* CMP message surgery on the DER (RFC 4210 section 5.1, explicit tags):
 * what OpenSSL 3.0's CMP API reads and writes only inside its own client. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>

#include "ca/cmp_msg.h"
#include "common/err.h"

struct tlv {
	const uint8_t *p;	/* start of the whole TLV */
	size_t hl, len;		/* header length, content length */
	int tag, cls;
};

/* Reads the TLV at *cur (before end) into t and moves *cur past it. */
static int
tlv_next(const uint8_t **cur, const uint8_t *end, struct tlv *t)
{
	const unsigned char *q = *cur;
	long len;
	int r;

	if (*cur >= end)
		return -1;
	r = ASN1_get_object(&q, &len, &t->tag, &t->cls, (long)(end - *cur));
	if ((r & 0x80) != 0 || r == 0x21 || len < 0 || len > end - q)
		return -1;
	t->p = *cur;
	t->hl = (size_t)(q - *cur);
	t->len = (size_t)len;
	*cur = q + len;
	return 0;
}

static int
msg_der(const OSSL_CMP_MSG *msg, uint8_t **der, size_t *len)
{
	int n;

	*der = NULL;
	if ((n = i2d_OSSL_CMP_MSG((OSSL_CMP_MSG *)msg, der)) <= 0)
		return UKEY_ERR_PROTO;
	*len = (size_t)n;
	return 0;
}

/* The content of the outer SEQUENCE's first (header) and second (body)
 * element of der. */
static int
msg_parts(const uint8_t *der, size_t len, struct tlv *hdr, struct tlv *body, const uint8_t **rest,
    const uint8_t **end)
{
	const uint8_t *cur = der;
	struct tlv outer;

	if (tlv_next(&cur, der + len, &outer) != 0 || outer.tag != V_ASN1_SEQUENCE)
		return -1;
	cur = outer.p + outer.hl;
	*end = cur + outer.len;
	if (tlv_next(&cur, *end, hdr) != 0 || hdr->tag != V_ASN1_SEQUENCE ||
	    tlv_next(&cur, *end, body) != 0 || body->cls != V_ASN1_CONTEXT_SPECIFIC)
		return -1;
	*rest = cur;
	return 0;
}

/* Copies the OCTET STRING inside the explicit [n] field f into out. */
static int
octets(const struct tlv *f, uint8_t *out, size_t *out_len)
{
	const uint8_t *cur = f->p + f->hl;
	struct tlv o;

	if (tlv_next(&cur, f->p + f->hl + f->len, &o) != 0 || o.tag != V_ASN1_OCTET_STRING ||
	    o.len > CMP_NONCE_MAX)
		return -1;
	memcpy(out, o.p + o.hl, o.len);
	*out_len = o.len;
	return 0;
}

int
cmp_msg_ids(const OSSL_CMP_MSG *msg, uint8_t *tid, size_t *tid_len, uint8_t *nonce,
    size_t *nonce_len)
{
	uint8_t *der = NULL;
	const uint8_t *cur, *end, *rest, *hend;
	struct tlv hdr, body, f;
	size_t len;
	int rc;

	*tid_len = *nonce_len = 0;
	if ((rc = msg_der(msg, &der, &len)) != 0)
		goto out;
	rc = UKEY_ERR_PROTO;
	if (msg_parts(der, len, &hdr, &body, &rest, &end) != 0)
		goto out;
	cur = hdr.p + hdr.hl;
	hend = cur + hdr.len;
	/* pvno, sender and recipient (GeneralNames, themselves context-tagged) */
	if (tlv_next(&cur, hend, &f) != 0 || tlv_next(&cur, hend, &f) != 0 ||
	    tlv_next(&cur, hend, &f) != 0)
		goto out;
	while (cur < hend) {
		if (tlv_next(&cur, hend, &f) != 0)
			goto out;
		if (f.cls == V_ASN1_CONTEXT_SPECIFIC && f.tag == 4 && octets(&f, tid, tid_len) != 0)
			goto out;
		if (f.cls == V_ASN1_CONTEXT_SPECIFIC && f.tag == 5 &&
		    octets(&f, nonce, nonce_len) != 0)
			goto out;
	}
	rc = 0;
 out:
	OPENSSL_free(der);
	return rc;
}

void
cmp_msg_check_after(const OSSL_CMP_MSG *msg, int *secs)
{
	uint8_t *der = NULL;
	const uint8_t *cur, *end, *rest, *p;
	struct tlv hdr, body, seq, entry, t;
	size_t len;
	long v;

	*secs = 1;
	if (msg_der(msg, &der, &len) != 0 || msg_parts(der, len, &hdr, &body, &rest, &end) != 0)
		goto out;
	/* pollRep [26] SEQUENCE OF SEQUENCE { certReqId INTEGER, checkAfter INTEGER, ... } */
	cur = body.p + body.hl;
	if (body.tag != 26 || tlv_next(&cur, end, &seq) != 0)
		goto out;
	cur = seq.p + seq.hl;
	if (tlv_next(&cur, end, &entry) != 0)
		goto out;
	cur = entry.p + entry.hl;
	if (tlv_next(&cur, end, &t) != 0 || tlv_next(&cur, end, &t) != 0 ||
	    t.tag != V_ASN1_INTEGER || t.len == 0 || t.len > 4)
		goto out;
	p = t.p + t.hl;
	for (v = 0, len = 0; len < t.len; len++)
		v = (v << 8) | p[len];
	if ((p[0] & 0x80) == 0 && v >= 1 && v <= 3600)
		*secs = (int)v;
 out:
	OPENSSL_free(der);
}

/* Appends n bytes to the buffer b (capacity checked by the caller's sizing). */
static uint8_t *
put(uint8_t *b, const void *p, size_t n)
{
	memcpy(b, p, n);
	return b + n;
}

static uint8_t *
put_hdr(uint8_t *b, int constructed, size_t len, int tag, int cls)
{
	unsigned char *q = b;

	ASN1_put_object(&q, constructed, (int)len, tag, cls);
	return q;
}

OSSL_CMP_MSG *
cmp_msg_pollreq(const OSSL_CMP_MSG *req, const uint8_t *recip, size_t recip_len, int rid)
{
	uint8_t *der = NULL, *buf = NULL, *b, *hstart;
	const uint8_t *cur, *end, *rest, *hend, *cp;
	struct tlv hdr, body, f;
	size_t len, hlen, blen, nlen, cap;
	unsigned char idb[2] = { 0x02, 0x01 };
	uint8_t id = (uint8_t)(rid < 0 ? 0xff : rid);
	OSSL_CMP_MSG *out = NULL;
	int n;

	if (msg_der(req, &der, &len) != 0 || msg_parts(der, len, &hdr, &body, &rest, &end) != 0)
		goto out;
	cap = len + recip_len + 64;
	if ((buf = malloc(cap)) == NULL)
		goto out;
	/* the new header's content: every field but a recipNonce, ours after the
	 * senderNonce [5] (fields are in tag order) */
	b = hstart = buf + 16;
	cur = hdr.p + hdr.hl;
	hend = cur + hdr.len;
	nlen = ASN1_object_size(0, (int)recip_len, V_ASN1_OCTET_STRING);
	for (n = 0; cur < hend; n++) {
		if (tlv_next(&cur, hend, &f) != 0)
			goto out;
		if (n < 3) {	/* pvno, sender, recipient */
			b = put(b, f.p, f.hl + f.len);
			continue;
		}
		if (f.cls == V_ASN1_CONTEXT_SPECIFIC && f.tag >= 6 && recip != NULL) {
			b = put_hdr(b, 1, nlen, 6, V_ASN1_CONTEXT_SPECIFIC);
			b = put_hdr(b, 0, recip_len, V_ASN1_OCTET_STRING, V_ASN1_UNIVERSAL);
			b = put(b, recip, recip_len);
			recip = NULL;
		}
		if (!(f.cls == V_ASN1_CONTEXT_SPECIFIC && f.tag == 6))
			b = put(b, f.p, f.hl + f.len);
	}
	if (recip != NULL) {
		b = put_hdr(b, 1, nlen, 6, V_ASN1_CONTEXT_SPECIFIC);
		b = put_hdr(b, 0, recip_len, V_ASN1_OCTET_STRING, V_ASN1_UNIVERSAL);
		b = put(b, recip, recip_len);
	}
	hlen = (size_t)(b - hstart);
	/* then the whole message, assembled behind it */
	{
		size_t hs = (size_t)ASN1_object_size(1, (int)hlen, V_ASN1_SEQUENCE);
		size_t bs = (size_t)ASN1_object_size(1, 7, 25);	/* [25] { SEQ { SEQ { INT } } } */
		size_t rs = (size_t)(end - rest), total = hs + bs + rs;
		uint8_t *m, *mp;

		if ((m = malloc((size_t)ASN1_object_size(1, (int)total, V_ASN1_SEQUENCE))) == NULL)
			goto out;
		mp = put_hdr(m, 1, total, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
		mp = put_hdr(mp, 1, hlen, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
		mp = put(mp, hstart, hlen);
		mp = put_hdr(mp, 1, 7, 25, V_ASN1_CONTEXT_SPECIFIC);
		mp = put_hdr(mp, 1, 5, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
		mp = put_hdr(mp, 1, 3, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
		mp = put(mp, idb, 2);
		mp = put(mp, &id, 1);
		mp = put(mp, rest, rs);
		blen = (size_t)(mp - m);
		cp = m;
		out = d2i_OSSL_CMP_MSG(NULL, &cp, (long)blen);
		free(m);
	}
 out:
	OPENSSL_free(der);
	free(buf);
	return out;
}
