/*
 * test_server_cookie.c -- sealed cookies (server_cookie.c).
 * Groups: 1 round trip and text form,
 *         2 tampering (every bit flip, every truncation, other key, other
 *           kind, garbage, non-canonical base64, malformed claims under a
 *           valid tag),
 *         3 expiry,
 *         4 no process-local state (another process, a stored cookie).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "server_int.h"


static const uint8_t key_a[32] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

#define T0 1750000000000LL

static struct server_cookie_claims sample(enum server_cookie_kind kind)
{
	struct server_cookie_claims c;

	memset(&c, 0, sizeof(c));
	c.kind = kind;
	snprintf(c.subject, sizeof(c.subject), "6f1c2f6e-3f0b-4d3a-9b11-0123456789ab");
	snprintf(c.server_id, sizeof(c.server_id), "0a4c6c73-8887-4d7f-9cbe-d08fa8fa9d1e");
	snprintf(c.protocol_version, sizeof(c.protocol_version), "1.20");
	snprintf(c.groups, sizeof(c.groups), "All Computers,Ring 1");
	c.issued_ms = T0;
	c.expires_ms = T0 + SERVER_COOKIE_TTL_MS;
	c.aux = -42;
	return c;
}

static char *seal_ok(const uint8_t key[32], const struct server_cookie_claims *c)
{
	struct err e = { 0 };
	char *s = NULL;

	if (server_cookie_seal(key, c, &s, &e) != 0)
		fail_msg("seal: %s", e.msg);
	assert_non_null(s);
	return s;
}

static void assert_claims_equal(const struct server_cookie_claims *a, const struct server_cookie_claims *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_string_equal(a->subject, b->subject);
	assert_string_equal(a->server_id, b->server_id);
	assert_string_equal(a->protocol_version, b->protocol_version);
	assert_string_equal(a->groups, b->groups);
	assert_int_equal(a->issued_ms, b->issued_ms);
	assert_int_equal(a->expires_ms, b->expires_ms);
	assert_int_equal(a->aux, b->aux);
}

/* Raw sealed bytes of a cookie text. */
static size_t raw_of(const char *text, uint8_t *raw, size_t cap)
{
	size_t n = 0;

	assert_int_equal(wsus_b64_decode(text, strlen(text), raw, cap, &n), 0);
	return n;
}

static char *text_of(const uint8_t *raw, size_t n)
{
	char *t = malloc(wsus_b64_encoded_len(n) + 1);

	assert_non_null(t);
	wsus_b64_encode(raw, n, t);
	return t;
}

static int open_rc(const uint8_t key[32], const char *text, enum server_cookie_kind kind)
{
	struct server_cookie_claims out;
	struct err e = { 0 };

	return server_cookie_open(key, text, kind, T0, &out, &e);
}

/*---- 1 round trip ----*/

/* 1.1 every claim survives seal/open, for every kind, including fields
 * filled to their last byte and extreme integers */
static void test_round_trip(void **state)
{
	(void)state;
	for (int k = SERVER_COOKIE_DSS_AUTH; k <= SERVER_COOKIE_CLIENT; k++) {
		struct server_cookie_claims c = sample((enum server_cookie_kind)k), out;
		struct err e = { 0 };
		char *s = seal_ok(key_a, &c);

		memset(&out, 0x5a, sizeof(out));
		assert_int_equal(server_cookie_open(key_a, s, c.kind, T0, &out, &e), 0);
		assert_claims_equal(&c, &out);
		free(s);
	}
	{
		struct server_cookie_claims c = sample(SERVER_COOKIE_CLIENT), out;
		struct err e = { 0 };
		char *s;

		memset(c.subject, 's', sizeof(c.subject) - 1);
		memset(c.groups, 'g', sizeof(c.groups) - 1);
		memset(c.protocol_version, '9', sizeof(c.protocol_version) - 1);
		c.issued_ms = INT64_MIN;
		c.expires_ms = INT64_MAX;
		c.aux = INT64_MIN;
		s = seal_ok(key_a, &c);
		assert_int_equal(server_cookie_open(key_a, s, c.kind, T0, &out, &e), 0);
		assert_claims_equal(&c, &out);
		free(s);
	}
	{
		struct server_cookie_claims c, out;
		struct err e = { 0 };
		char *s;

		memset(&c, 0, sizeof(c));
		c.kind = SERVER_COOKIE_DSS;
		c.expires_ms = T0 + 1;
		s = seal_ok(key_a, &c);
		assert_int_equal(server_cookie_open(key_a, s, c.kind, T0, &out, &e), 0);
		assert_claims_equal(&c, &out);
		free(s);
	}
}

