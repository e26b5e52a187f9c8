/*
 * server_cookie.c -- sealed cookies: the claims of a cookie serialised
 * compactly and sealed with AES-256-GCM under the server key, as base64 text.
 * Nothing is ever deserialised before the tag has been checked, and nothing
 * lives in the process: a cookie opens in any process that holds the key.
 * Sealed text is malloc'd for the caller (free()).
 *
 * Layout: version (1) | nonce (12) | ciphertext | tag (16), base64 with
 * padding. Authenticated data: version and kind, so a cookie of one kind never
 * opens as another. Plaintext: subject, server_id, protocol_version, groups
 * (each a 2-byte big-endian length then the bytes, no NUL), then issued_ms,
 * expires_ms, aux (8-byte big-endian two's complement each).
 */
#include "server_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define COOKIE_VERSION 1
#define COOKIE_NONCE   12
#define COOKIE_TAG     16
#define COOKIE_HEAD    (1 + COOKIE_NONCE)

#define CLAIM_STR_MAX(f) (sizeof(((struct server_cookie_claims *)0)->f) - 1)
#define COOKIE_PLAIN_MIN (4 * 2 + 3 * 8)
#define COOKIE_PLAIN_MAX (COOKIE_PLAIN_MIN + CLAIM_STR_MAX(subject) + CLAIM_STR_MAX(server_id) + \
			  CLAIM_STR_MAX(protocol_version) + CLAIM_STR_MAX(groups))
#define COOKIE_SEALED_MIN (COOKIE_HEAD + COOKIE_PLAIN_MIN + COOKIE_TAG)
#define COOKIE_SEALED_MAX (COOKIE_HEAD + COOKIE_PLAIN_MAX + COOKIE_TAG)
/* Base64 of the largest cookie, with room for the white space a peer may
 * have wrapped it in. */
#define COOKIE_TEXT_MAX (2 * (4 * ((COOKIE_SEALED_MAX + 2) / 3)))

/*---- Claims serialisation ----*/

struct wbuf {
	uint8_t *p;
	size_t len, cap;
};

static int put_str(struct wbuf *w, const char *s, size_t field_size)
{
	size_t n = strnlen(s, field_size);

	if (n == field_size || w->len + 2 + n > w->cap)
		return -EINVAL;
	w->p[w->len++] = (uint8_t)(n >> 8);
	w->p[w->len++] = (uint8_t)n;
	memcpy(w->p + w->len, s, n);
	w->len += n;
	return 0;
}

static int put_i64(struct wbuf *w, int64_t v)
{
	uint64_t u = (uint64_t)v;

	if (w->len + 8 > w->cap)
		return -EINVAL;
	for (int i = 7; i >= 0; i--)
		w->p[w->len++] = (uint8_t)(u >> (8 * i));
	return 0;
}

static int claims_write(const struct server_cookie_claims *c, uint8_t *out, size_t cap, size_t *len)
{
	struct wbuf w = { .p = out, .cap = cap };
	int rc;

	rc = put_str(&w, c->subject, sizeof(c->subject));
	if (rc == 0)
		rc = put_str(&w, c->server_id, sizeof(c->server_id));
	if (rc == 0)
		rc = put_str(&w, c->protocol_version, sizeof(c->protocol_version));
	if (rc == 0)
		rc = put_str(&w, c->groups, sizeof(c->groups));
	if (rc == 0)
		rc = put_i64(&w, c->issued_ms);
	if (rc == 0)
		rc = put_i64(&w, c->expires_ms);
	if (rc == 0)
		rc = put_i64(&w, c->aux);
	*len = w.len;
	return rc;
}

struct rbuf {
	const uint8_t *p;
	size_t off, len;
};

