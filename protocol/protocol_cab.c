/*
 * protocol_cab.c -- XmlUpdateBlobCompressed: base64 -> MSCF cabinet (one LZX
 * member, "blob" in practice) -> UTF-16LE -> UTF-8 update XML. libmspack works
 * through an in-memory mspack_system: the cabinet is read from the caller's
 * buffer and the member written into a buffer with a ceiling, no temporary
 * files. Sizes are bounded by WSUS_MAX_CAB_INPUT / WSUS_MAX_CAB_OUTPUT. Every
 * string handed out is malloc'd, NUL-terminated and owned by the caller.
 */
#include "protocol.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mspack.h>

/*---- An mspack_system over memory ----*/

/* What we pass to libmspack as a "file name": a tagged descriptor. */
enum mem_kind { MEM_SOURCE = 0x4d535243, MEM_SINK = 0x4d534e4b };

struct mem_source {
	enum mem_kind kind;  /* MEM_SOURCE */
	const uint8_t *data;
	size_t len;
};

struct mem_sink {
	enum mem_kind kind;  /* MEM_SINK */
	uint8_t *data;
	size_t len, cap;
	size_t max;          /* writes past this fail */
	int overflow;        /* a write was refused for the ceiling */
};

/* An open handle: libmspack opens the cabinet more than once (headers, then
 * data), so each handle keeps its own position. */
struct mem_file {
	const struct mem_source *src;  /* reading, or */
	struct mem_sink *sink;         /* writing */
	size_t pos;
};

static struct mspack_file *mem_open(struct mspack_system *self, const char *name, int mode)
{
	const enum mem_kind *kind = (const enum mem_kind *)(const void *)name;
	struct mem_file *f;

	(void)self;
	if (kind == NULL)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	if (*kind == MEM_SOURCE && mode == MSPACK_SYS_OPEN_READ) {
		f->src = (const struct mem_source *)(const void *)name;
	} else if (*kind == MEM_SINK && mode == MSPACK_SYS_OPEN_WRITE) {
		f->sink = (struct mem_sink *)(void *)(uintptr_t)name;
		f->sink->len = 0;
	} else {
		free(f);
		return NULL;
	}
	return (struct mspack_file *)(void *)f;
}

static void mem_close(struct mspack_file *file)
{
	free(file);
}

static int mem_read(struct mspack_file *file, void *buf, int bytes)
{
	struct mem_file *f = (struct mem_file *)(void *)file;
	size_t n;

	if (f == NULL || f->src == NULL || bytes < 0)
		return -1;
	n = f->src->len - f->pos;
	if (n > (size_t)bytes)
		n = (size_t)bytes;
	memcpy(buf, f->src->data + f->pos, n);
	f->pos += n;
	return (int)n;
}

static int mem_write(struct mspack_file *file, void *buf, int bytes)
{
	struct mem_file *f = (struct mem_file *)(void *)file;
	struct mem_sink *s;

	if (f == NULL || f->sink == NULL || bytes < 0)
		return -1;
	s = f->sink;
	if ((size_t)bytes > s->max - s->len) {
		s->overflow = 1;
		return -1;
	}
	if (s->len + (size_t)bytes > s->cap) {
		size_t ncap = s->cap ? s->cap : 65536;
		uint8_t *nd;

		while (ncap < s->len + (size_t)bytes)
			ncap *= 2;
		if (ncap > s->max)
			ncap = s->max;
		nd = realloc(s->data, ncap);
		if (nd == NULL)
			return -1;
		s->data = nd;
		s->cap = ncap;
	}
	memcpy(s->data + s->len, buf, (size_t)bytes);
	s->len += (size_t)bytes;
	return bytes;
}

static int mem_seek(struct mspack_file *file, off_t offset, int mode)
{
	struct mem_file *f = (struct mem_file *)(void *)file;
	off_t base, end;

	if (f == NULL)
		return -1;
	end = (off_t)(f->src ? f->src->len : f->sink->len);
	switch (mode) {
	case MSPACK_SYS_SEEK_START: base = 0; break;
	case MSPACK_SYS_SEEK_CUR: base = (off_t)f->pos; break;
	case MSPACK_SYS_SEEK_END: base = end; break;
	default: return -1;
	}
	if (offset < -base || offset > end - base)
		return -1;
	f->pos = (size_t)(base + offset);
	return 0;
}

static off_t mem_tell(struct mspack_file *file)
{
	struct mem_file *f = (struct mem_file *)(void *)file;

	return f ? (off_t)f->pos : -1;
}