/* 1.2 the text is plain base64 of version 1 | nonce | ciphertext | tag, the
 * claims are not readable in it, and two seals of the same claims differ */
static void test_text_form(void **state)
{
	struct server_cookie_claims c = sample(SERVER_COOKIE_DSS);
	uint8_t raw[2048];
	char *a = seal_ok(key_a, &c), *b = seal_ok(key_a, &c);
	size_t n = raw_of(a, raw, sizeof(raw));

	(void)state;
	assert_string_not_equal(a, b);
	assert_int_equal(raw[0], 1);
	assert_int_equal(n, 1 + 12 + 16 + 4 * 2 + 3 * 8 + strlen(c.subject) + strlen(c.server_id) +
				    strlen(c.protocol_version) + strlen(c.groups));
	assert_null(memmem(raw, n, c.subject, strlen(c.subject)));
	assert_null(memmem(raw, n, "Ring 1", 6));
	free(a);
	free(b);
}

/* 1.3 sealing refuses what it cannot represent */
static void test_seal_refusals(void **state)
{
	struct server_cookie_claims c = sample(SERVER_COOKIE_DSS);
	struct err e = { 0 };
	char *s = (char *)"untouched";

	(void)state;
	c.kind = (enum server_cookie_kind)0;
	assert_int_equal(server_cookie_seal(key_a, &c, &s, &e), -EINVAL);
	assert_null(s);
	c = sample(SERVER_COOKIE_DSS);
	memset(c.groups, 'g', sizeof(c.groups)); /* not terminated */
	assert_int_equal(server_cookie_seal(key_a, &c, &s, &e), -EINVAL);
	assert_null(s);
}

/*---- 2 tampering ----*/

/* 2.1 flipping any single bit of the sealed bytes makes the cookie refused */
static void test_every_bit_flip_refused(void **state)
{
	struct server_cookie_claims c = sample(SERVER_COOKIE_CLIENT_AUTH);
	uint8_t raw[2048];
	char *s = seal_ok(key_a, &c);
	size_t n = raw_of(s, raw, sizeof(raw));

	(void)state;
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			char *t;
			int rc;

			raw[i] ^= (uint8_t)(1u << bit);
			t = text_of(raw, n);
			rc = open_rc(key_a, t, c.kind);
			if (rc != -EBADMSG)
				fail_msg("byte %zu bit %d flipped: rc %d", i, bit, rc);
			free(t);
			raw[i] ^= (uint8_t)(1u << bit);
		}
	}
	free(s);
}

/* 2.2 a cookie cut at any length, as bytes or as text, is refused */
static void test_every_truncation_refused(void **state)
{
	struct server_cookie_claims c = sample(SERVER_COOKIE_DSS);
	uint8_t raw[2048];
	char *s = seal_ok(key_a, &c);
	size_t n = raw_of(s, raw, sizeof(raw)), len = strlen(s);

	(void)state;
	for (size_t k = 0; k < n; k++) {
		char *t = text_of(raw, k);

		assert_int_equal(open_rc(key_a, t, c.kind), -EBADMSG);
		free(t);
	}
	for (size_t k = 0; k < len; k++) {
		char *t = strndup(s, k);

		assert_non_null(t);
		assert_int_equal(open_rc(key_a, t, c.kind), -EBADMSG);
		free(t);
	}
	assert_int_equal(open_rc(key_a, s, c.kind), 0);
	free(s);
}