/* A string that fits its field and holds no NUL. */
static int get_str(struct rbuf *r, char *dst, size_t field_size)
{
	size_t n;

	if (r->len - r->off < 2)
		return -EBADMSG;
	n = (size_t)r->p[r->off] << 8 | r->p[r->off + 1];
	r->off += 2;
	if (n >= field_size || r->len - r->off < n || memchr(r->p + r->off, 0, n) != NULL)
		return -EBADMSG;
	memcpy(dst, r->p + r->off, n);
	dst[n] = '\0';
	r->off += n;
	return 0;
}

static int get_i64(struct rbuf *r, int64_t *v)
{
	uint64_t u = 0;

	if (r->len - r->off < 8)
		return -EBADMSG;
	for (int i = 0; i < 8; i++)
		u = u << 8 | r->p[r->off++];
	*v = (int64_t)u;
	return 0;
}

static int claims_read(const uint8_t *in, size_t len, struct server_cookie_claims *c)
{
	struct rbuf r = { .p = in, .len = len };
	int rc;

	memset(c, 0, sizeof(*c));
	rc = get_str(&r, c->subject, sizeof(c->subject));
	if (rc == 0)
		rc = get_str(&r, c->server_id, sizeof(c->server_id));
	if (rc == 0)
		rc = get_str(&r, c->protocol_version, sizeof(c->protocol_version));
	if (rc == 0)
		rc = get_str(&r, c->groups, sizeof(c->groups));
	if (rc == 0)
		rc = get_i64(&r, &c->issued_ms);
	if (rc == 0)
		rc = get_i64(&r, &c->expires_ms);
	if (rc == 0)
		rc = get_i64(&r, &c->aux);
	if (rc == 0 && r.off != r.len)
		rc = -EBADMSG;
	return rc;
}

/*---- AES-256-GCM ----*/

static int kind_valid(enum server_cookie_kind kind)
{
	return kind >= SERVER_COOKIE_DSS_AUTH && kind <= SERVER_COOKIE_CLIENT;
}

/* Encrypt (enc = 1) or decrypt-and-verify (enc = 0) n bytes of in into out;
 * the tag is written (enc) or checked (dec) at tag. 0, or -EBADMSG when the
 * tag does not match, -EIO when OpenSSL fails otherwise. */
static int gcm(int enc, const uint8_t key[32], const uint8_t nonce[COOKIE_NONCE], const uint8_t *aad,
	       size_t aad_len, const uint8_t *in, size_t n, uint8_t *out, uint8_t tag[COOKIE_TAG])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len = 0, rc = -EIO;

	if (ctx == NULL)
		return -ENOMEM;
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, COOKIE_NONCE, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &len, aad, (int)aad_len) != 1 ||
	    EVP_CipherUpdate(ctx, out, &len, in, (int)n) != 1)
		goto done;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, COOKIE_TAG, tag) != 1)
		goto done;
	if (EVP_CipherFinal_ex(ctx, out + len, &len) != 1) {
		rc = enc ? -EIO : -EBADMSG;
		goto done;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, COOKIE_TAG, tag) != 1)
		goto done;
	rc = 0;
done:
	EVP_CIPHER_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

int server_cookie_seal(const uint8_t key[32], const struct server_cookie_claims *c, char **out,
		       struct err *e)
{
	uint8_t plain[COOKIE_PLAIN_MAX], sealed[COOKIE_SEALED_MAX];
	uint8_t aad[2] = { COOKIE_VERSION, 0 };
	size_t plen = 0, slen;
	int rc;

