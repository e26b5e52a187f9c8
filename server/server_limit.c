/*
 * server_limit.c -- per-address rate limits (RegisterComputer) and gates
 * that keep a warning from flooding the log.
 *
 * Design notes:
 * (1) A token bucket per address: it holds up to one minute's allowance
 *     and refills continuously, so a client may register in a burst and
 *     then at the configured rate. Tokens are counted in thousandths to
 *     stay in integers.
 * (2) Memory is fixed whatever the number of addresses: LIMIT_SLOTS buckets
 *     in an open-addressed table, probed LIMIT_PROBE deep from a hash keyed
 *     with a random seed (so the slots an address lands in cannot be chosen
 *     from outside). A new address takes a free slot in its window, else the
 *     bucket idle the longest. An evicted address starts again with a full
 *     bucket: the limit slows a flood from few addresses; the registration
 *     cap is the hard bound.
 * (3) An IPv6 client counts per /64 (one host usually owns the whole
 *     prefix); an IPv4-mapped IPv6 address counts as its IPv4 address.
 */
#include "server_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define LIMIT_SLOTS   4096           /* a power of two */
#define LIMIT_PROBE   8
#define LIMIT_KEY_LEN 9              /* family byte + 4 (IPv4) or 8 (IPv6 /64) address bytes */
#define CALL_UNITS    60000          /* ms in a minute */

struct limit_slot {
	uint8_t key[LIMIT_KEY_LEN];
	int     used;
	int64_t tokens;                  /* in units, CALL_UNITS a call */
	int64_t last_ms;                 /* last refill */
};

struct server_limit {
	pthread_mutex_t lock;
	int64_t per_minute;
	uint64_t seed;
	struct limit_slot slots[LIMIT_SLOTS];
};

int64_t server_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int server_limit_new(int per_minute, struct server_limit **out, struct err *e)
{
	struct server_limit *l;

	*out = NULL;
	if (per_minute <= 0)
		return err_set(e, -EINVAL, "a rate limit needs a positive rate");
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return err_set(e, -ENOMEM, "out of memory");
	if (getrandom(&l->seed, sizeof(l->seed), 0) != (ssize_t)sizeof(l->seed))
		l->seed = (uint64_t)wsus_now_ms() * 0x9e3779b97f4a7c15ULL;  /* only a worse spread */
	l->per_minute = per_minute;
	pthread_mutex_init(&l->lock, NULL);
	*out = l;
	return 0;
}

void server_limit_free(struct server_limit *l)
{
	if (l == NULL)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l);
}

/* Design note 3: the bytes an address is counted by. */
static void address_key(const char *peer, uint8_t key[LIMIT_KEY_LEN])
{
	static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint8_t a[16];

	memset(key, 0, LIMIT_KEY_LEN);
	if (peer == NULL)
		return;
	if (inet_pton(AF_INET, peer, a) == 1) {
		key[0] = 4;
		memcpy(key + 1, a, 4);
	} else if (inet_pton(AF_INET6, peer, a) == 1 && memcmp(a, v4_mapped, sizeof(v4_mapped)) == 0) {
		key[0] = 4;
		memcpy(key + 1, a + 12, 4);
	} else if (inet_pton(AF_INET6, peer, a) == 1) {
		key[0] = 6;
		memcpy(key + 1, a, 8);
	}
}

static uint64_t key_hash(uint64_t seed, const uint8_t key[LIMIT_KEY_LEN])
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (size_t i = 0; i < LIMIT_KEY_LEN; i++) {
		h ^= key[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 29);
}

/* The slot of key: its own, else a free one, else the longest idle (note 2). */
static struct limit_slot *find_slot(struct server_limit *l, const uint8_t key[LIMIT_KEY_LEN], int64_t now_ms)
{
	size_t at = (size_t)key_hash(l->seed, key) & (LIMIT_SLOTS - 1);
	struct limit_slot *take = NULL;

	for (size_t i = 0; i < LIMIT_PROBE; i++) {
		struct limit_slot *s = &l->slots[(at + i) & (LIMIT_SLOTS - 1)];

		if (s->used && memcmp(s->key, key, LIMIT_KEY_LEN) == 0)
			return s;
		if (take == NULL || (take->used && (!s->used || s->last_ms < take->last_ms)))
			take = s;
	}
	memcpy(take->key, key, LIMIT_KEY_LEN);
	take->used = 1;
	take->tokens = l->per_minute * CALL_UNITS;
	take->last_ms = now_ms;
	return take;
}

int server_limit_take(struct server_limit *l, const char *peer, int64_t now_ms)
{
	uint8_t key[LIMIT_KEY_LEN];
	struct limit_slot *s;
	int64_t full, elapsed;
	int ok;

	if (l == NULL)
		return 1;
	address_key(peer, key);
	pthread_mutex_lock(&l->lock);
	s = find_slot(l, key, now_ms);
	full = l->per_minute * CALL_UNITS;
	elapsed = now_ms > s->last_ms ? now_ms - s->last_ms : 0;
	s->tokens = elapsed >= CALL_UNITS ? full : s->tokens + elapsed * l->per_minute;
	if (s->tokens > full)
		s->tokens = full;
	if (now_ms > s->last_ms)
		s->last_ms = now_ms;
	ok = s->tokens >= CALL_UNITS;
	if (ok)
		s->tokens -= CALL_UNITS;
	pthread_mutex_unlock(&l->lock);
	return ok;
}

int server_log_gate_pass(struct server_log_gate *g, int64_t every_ms, uint64_t *suppressed)
{
	int64_t now = server_mono_ms();
	int pass;

	pthread_mutex_lock(&g->lock);
	pass = g->last_ms == 0 || now - g->last_ms >= every_ms;
	if (pass) {
		*suppressed = g->suppressed;
		g->suppressed = 0;
		g->last_ms = now;
	} else {
		g->suppressed++;
	}
	pthread_mutex_unlock(&g->lock);
	return pass;
}