/* 2.3 a cookie sealed under another key does not open */
static void test_other_key_refused(void **state)
{
	struct server_cookie_claims c = sample(SERVER_COOKIE_DSS);
	uint8_t key_b[32];
	char *s;

	(void)state;
	memcpy(key_b, key_a, sizeof(key_b));
	key_b[31] ^= 0x80;
	s = seal_ok(key_b, &c);
	assert_int_equal(open_rc(key_a, s, c.kind), -EBADMSG);
	assert_int_equal(open_rc(key_b, s, c.kind), 0);
	free(s);
}

/* 2.4 a cookie of one kind never opens as another (authorization cookie
 * replayed as a cookie, client cookie replayed to the DSS service...) */
static void test_wrong_kind_refused(void **state)
{
	(void)state;
	for (int k = SERVER_COOKIE_DSS_AUTH; k <= SERVER_COOKIE_CLIENT; k++) {
		struct server_cookie_claims c = sample((enum server_cookie_kind)k);
		char *s = seal_ok(key_a, &c);

		for (int other = 0; other <= SERVER_COOKIE_CLIENT + 1; other++)
			assert_int_equal(open_rc(key_a, s, (enum server_cookie_kind)other),
					 other == k ? 0 : -EBADMSG);
		free(s);
	}
}

/* 2.5 garbage of every sort is InvalidCookie material, never a crash */
static void test_garbage_refused(void **state)
{
	static const char *const v[] = {
		"", " ", "AAAA", "====", "not base64 at all!", "QUFB\x01QUFB", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"cXwHhVfNGxd/aJZ9ZqE4zwDbISp2BEDW1uTJ9CUX5N5adk8+If+RLCCC9hq335lESmHaHAmAkAgTr53kDAHesvDrgOtT39tzQjbqwBE+d+WI",
	};
	struct server_cookie_claims out;
	struct err e = { 0 };
	char *huge;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_int_equal(open_rc(key_a, v[i], SERVER_COOKIE_DSS), -EBADMSG);
	assert_int_equal(server_cookie_open(key_a, NULL, SERVER_COOKIE_DSS, T0, &out, &e), -EBADMSG);
	huge = malloc(1 << 20);
	assert_non_null(huge);
	memset(huge, 'A', (1 << 20) - 1);
	huge[(1 << 20) - 1] = '\0';
	assert_int_equal(open_rc(key_a, huge, SERVER_COOKIE_DSS), -EBADMSG);
	free(huge);
}

/* 2.6 only the canonical base64 spelling opens (white space aside): a
 * cookie has one text form */
static void test_base64_canonical(void **state)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct server_cookie_claims c = sample(SERVER_COOKIE_DSS);
	char *s = seal_ok(key_a, &c);
	size_t len = strlen(s), data_len = len;
	char *w = malloc(2 * len + 8), *nc;
	size_t o = 0;

	(void)state;
	assert_non_null(w);
	/* wrapped every 20 characters: still the same cookie */
	for (size_t i = 0; i < len; i++) {
		if (i > 0 && i % 20 == 0)
			w[o++] = '\n';
		w[o++] = s[i];
	}
	w[o] = '\0';
	assert_int_equal(open_rc(key_a, w, c.kind), 0);
	/* the sample's 157 sealed bytes need "==" padding */
	while (data_len > 0 && s[data_len - 1] == '=')
		data_len--;
	assert_int_equal(len - data_len, 2);
	/* padding dropped: refused */
	nc = strndup(s, data_len);
	assert_non_null(nc);
	assert_int_equal(open_rc(key_a, nc, c.kind), -EBADMSG);
	free(nc);
	/* an unused low bit of the last character set: the same bytes decode,
	 * but the spelling is not canonical */
	nc = strdup(s);
	assert_non_null(nc);
	{
		const char *pos = strchr(alphabet, nc[data_len - 1]);

		assert_non_null(pos);
		assert_int_equal((pos - alphabet) & 1, 0);
		nc[data_len - 1] = alphabet[(pos - alphabet) | 1];
	}
	assert_int_equal(open_rc(key_a, nc, c.kind), -EBADMSG);
	free(nc);
	free(w);
	free(s);
}