	*out = NULL;
	if (!kind_valid(c->kind))
		return err_set(e, -EINVAL, "cookie kind %d unknown", (int)c->kind);
	aad[1] = (uint8_t)c->kind;
	if (claims_write(c, plain, sizeof(plain), &plen) < 0)
		return err_set(e, -EINVAL, "cookie claims do not fit their fields");
	sealed[0] = COOKIE_VERSION;
	if (RAND_bytes(sealed + 1, COOKIE_NONCE) != 1) {
		rc = err_set(e, -EIO, "no random bytes for a cookie nonce");
		goto done;
	}
	rc = gcm(1, key, sealed + 1, aad, sizeof(aad), plain, plen, sealed + COOKIE_HEAD,
		 sealed + COOKIE_HEAD + plen);
	if (rc < 0) {
		err_set(e, rc, "sealing a cookie failed");
		goto done;
	}
	slen = COOKIE_HEAD + plen + COOKIE_TAG;
	*out = malloc(wsus_b64_encoded_len(slen) + 1);
	if (*out == NULL) {
		rc = err_set(e, -ENOMEM, "out of memory sealing a cookie");
		goto done;
	}
	wsus_b64_encode(sealed, slen, *out);
done:
	OPENSSL_cleanse(plain, sizeof(plain));
	return rc;
}

/* Decode base64 and insist on the one canonical spelling of the bytes
 * (white space aside), so that a cookie has exactly one text form. */
static int decode_canonical(const char *b64, uint8_t *out, size_t cap, size_t *n)
{
	char enc[4 * ((COOKIE_SEALED_MAX + 2) / 3) + 1];
	size_t len = strnlen(b64, COOKIE_TEXT_MAX + 1), j = 0;

	if (cap > COOKIE_SEALED_MAX || len > COOKIE_TEXT_MAX ||
	    wsus_b64_decode(b64, len, out, cap, n) < 0)
		return -EBADMSG;
	wsus_b64_encode(out, *n, enc);
	for (size_t i = 0; i < len; i++) {
		char ch = b64[i];

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
			continue;
		if (enc[j] == '\0' || enc[j] != ch)
			return -EBADMSG;
		j++;
	}
	return enc[j] == '\0' ? 0 : -EBADMSG;
}

int server_cookie_open(const uint8_t key[32], const char *b64, enum server_cookie_kind kind,
		       int64_t now_ms, struct server_cookie_claims *out, struct err *e)
{
	uint8_t sealed[COOKIE_SEALED_MAX], plain[COOKIE_PLAIN_MAX];
	uint8_t aad[2] = { COOKIE_VERSION, (uint8_t)kind };
	struct server_cookie_claims c;
	size_t n = 0, plen;
	int rc;

	if (b64 == NULL || b64[0] == '\0')
		return err_set(e, -EBADMSG, "cookie is empty");
	if (!kind_valid(kind))
		return err_set(e, -EBADMSG, "cookie kind %d unknown", (int)kind);
	if (decode_canonical(b64, sealed, sizeof(sealed), &n) < 0)
		return err_set(e, -EBADMSG, "cookie is not canonical base64 of a sealed cookie");
	if (n < COOKIE_SEALED_MIN)
		return err_set(e, -EBADMSG, "cookie of %zu bytes is too short", n);
	if (sealed[0] != COOKIE_VERSION)
		return err_set(e, -EBADMSG, "cookie format %u unknown", (unsigned)sealed[0]);
	plen = n - COOKIE_HEAD - COOKIE_TAG;
	rc = gcm(0, key, sealed + 1, aad, sizeof(aad), sealed + COOKIE_HEAD, plen, plain,
		 sealed + COOKIE_HEAD + plen);
	if (rc == -EBADMSG) {
		err_set(e, rc, "cookie does not open (forged, altered, another key or another kind)");
		goto done;
	}
	if (rc < 0) {
		err_set(e, rc, "opening a cookie failed in the cipher");
		goto done;
	}
	if (claims_read(plain, plen, &c) < 0) {
		rc = err_set(e, -EBADMSG, "cookie claims are malformed");
		goto done;
	}
	c.kind = kind;
	*out = c;
	if (now_ms >= c.expires_ms) {
		char when[40];

		protocol_datetime_format(c.expires_ms, when);
		rc = err_set(e, -ETIMEDOUT, "cookie expired at %s", when);
		goto done;
	}
	rc = 0;
done:
	OPENSSL_cleanse(plain, sizeof(plain));
	return rc;
}
