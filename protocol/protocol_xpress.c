/*
 * protocol_xpress.c -- the response encodings a client may ask for in
 * Accept-Encoding: Xpress (MS-WUSP 2.1.1: blocks of plain LZ77 with the
 * DIRECT2 encoding, each behind an 8-byte little-endian header) and gzip
 * (zlib). Both append to the caller's buffer; nothing else is allocated for
 * the caller.
 *
 * Design notes:
 * (1) Each block is compressed on its own: the decoder's window starts empty
 *     at every block, so a match never reaches into the previous block.
 * (2) A block is 65535 input bytes (what Windows uses, <8>). Its compressed
 *     form must not pass 65535 bytes either; data that does not compress
 *     (about 1/8 grows for the flag words) is cut into smaller blocks until
 *     each fits, which the format allows.
 * (3) Matches are found with hash chains over 3-byte prefixes, bounded in
 *     depth, with one step of lazy evaluation: a literal is preferred when the
 *     next position starts a longer match.
 * (4) Both encoders answer every SOAP response a client asks to compress, so
 *     they favour speed: a short chain depth here, zlib's fastest level with
 *     a window no larger than the input for gzip, and the Xpress work areas
 *     (about 350 KB) kept per thread instead of allocated per answer.
 * (5) An answer may be encoded in two parts made at different times (a head
 *     kept for many answers, a rest made per answer). Xpress needs nothing
 *     for that: its blocks are independent and may be short (2.1.1 bounds
 *     only their size). A gzip member does: the head ends its deflate blocks
 *     with a sync flush (an empty stored block, so the stream stops on a
 *     byte boundary, unfinished), the rest is a new raw deflate stream that
 *     never refers back, and the trailer's CRC is the two parts' CRCs
 *     combined.
 */
#include "protocol.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define XP_MIN_MATCH   3
#define XP_MAX_OFFSET  8192               /* 13 bits of offset - 1 */
#define XP_MAX_LENGTH  (65535 + 3)        /* the 16-bit escape holds length - 3 */
#define XP_HASH_BITS   13
#define XP_HASH_SIZE   (1u << XP_HASH_BITS)
#define XP_CHAIN_DEPTH 16
#define XP_HEADER      8
#define XP_NONE        (-1)

/*---- Output of one block: flag words, literals, match tokens ----*/

struct xp_out {
	uint8_t *p;
	size_t   len, cap;
	size_t   flag_pos;     /* where the current flag word goes */
	uint32_t flags;
	int      nflags;       /* bits used in the current word */
	size_t   shared_pos;   /* byte whose high nibble is still free, 0 = none */
};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static int out_reserve(struct xp_out *o, size_t n)
{
	return o->len + n <= o->cap ? 0 : -E2BIG;
}

static int out_byte(struct xp_out *o, uint8_t b)
{
	if (out_reserve(o, 1) < 0)
		return -E2BIG;
	o->p[o->len++] = b;
	return 0;
}

static int out_u16(struct xp_out *o, unsigned v)
{
	if (out_reserve(o, 2) < 0)
		return -E2BIG;
	o->p[o->len++] = (uint8_t)v;
	o->p[o->len++] = (uint8_t)(v >> 8);
	return 0;
}

/* A decoder reads a flag word before the elements it describes, so a new
 * word is reserved at the moment the 33rd flag is needed. */
static int out_flag(struct xp_out *o, unsigned bit)
{
	if (o->nflags == 32) {
		put32(o->p + o->flag_pos, o->flags);
		if (out_reserve(o, 4) < 0)
			return -E2BIG;
		o->flag_pos = o->len;
		o->len += 4;
		o->flags = 0;
		o->nflags = 0;
	}
	o->flags = (o->flags << 1) | (bit & 1u);
	o->nflags++;
	return 0;
}

static int out_literal(struct xp_out *o, uint8_t b)
{
	int rc = out_flag(o, 0);

	return rc < 0 ? rc : out_byte(o, b);
}

/* Lengths 3..9 fit the token; longer ones take a nibble of a byte shared by
 * two long matches, then a byte, then a 16-bit length - 3. */
static int out_match(struct xp_out *o, size_t offset, size_t length)
{
	size_t extra = length - XP_MIN_MATCH;
	unsigned token = (unsigned)((offset - 1) << 3) | (unsigned)(extra < 7 ? extra : 7);
	size_t nib;
	int rc = out_flag(o, 1);

	if (rc == 0)
		rc = out_u16(o, token);
	if (rc < 0 || extra < 7)
		return rc;
	extra -= 7;
	nib = extra < 15 ? extra : 15;
	if (o->shared_pos == 0) {
		o->shared_pos = o->len;
		rc = out_byte(o, (uint8_t)nib);
	} else {
		o->p[o->shared_pos] |= (uint8_t)(nib << 4);
		o->shared_pos = 0;
	}
	if (rc < 0 || extra < 15)
		return rc;
	extra -= 15;
	if (extra < 255)
		return out_byte(o, (uint8_t)extra);
	rc = out_byte(o, 255);
	return rc < 0 ? rc : out_u16(o, (unsigned)(length - XP_MIN_MATCH));
}