/* Seal arbitrary plaintext in the cookie layout with a valid tag, as only
 * a holder of the key could: what the claims parser then has to refuse. */
static char *seal_raw(const uint8_t *plain, size_t n, enum server_cookie_kind kind)
{
	uint8_t out[4096], aad[2] = { 1, (uint8_t)kind };
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len = 0;

	assert_true(n + 29 <= sizeof(out));
	out[0] = 1;
	memset(out + 1, 0x42, 12);
	assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key_a, out + 1), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &len, aad, 2), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, out + 13, &len, plain, (int)n), 1);
	assert_int_equal(EVP_EncryptFinal_ex(ctx, out + 13 + len, &len), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out + 13 + n), 1);
	EVP_CIPHER_CTX_free(ctx);
	return text_of(out, 13 + n + 16);
}

/* Append a length-prefixed string / an 8-byte integer to a plaintext. */
static size_t put_s(uint8_t *p, size_t o, const char *s, size_t n)
{
	p[o] = (uint8_t)(n >> 8);
	p[o + 1] = (uint8_t)n;
	memcpy(p + o + 2, s, n);
	return o + 2 + n;
}

static size_t put_i(uint8_t *p, size_t o, int64_t v)
{
	for (int i = 7; i >= 0; i--)
		p[o++] = (uint8_t)((uint64_t)v >> (8 * i));
	return o;
}

/* 2.7 a correctly sealed plaintext that is not well-formed claims is
 * refused; the well-formed one built the same way opens (so the layout the
 * test writes is the real one) */
static void test_malformed_claims_refused(void **state)
{
	uint8_t p[4096];
	size_t o;
	char *t;
	char big[300];
	struct server_cookie_claims out;
	struct err e = { 0 };

	(void)state;
	memset(big, 'x', sizeof(big));
	/* well-formed */
	o = put_s(p, 0, "subj", 4);
	o = put_s(p, o, "sid", 3);
	o = put_s(p, o, "1.20", 4);
	o = put_s(p, o, "", 0);
	o = put_i(p, o, T0);
	o = put_i(p, o, T0 + 1000);
	o = put_i(p, o, 7);
	t = seal_raw(p, o, SERVER_COOKIE_DSS);
	assert_int_equal(server_cookie_open(key_a, t, SERVER_COOKIE_DSS, T0, &out, &e), 0);
	assert_string_equal(out.subject, "subj");
	assert_int_equal(out.aux, 7);
	free(t);
	/* one trailing byte */
	p[o] = 0;
	t = seal_raw(p, o + 1, SERVER_COOKIE_DSS);
	assert_int_equal(open_rc(key_a, t, SERVER_COOKIE_DSS), -EBADMSG);
	free(t);
	/* one byte short */
	t = seal_raw(p, o - 1, SERVER_COOKIE_DSS);
	assert_int_equal(open_rc(key_a, t, SERVER_COOKIE_DSS), -EBADMSG);
	free(t);
	/* a NUL inside a string */
	o = put_s(p, 0, "su\0j", 4);
	o = put_s(p, o, "sid", 3);
	o = put_s(p, o, "1.20", 4);
	o = put_s(p, o, "", 0);
	o = put_i(p, o, T0);
	o = put_i(p, o, T0 + 1000);
	o = put_i(p, o, 7);
	t = seal_raw(p, o, SERVER_COOKIE_DSS);
	assert_int_equal(open_rc(key_a, t, SERVER_COOKIE_DSS), -EBADMSG);
	free(t);
	/* a subject longer than its field (255) */
	o = put_s(p, 0, big, 256);
	o = put_s(p, o, "sid", 3);
	o = put_s(p, o, "1.20", 4);
	o = put_s(p, o, "", 0);
	o = put_i(p, o, T0);
	o = put_i(p, o, T0 + 1000);
	o = put_i(p, o, 7);
	t = seal_raw(p, o, SERVER_COOKIE_DSS);
	assert_int_equal(open_rc(key_a, t, SERVER_COOKIE_DSS), -EBADMSG);
	free(t);
	/* a length running past the end */
	o = put_s(p, 0, "subj", 4);
	p[0] = 0xff;
	o = put_i(p, o, 0);
	t = seal_raw(p, o, SERVER_COOKIE_DSS);
	assert_int_equal(open_rc(key_a, t, SERVER_COOKIE_DSS), -EBADMSG);
	free(t);
}