/* libmspack's warnings are about the cabinet we refuse anyway. */
static void mem_message(struct mspack_file *file, const char *format, ...)
{
	(void)file;
	(void)format;
}

static void *mem_alloc(struct mspack_system *self, size_t bytes)
{
	(void)self;
	return malloc(bytes);
}

static void mem_free(void *p)
{
	free(p);
}

static void mem_copy(void *src, void *dest, size_t bytes)
{
	memcpy(dest, src, bytes);
}

/*---- UTF-16LE ----*/

static size_t put_utf8(uint32_t cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static int only_zero_units(const uint8_t *p, size_t nbytes)
{
	for (size_t i = 0; i < nbytes; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

int protocol_utf16le_to_utf8(const uint8_t *in, size_t n, char **out, size_t *out_len,
			     struct err *e)
{
	size_t i = 0, o = 0;
	char *buf;

	if (n % 2 != 0)
		return err_set(e, -EINVAL, "UTF-16 text has an odd number of bytes (%zu)", n);
	if (n > WSUS_MAX_CAB_OUTPUT)
		return err_set(e, -EFBIG, "UTF-16 text of %zu bytes exceeds the limit", n);
	if (n >= 2 && in[0] == 0xff && in[1] == 0xfe)
		i = 2;
	/* Each 2-byte unit gives at most 3 bytes; a 4-byte pair at most 4. */
	buf = malloc((n / 2) * 3 + 1);
	if (buf == NULL)
		return err_set(e, -ENOMEM, "out of memory converting UTF-16");
	while (i < n) {
		uint32_t cp = (uint32_t)in[i] | (uint32_t)in[i + 1] << 8;

		if (cp >= 0xd800 && cp <= 0xdbff) {
			uint32_t lo = i + 3 < n ? ((uint32_t)in[i + 2] | (uint32_t)in[i + 3] << 8) : 0;

			if (lo < 0xdc00 || lo > 0xdfff)
				goto bad_surrogate;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			i += 2;
		} else if (cp >= 0xdc00 && cp <= 0xdfff) {
			goto bad_surrogate;
		} else if (cp == 0) {
			/* Writers sometimes pad with NUL units; NUL inside text is never valid. */
			if (only_zero_units(in + i, n - i))
				break;
			free(buf);
			return err_set(e, -EINVAL, "UTF-16 text contains a NUL character at byte %zu", i);
		}
		o += put_utf8(cp, buf + o);
		i += 2;
	}
	buf[o] = '\0';
	*out = buf;
	*out_len = o;
	return 0;
bad_surrogate:
	free(buf);
	return err_set(e, -EINVAL, "UTF-16 text has an unpaired surrogate at byte %zu", i);
}

/* The blob was UTF-16 and its XML declaration (when there is one) says so; the
 * text is UTF-8 now, and libxml2 refuses a document whose declaration names
 * another encoding than its bytes. The declaration carries nothing else we
 * need (version 1.0 is the default), so it is removed rather than rewritten. */
static void drop_xml_declaration(char *s, size_t *len)
{
	char *end;

	if (*len < 6 || memcmp(s, "<?xml", 5) != 0 ||
	    (s[5] != ' ' && s[5] != '\t' && s[5] != '\r' && s[5] != '\n'))
		return;
	end = strstr(s, "?>");
	if (end == NULL)
		return;
	end += 2;
	*len -= (size_t)(end - s);
	memmove(s, end, *len + 1);
}

/*---- Cabinet ----*/

static const char *mspack_error_text(int code)
{
	switch (code) {
	case MSPACK_ERR_OPEN: return "cannot open";
	case MSPACK_ERR_READ: return "truncated or unreadable";
	case MSPACK_ERR_WRITE: return "member larger than the limit";
	case MSPACK_ERR_SEEK: return "bad offset";
	case MSPACK_ERR_NOMEMORY: return "out of memory";
	case MSPACK_ERR_SIGNATURE: return "not a cabinet (no MSCF signature)";
	case MSPACK_ERR_DATAFORMAT: return "corrupt cabinet structure";
	case MSPACK_ERR_CHECKSUM: return "data block checksum mismatch";
	case MSPACK_ERR_DECRUNCH: return "corrupt compressed data";
	default: return "error";
	}
}

/* The single member of the cabinet into sink (bounded by sink->max). */
static int cab_member(struct mscab_decompressor *d, const struct mem_source *src,
		      struct mem_sink *sink, struct err *e)
{
	struct mscabd_cabinet *cab;
	const struct mscabd_file *f;
	size_t members = 0;
	int rc = 0, mrc;

	cab = d->open(d, (const char *)(const void *)src);
	if (cab == NULL) {
		mrc = d->last_error(d);
		return err_set(e, mrc == MSPACK_ERR_NOMEMORY ? -ENOMEM : -EINVAL, "cabinet: %s",
			       mspack_error_text(mrc));
	}
	if (cab->flags & (MSCAB_HDR_PREVCAB | MSCAB_HDR_NEXTCAB)) {
		rc = err_set(e, -EINVAL, "cabinet: spans several cabinets");
		goto done;
	}
	for (f = cab->files; f != NULL; f = f->next)
		members++;
	if (members != 1) {
		rc = err_set(e, -EINVAL, "cabinet: %zu members, expected exactly one", members);
		goto done;
	}
	f = cab->files;
	if (f->length > sink->max) {
		rc = err_set(e, -EFBIG, "cabinet: member of %u bytes exceeds the %zu byte limit",
			     f->length, sink->max);
		goto done;
	}
	mrc = d->extract(d, cab->files, (const char *)(void *)sink);
	if (mrc != MSPACK_ERR_OK) {
		rc = err_set(e, sink->overflow ? -EFBIG : mrc == MSPACK_ERR_NOMEMORY ? -ENOMEM : -EINVAL,
			     "cabinet: %s", sink->overflow ? "member larger than the limit"
							   : mspack_error_text(mrc));
		goto done;
	}
	if (sink->len != f->length)
		rc = err_set(e, -EINVAL, "cabinet: member gave %zu bytes, %u declared", sink->len,
			     f->length);
done:
	d->close(d, cab);
	return rc;
}

int protocol_cab_extract(const uint8_t *cab, size_t cab_len, char **xml, size_t *xml_len,
			 struct err *e)
{
	struct mspack_system sys = {
		.open = mem_open, .close = mem_close, .read = mem_read, .write = mem_write,
		.seek = mem_seek, .tell = mem_tell, .message = mem_message,
		.alloc = mem_alloc, .free = mem_free, .copy = mem_copy, .null_ptr = NULL,
	};
	struct mem_source src = { .kind = MEM_SOURCE, .data = cab, .len = cab_len };
	struct mem_sink sink = { .kind = MEM_SINK, .max = WSUS_MAX_CAB_OUTPUT };
	struct mscab_decompressor *d;
	int rc, selftest;

	if (cab == NULL)
		return err_set(e, -EINVAL, "cabinet: no data");
	if (cab_len > WSUS_MAX_CAB_INPUT)
		return err_set(e, -EFBIG, "cabinet of %zu bytes exceeds the %u byte limit", cab_len,
			       WSUS_MAX_CAB_INPUT);
	MSPACK_SYS_SELFTEST(selftest);
	if (selftest != MSPACK_ERR_OK)
		return err_set(e, -ENOSYS, "libmspack was built with another off_t size");
	d = mspack_create_cab_decompressor(&sys);
	if (d == NULL)
		return err_set(e, -ENOMEM, "cannot create a cabinet decompressor");
	rc = cab_member(d, &src, &sink, e);
	mspack_destroy_cab_decompressor(d);
	if (rc == 0)
		rc = protocol_utf16le_to_utf8(sink.data, sink.len, xml, xml_len, e);
	free(sink.data);
	if (rc < 0)
		return rc;
	drop_xml_declaration(*xml, xml_len);
	return 0;
}

int protocol_blob_decode_b64(const char *b64, size_t b64_len, char **xml, size_t *xml_len,
			     struct err *e)
{
	size_t cap = b64_len / 4 * 3 + 3, n = 0;
	uint8_t *raw;
	int rc;

	if (b64 == NULL)
		return err_set(e, -EINVAL, "no XmlUpdateBlobCompressed given");
	if (cap > WSUS_MAX_CAB_INPUT)
		cap = WSUS_MAX_CAB_INPUT;
	raw = malloc(cap);
	if (raw == NULL)
		return err_set(e, -ENOMEM, "out of memory decoding base64");
	rc = wsus_b64_decode(b64, b64_len, raw, cap, &n);
	if (rc == -E2BIG)
		rc = err_set(e, -EFBIG, "compressed blob exceeds the %u byte limit", WSUS_MAX_CAB_INPUT);
	else if (rc < 0)
		rc = err_set(e, -EINVAL, "compressed blob is not valid base64");
	else
		rc = protocol_cab_extract(raw, n, xml, xml_len, e);
	free(raw);
	return rc;
}