/* The end of the data is a 1 flag with no input after it; the bits left in
 * the last word are set too, so any reading of them means "end". */
static int out_finish(struct xp_out *o)
{
	int rc = out_flag(o, 1);

	if (rc < 0)
		return rc;
	if (o->nflags < 32)
		o->flags = (o->flags << (32 - o->nflags)) | ((1u << (32 - o->nflags)) - 1);
	put32(o->p + o->flag_pos, o->flags);
	return 0;
}

/*---- Match finding ----*/

struct xp_finder {
	const uint8_t *in;
	size_t n;
	int32_t head[XP_HASH_SIZE];
	int32_t prev[PROTOCOL_XPRESS_BLOCK];
};

static unsigned hash3(const uint8_t *p)
{
	uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;

	return (v * 2654435761u) >> (32 - XP_HASH_BITS);
}

static void finder_insert(struct xp_finder *f, size_t pos)
{
	unsigned h;

	if (pos + XP_MIN_MATCH > f->n)
		return;
	h = hash3(f->in + pos);
	f->prev[pos] = f->head[h];
	f->head[h] = (int32_t)pos;
}

/* The longest earlier match for pos within the window: *offset back, length
 * returned (0 when none reaches XP_MIN_MATCH). */
static size_t finder_best(const struct xp_finder *f, size_t pos, size_t *offset)
{
	size_t limit = f->n - pos, best = 0;
	int32_t cand;
	int depth = XP_CHAIN_DEPTH;

	if (limit < XP_MIN_MATCH)
		return 0;
	if (limit > XP_MAX_LENGTH)
		limit = XP_MAX_LENGTH;
	cand = f->head[hash3(f->in + pos)];
	for (; cand != XP_NONE && depth-- > 0; cand = f->prev[cand]) {
		size_t c = (size_t)cand, len = 0;

		if (pos - c > XP_MAX_OFFSET)
			break;
		if (f->in[c + best] != f->in[pos + best])
			continue;
		while (len < limit && f->in[c + len] == f->in[pos + len])
			len++;
		if (len > best) {
			best = len;
			*offset = pos - c;
			if (len == limit)
				break;
		}
	}
	return best >= XP_MIN_MATCH ? best : 0;
}

/*---- One block ----*/

static int compress_block(struct xp_finder *f, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
			  size_t *out_len)
{
	struct xp_out o = { .p = out, .cap = cap };
	size_t pos = 0;
	int rc = 0;

	if (cap < 4)
		return -E2BIG;
	o.len = 4;                      /* the first flag word */
	f->in = in;
	f->n = n;
	for (size_t i = 0; i < XP_HASH_SIZE; i++)
		f->head[i] = XP_NONE;
	while (pos < n && rc == 0) {
		size_t off = 0, len = finder_best(f, pos, &off), off2 = 0, len2;

		if (len == 0) {
			finder_insert(f, pos);
			rc = out_literal(&o, in[pos++]);
			continue;
		}
		finder_insert(f, pos);
		len2 = pos + 1 < n ? finder_best(f, pos + 1, &off2) : 0;
		if (len2 > len + 1) {
			rc = out_literal(&o, in[pos++]);
			continue;
		}
		rc = out_match(&o, off, len);
		for (size_t k = 1; k < len; k++)
			finder_insert(f, pos + k);
		pos += len;
	}
	if (rc == 0)
		rc = out_finish(&o);
	if (rc == 0)
		*out_len = o.len;
	return rc;
}