/*---- 3 expiry ----*/

/* 3.1 an expired cookie opens with -ETIMEDOUT and its claims (CookieExpired
 * needs them); the instant of expiry already counts as expired */
static void test_expiry(void **state)
{
	struct server_cookie_claims c = sample(SERVER_COOKIE_CLIENT), out;
	struct err e = { 0 };
	char *s = seal_ok(key_a, &c);

	(void)state;
	assert_int_equal(server_cookie_open(key_a, s, c.kind, c.expires_ms - 1, &out, &e), 0);
	memset(&out, 0, sizeof(out));
	assert_int_equal(server_cookie_open(key_a, s, c.kind, c.expires_ms, &out, &e), -ETIMEDOUT);
	assert_claims_equal(&c, &out);
	assert_non_null(strstr(e.msg, "expired"));
	memset(&out, 0, sizeof(out));
	assert_int_equal(server_cookie_open(key_a, s, c.kind, c.expires_ms + 86400000, &out, &e),
			 -ETIMEDOUT);
	assert_string_equal(out.subject, c.subject);
	free(s);
}

/*---- 4 no process-local state ----*/

/* 4.1 a cookie sealed by another process (a server before its restart)
 * opens here with the same key */
static void test_opens_across_processes(void **state)
{
	struct server_cookie_claims c = sample(SERVER_COOKIE_DSS), out;
	struct err e = { 0 };
	char text[4096];
	int fds[2], status;
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *s = NULL;
		size_t len, off = 0;

		close(fds[0]);
		if (server_cookie_seal(key_a, &c, &s, NULL) != 0)
			_exit(1);
		len = strlen(s);
		while (off < len) {
			ssize_t w = write(fds[1], s + off, len - off);

			if (w <= 0)
				_exit(1);
			off += (size_t)w;
		}
		_exit(0);
	}
	close(fds[1]);
	while ((r = read(fds[0], text + got, sizeof(text) - 1 - got)) > 0)
		got += (size_t)r;
	close(fds[0]);
	text[got] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(server_cookie_open(key_a, text, c.kind, T0, &out, &e), 0);
	assert_claims_equal(&c, &out);
}

/* 4.2 a cookie sealed by an earlier build with key 00..1f (format version 1)
 * still opens: the format is part of the contract with clients that hold
 * cookies across our upgrades */
static void test_stored_cookie_opens(void **state)
{
	static const char stored[] =
		"AT78rsJEik0bgv0Cf6iDu7Az+M2FlH0OwUr3spGssFJHqgve0xqU5MacS8AswMJOJvnCd5UOKEAQKB6tpwKc"
		"w7QMMFmJ2F+/3LU9Tftk4bp1TLu1ryXRewrLfhBaWastY6RJrloYW8QAES2NOv6kb8u5kIUrysGSFC8tLQQ6"
		"LUWnC9zQ6FLyO5EmVJEK3mTt04kzcFm2knETLVlDNA==";
	struct server_cookie_claims c = sample(SERVER_COOKIE_DSS), out;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(server_cookie_open(key_a, stored, SERVER_COOKIE_DSS, T0, &out, &e), 0);
	assert_claims_equal(&c, &out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_text_form),
		cmocka_unit_test(test_seal_refusals),
		cmocka_unit_test(test_every_bit_flip_refused),
		cmocka_unit_test(test_every_truncation_refused),
		cmocka_unit_test(test_other_key_refused),
		cmocka_unit_test(test_wrong_kind_refused),
		cmocka_unit_test(test_garbage_refused),
		cmocka_unit_test(test_base64_canonical),
		cmocka_unit_test(test_malformed_claims_refused),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_opens_across_processes),
		cmocka_unit_test(test_stored_cookie_opens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