int protocol_xpress_block(const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
	struct xp_finder *f;
	int rc;

	if (n > PROTOCOL_XPRESS_BLOCK)
		return -EINVAL;
	f = malloc(sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	rc = compress_block(f, in, n, out, cap, out_len);
	free(f);
	return rc;
}

/*---- The stream ----*/

static int append_block(struct wsus_buf *b, const uint8_t *data, size_t orig, size_t comp)
{
	uint8_t hdr[XP_HEADER];
	int rc;

	put32(hdr, (uint32_t)orig);
	put32(hdr + 4, (uint32_t)comp);
	rc = wsus_buf_append(b, hdr, sizeof(hdr));
	return rc < 0 ? rc : wsus_buf_append(b, data, comp);
}

/* The work areas of this thread's encoder (design note 4), made on first
 * use and kept for the life of the thread. */
struct xp_work {
	struct xp_finder f;
	uint8_t block[PROTOCOL_XPRESS_BLOCK];
};

static pthread_key_t work_key;
static pthread_once_t work_once = PTHREAD_ONCE_INIT;
static int work_key_ok;

static void work_key_make(void)
{
	work_key_ok = pthread_key_create(&work_key, free) == 0;
}

static struct xp_work *thread_work(void)
{
	struct xp_work *w;

	pthread_once(&work_once, work_key_make);
	if (!work_key_ok)
		return NULL;
	w = pthread_getspecific(work_key);
	if (w == NULL) {
		w = malloc(sizeof(*w));
		if (w != NULL && pthread_setspecific(work_key, w) != 0) {
			free(w);
			w = NULL;
		}
	}
	return w;
}

int protocol_xpress_encode(const void *in, size_t n, struct wsus_buf *out)
{
	const uint8_t *p = in;
	struct xp_work *w = thread_work();
	struct xp_finder *f = w ? &w->f : NULL;
	uint8_t *block = w ? w->block : NULL;
	size_t done = 0;
	int rc = 0;

	if (w == NULL)
		return -ENOMEM;
	while (done < n && rc == 0) {
		size_t take = n - done < PROTOCOL_XPRESS_BLOCK ? n - done : PROTOCOL_XPRESS_BLOCK;
		size_t comp = 0;

		/* Design note 2: halve until the compressed block fits. */
		for (;;) {
			rc = compress_block(f, p + done, take, block, PROTOCOL_XPRESS_BLOCK, &comp);
			if (rc != -E2BIG || take <= 1024)
				break;
			take /= 2;
		}
		if (rc == 0)
			rc = append_block(out, block, take, comp);
		done += take;
	}
	return rc;
}

/*---- gzip (zlib) ----*/

/* The smallest window that covers the input (zlib's memory follows it). */
static int window_bits(size_t n)
{
	int bits = 9;

	while (bits < 15 && ((size_t)1 << bits) < n)
		bits++;
	return bits;
}

/* Run deflate over n bytes with flush (Z_SYNC_FLUSH: end on a byte boundary
 * with the stream left open; Z_FINISH: close it), appending its output:
 * a whole gzip member when gzip, else raw deflate blocks. */
static int deflate_run(const void *in, size_t n, int gzip, int flush, struct wsus_buf *out)
{
	int bits = window_bits(n);
	uint8_t chunk[16384];
	z_stream z;
	int zrc, rc = 0;

	memset(&z, 0, sizeof(z));
	/* Fastest level (note 4). */
	if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, gzip ? bits + 16 : -bits, bits < 15 ? 6 : 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	if ((size_t)z.avail_in != n) {
		deflateEnd(&z);
		return -E2BIG;
	}
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zrc = deflate(&z, flush);
		if (zrc == Z_STREAM_ERROR) {
			rc = -EIO;
			break;
		}
		rc = wsus_buf_append(out, chunk, sizeof(chunk) - z.avail_out);
		/* A sync flush is done when deflate left room in the chunk. */
	} while (rc == 0 && (flush == Z_FINISH ? zrc != Z_STREAM_END : z.avail_out == 0));
	deflateEnd(&z);
	return rc;
}

int protocol_gzip_encode(const void *in, size_t n, struct wsus_buf *out)
{
	return deflate_run(in, n, 1, Z_FINISH, out);
}

static int put_le32(struct wsus_buf *out, uint32_t v)
{
	uint8_t b[4];

	put32(b, v);
	return wsus_buf_append(out, b, sizeof(b));
}

/* Design note 5: the head is the member's header and raw deflate blocks
 * ending on a byte boundary; the rest is a fresh raw deflate stream, so it
 * can follow any head, and the trailer combines the two CRCs. */
int protocol_gzip_head(const void *in, size_t n, struct wsus_buf *out, struct protocol_gzip_part *part)
{
	/* ID1 ID2, CM deflate, no flags, no time, XFL fastest, OS unix. */
	static const uint8_t header[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3 };
	int rc = wsus_buf_append(out, header, sizeof(header));

	if (rc == 0)
		rc = deflate_run(in, n, 0, Z_SYNC_FLUSH, out);
	part->crc = (uint32_t)crc32(0L, in, (uInt)n);
	part->len = n;
	return rc;
}

int protocol_gzip_rest(const void *in, size_t n, const struct protocol_gzip_part *head, struct wsus_buf *out)
{
	uint32_t crc = (uint32_t)crc32_combine(head->crc, crc32(0L, in, (uInt)n), (z_off_t)n);
	int rc = deflate_run(in, n, 0, Z_FINISH, out);

	if (rc == 0)
		rc = put_le32(out, crc);
	if (rc == 0)
		rc = put_le32(out, (uint32_t)(head->len + n));
	return rc;
}
