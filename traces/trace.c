/* traces/trace — eptsim's trace format.  See trace.h for the contract.
 *
 * Byte layout (version 1).  The file is one gzip stream (zlib, level 6); inside it:
 *
 *   header   "EPTSIMTR"                8 bytes
 *            version                   varint (1)
 *            vCPU count                varint, 1 .. 4096
 *            address kind              1 byte: 0 GVA, 1 GPA
 *            paging                    1 byte: 0 4-level, 1 none
 *            source length, source     varint (at most 1024), then that many bytes (no NUL)
 *
 *   record   tag                       1 byte:
 *                                        bits 0-3  kind (enum rec_kind, never REC_END)
 *                                        bit  4    the vCPU differs from the previous
 *                                                  record's vCPU (the first record's
 *                                                  "previous vCPU" is 0)
 *                                        bits 5-6  memory records: size code (0: 8 bytes,
 *                                                  1: 4 bytes, 2: 1 byte, 3: a varint
 *                                                  follows); control records: 0
 *                                        bit  7    icount is 0
 *            vCPU                      varint, if bit 4 (below the vCPU count)
 *            icount                    varint, unless bit 7
 *            then for a memory record (R W X MR MW):
 *            size                      varint, if size code 3 (at most 2^32 - 1)
 *            address                   zigzag varint: the difference from the previous
 *                                      address of the same vCPU in the same stream,
 *                                      modulo 2^64.  Each vCPU has two streams, fetches
 *                                      (X) and data (R W MR MW); each starts at 0.
 *            or for a control record (UNMAP MEMSLOT DIRTY MARK):
 *            arg                       varint (at most 2^32 - 1): the memslot or dirty-log
 *                                      op, the marker id; 0 for UNMAP
 *            addr                      varint, absolute; 0 for MARK
 *            len                       varint; 0 for DIRTY and MARK
 *
 *   end      tag 0x06 (REC_END, no other bit), then the record count (varint), then
 *            nothing.
 *
 * Varints are LEB128: 7 bits a byte, low group first, bit 7 set on every byte but the last,
 * at most 10 bytes.  Zigzag maps a difference d to (d << 1) ^ (d >> 63 arithmetic), so
 * small steps either way take one or two bytes.
 *
 * Fields a kind does not use (size of a control record; arg and len of a memory record;
 * arg of UNMAP; addr of MARK; len of DIRTY and MARK) are not stored: the writer drops
 * them and they read back as 0.  The writer always writes the shortest form (so the same
 * records give the same bytes); the reader accepts longer forms (a varint with extra
 * bytes, an explicit icount 0 or size, a vCPU that did not change) and rejects everything
 * else the writer cannot produce.  Like gzip -dc, it also reads a stream that is not
 * compressed (zlib's transparent mode).
 *
 * Reading: one buffer of TRACE_BUF_SIZE bytes filled by gzread() in big chunks and
 * followed by BUF_PAD zero bytes.  A record is at most REC_MAX_BYTES long and the buffer
 * is topped up whenever less than that is left, so a record is decoded with no bounds
 * check per byte: a varint running into the zero padding stops there, and one compare
 * after the record tells a record cut off by the end of the stream.  The hot path (memory
 * records) has no branch that real traces make unpredictable; control records, the end
 * marker and errors are handled out of line.  Errors are sticky.
 *
 * trace_read() decodes runs of memory records in one loop (read_memory_run()) that keeps
 * the reader's state in registers.  Nearly every record there has a "short form" (no vCPU
 * switch, one-byte icount and size if any, at most 8 bytes in all) and is decoded from a
 * single 8-byte load with a table indexed by its tag.  Whatever that loop does not take (a
 * control record, the end marker, anything bad, the last REC_MAX_BYTES of the buffer) goes
 * through trace_next()'s path, which decodes it from scratch and reports it: so both read
 * the same records and fail with the same messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "traces/trace.h"
#include "sim/tmpfiles.h"

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

#define TRACE_BUF_SIZE	(256u << 10)	/* our decode / encode buffer */
#define TRACE_GZ_WBUFFER (256u << 10)	/* zlib's own buffer (gzbuffer) when writing */
/* The compressed input chunk when reading: inflate() writes straight into buf. */
#define TRACE_GZ_RBUFFER (64u << 10)
#define TRACE_GZ_WMODE	"wb6"		/* gzip level 6: zlib's default trade-off */
#define MAGIC_LEN	8
#define VARINT_MAX	10		/* 64 bits / 7 bits a byte, rounded up */
/* The longest record: a tag and five varints (control: vCPU, icount, arg, addr, len). */
#define REC_MAX_BYTES	(1 + 5 * VARINT_MAX)
#define BUF_PAD		64		/* zero bytes after the data: >= REC_MAX_BYTES */
#define HEADER_MAX_BYTES (MAGIC_LEN + 3 * VARINT_MAX + 2 + TRACE_SOURCE_MAX)

#define TAG_KIND_MASK	0x0fu
#define TAG_VCPU	0x10u
#define TAG_SIZE_SHIFT	5
#define TAG_SIZE_MASK	0x60u
#define TAG_ICOUNT0	0x80u

enum size_code { SIZE_CODE_8 = 0, SIZE_CODE_4 = 1, SIZE_CODE_1 = 2, SIZE_CODE_VARINT = 3 };

/* What a bad varint was, kept in a flag word so the hot path tests once per record. */
#define VARINT_TOO_LONG	1u
#define VARINT_OVERFLOW	2u
#define SIZE_TOO_BIG	4u

#define STDIO_NAME_IN	"<stdin>"
#define STDIO_NAME_OUT	"<stdout>"

_Static_assert(BUF_PAD >= REC_MAX_BYTES, "the padding must hold a whole record");
_Static_assert(TRACE_BUF_SIZE >= HEADER_MAX_BYTES, "the header must fit in the buffer");
_Static_assert(TRACE_MAX_VCPUS <= UINT16_MAX + 1, "trace_record.vcpu is 16 bits");

/* The previous address of each stream of one vCPU, indexed by kind == REC_FETCH. */
enum { STREAM_DATA, STREAM_FETCH, NR_STREAMS };
struct vcpu_state {
	uint64_t prev[NR_STREAMS];
};

/* The input side of a reader: the file's gzip members inflated one after the other, like
 * gzread(), or its bytes as they are when it does not start with a gzip header (zlib's
 * transparent mode, as gzip -dc).  Unlike gzread(), bytes after the last member that do not
 * start another one are an error, not silently dropped (gz_look() in zlib's gzread.c drops
 * them): a trace with trailing garbage is a damaged trace. */
enum zin_mode { ZIN_LOOK, ZIN_GZIP, ZIN_COPY, ZIN_DONE };
struct zin {
	int fd;
	z_stream zs;			/* next_in / avail_in: the unread part of in[] */
	bool zs_ready;			/* inflateInit2() done */
	bool gzip_seen;			/* a member was read: what follows is a member or garbage */
	bool in_eof;			/* read() returned 0 */
	enum zin_mode mode;
	uint64_t in_pos;		/* file offset of in[0] */
	uint8_t in[TRACE_GZ_RBUFFER];
};

enum reader_state { RD_RECORDS, RD_DONE, RD_FAILED };

struct trace_reader {
	const uint8_t *p;		/* next byte to decode */
	const uint8_t *end;		/* end of the valid bytes (BUF_PAD zeros follow) */
	const uint8_t *fast_end;	/* trace_next's fast path runs while p < fast_end */
	struct vcpu_state *vs;		/* [h.nr_vcpus] */
	uint64_t count;			/* records returned */
	uint32_t prev_vcpu;
	enum reader_state state;
	bool eof;			/* zin_read reached the end of the stream cleanly */
	bool in_header;			/* errors say "header" instead of a record number */
	int fail_code;			/* RD_FAILED: what trace_next returns again */
	struct zin *z;			/* the file, inflated */
	char *name;			/* for messages */
	struct trace_header h;
	struct trace_error fail;	/* RD_FAILED: the message */
	uint8_t buf[TRACE_BUF_SIZE + BUF_PAD];
};

struct trace_writer {
	uint8_t *p;			/* next free byte of buf */
	struct vcpu_state *vs;		/* [nr_vcpus] */
	uint64_t count;
	uint32_t nr_vcpus;
	uint32_t prev_vcpu;
	int io_err;			/* sticky negative errno after a failed gzwrite */
	struct trace_error io_msg;	/* its message */
	gzFile gz;
	char *name;			/* the final path, or STDIO_NAME_OUT */
	char *tmp;			/* the temporary file; NULL for stdout */
	uint8_t buf[TRACE_BUF_SIZE + REC_MAX_BYTES];
};

/* ---- varints ---------------------------------------------------------------------- */

static inline uint64_t zigzag(uint64_t d) { return (d << 1) ^ (0 - (d >> 63)); }
static inline uint64_t unzigzag(uint64_t z) { return (z >> 1) ^ (0 - (z & 1)); }

static inline uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* Decode with no bounds check (the caller guarantees REC_MAX_BYTES readable bytes). */
static inline const uint8_t *get_varint(const uint8_t *p, uint64_t *out, unsigned *bad)
{
	uint64_t b = p[0], v;
	unsigned i;

	if (likely(b < 0x80)) {
		*out = b;
		return p + 1;
	}
	v = b & 0x7f;
	for (i = 1; i < VARINT_MAX; i++) {
		b = p[i];
		v |= (b & 0x7f) << (7 * i);
		if (b < 0x80) {
			/* the tenth byte holds only bit 63 */
			if (i == VARINT_MAX - 1 && b > 1)
				*bad |= VARINT_OVERFLOW;
			*out = v;
			return p + i + 1;
		}
	}
	*bad |= VARINT_TOO_LONG;
	*out = v;
	return p + VARINT_MAX;
}

/* 8 bytes at p as a little-endian number (byte 0 lowest). */
static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t x;

	memcpy(&x, p, sizeof(x));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	return x;
}

/* The value of the varint bytes in x (little-endian, at most 8 of them; bit 7 of each is
 * ignored): squeeze out the continuation bits, 7-bit groups -> 14 -> 28 -> 56. */
static inline uint64_t varint_squeeze(uint64_t x)
{
	x = ((x & 0x7f007f007f007f00ull) >> 1) | (x & 0x007f007f007f007full);
	x = ((x & 0x3fff00003fff0000ull) >> 2) | (x & 0x00003fff00003fffull);
	x = ((x & 0x0fffffff00000000ull) >> 4) | (x & 0x000000000fffffffull);
	return x;
}

/* A varint's last byte is the first with bit 7 clear: in 8 bytes x, the set bits of
 * ~x & VARINT_LAST_BITS mark the last bytes. */
#define VARINT_LAST_BITS 0x8080808080808080ull

/* get_varint() without a branch on the length, for varints of up to 8 bytes (56 bits),
 * which is nearly all of them; longer ones take the loop.  Loads 8 bytes: the padding
 * after the buffer makes that safe.  An address delta's length changes record to record,
 * so a byte-at-a-time loop would mispredict its exit about once a record. */
static inline const uint8_t *get_varint_fast(const uint8_t *p, uint64_t *out, unsigned *bad)
{
	uint64_t x = load_le64(p), stop = ~x & VARINT_LAST_BITS;
	unsigned bit;

	if (unlikely(!stop))
		return get_varint(p, out, bad);
	bit = (unsigned)__builtin_ctzll(stop);	/* 8 * (length - 1) + 7 */
	/* its bytes only (2 << 63 wraps to 0: all) */
	*out = varint_squeeze(x & ((2ull << bit) - 1));
	return p + (bit >> 3) + 1;
}

static uint8_t size_code(uint32_t size)
{
	switch (size) {
	case 8: return SIZE_CODE_8;
	case 4: return SIZE_CODE_4;
	case 1: return SIZE_CODE_1;
	default: return SIZE_CODE_VARINT;
	}
}

static const uint32_t code_size[SIZE_CODE_VARINT + 1] = { 8, 4, 1, 0 };

/* ---- names ------------------------------------------------------------------------ */

static const char *const kind_name[REC_NR_KINDS] = {
	[REC_READ] = "R", [REC_WRITE] = "W", [REC_FETCH] = "X",
	[REC_MMIO_READ] = "MR", [REC_MMIO_WRITE] = "MW", [REC_UNMAP] = "UNMAP",
	[REC_MEMSLOT] = "MEMSLOT", [REC_DIRTY_LOG] = "DIRTY", [REC_MARKER] = "MARK",
};
#define NR_MEMSLOT_OPS	4
#define NR_DIRTY_OPS	3
static const char *const memslot_op_name[NR_MEMSLOT_OPS] = {
	[MEMSLOT_CREATE] = "create", [MEMSLOT_DELETE] = "delete",
	[MEMSLOT_MOVE] = "move", [MEMSLOT_FLAGS] = "flags",
};
static const char *const dirty_op_name[NR_DIRTY_OPS] = {
	[DIRTY_LOG_ENABLE] = "enable", [DIRTY_LOG_GET] = "get", [DIRTY_LOG_DISABLE] = "disable",
};
static const char *const addr_kind_name[] = { [TRACE_ADDR_GVA] = "gva", [TRACE_ADDR_GPA] = "gpa" };
static const char *const paging_name[] = { [TRACE_PAGING_4LEVEL] = "4-level",
					   [TRACE_PAGING_NONE] = "none" };
#define NR_ADDR_KINDS	2
#define NR_PAGINGS	2

static bool kind_valid(unsigned kind) { return kind < REC_NR_KINDS && kind != REC_END; }

/* Why a control record's fields cannot be stored, or NULL.  The same rule for the writer
 * and the reader, so every readable trace can be printed and converted back. */
static const char *control_problem(unsigned kind, uint64_t arg, uint64_t addr, uint64_t len,
				   char *buf, size_t bufsz)
{
	switch (kind) {
	case REC_UNMAP:
		if (arg)
			snprintf(buf, bufsz, "UNMAP with arg %llu (must be 0)", (unsigned long long)arg);
		else
			return NULL;
		break;
	case REC_MEMSLOT:
		if (arg >= NR_MEMSLOT_OPS)
			snprintf(buf, bufsz, "memslot op %llu unknown", (unsigned long long)arg);
		else
			return NULL;
		break;
	case REC_DIRTY_LOG:
		if (arg >= NR_DIRTY_OPS)
			snprintf(buf, bufsz, "dirty-log op %llu unknown", (unsigned long long)arg);
		else if (len)
			snprintf(buf, bufsz, "DIRTY with len 0x%llx (must be 0)", (unsigned long long)len);
		else
			return NULL;
		break;
	case REC_MARKER:
		if (arg > UINT32_MAX)
			snprintf(buf, bufsz, "marker id %llu too large", (unsigned long long)arg);
		else if (addr || len)
			snprintf(buf, bufsz, "MARK with addr 0x%llx len 0x%llx (must be 0)",
				 (unsigned long long)addr, (unsigned long long)len);
		else
			return NULL;
		break;
	default:
		snprintf(buf, bufsz, "record kind %u unknown", kind);
		break;
	}
	return buf;
}

static const char *header_problem(const struct trace_header *h, char *buf, size_t bufsz)
{
	if (h->nr_vcpus < 1 || h->nr_vcpus > TRACE_MAX_VCPUS)
		snprintf(buf, bufsz, "vCPU count %u out of range (1..%u)", h->nr_vcpus,
			 TRACE_MAX_VCPUS);
	else if (h->addr_kind >= NR_ADDR_KINDS)
		snprintf(buf, bufsz, "address kind %u unknown", h->addr_kind);
	else if (h->paging >= NR_PAGINGS)
		snprintf(buf, bufsz, "paging %u unknown", h->paging);
	else if (memchr(h->source, 0, sizeof(h->source)) == NULL)
		snprintf(buf, bufsz, "source longer than %u bytes", TRACE_SOURCE_MAX);
	else
		return NULL;
	return buf;
}

/* ---- reader ----------------------------------------------------------------------- */

static int __attribute__((format(printf, 4, 5)))
reader_fail(struct trace_reader *r, struct trace_error *err, int code, const char *fmt, ...)
{
	struct trace_error *e = &r->fail;
	va_list ap;
	int n;

	if (r->in_header)
		n = snprintf(e->msg, sizeof(e->msg), "%s: header: ", r->name);
	else
		n = snprintf(e->msg, sizeof(e->msg), "%s: record %llu: ", r->name,
			     (unsigned long long)r->count + 1);
	if (n < 0 || (size_t)n >= sizeof(e->msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(e->msg + n, sizeof(e->msg) - n, fmt, ap);
	va_end(ap);
	r->state = RD_FAILED;
	r->fast_end = r->buf;
	r->fail_code = code;
	if (err)
		*err = *e;
	return code;
}

/* Keep the unread bytes of in[] at its start and append what read() gives.  0 or -errno. */
static int zin_refill(struct zin *z)
{
	size_t keep = z->zs.avail_in;

	if (keep && z->zs.next_in != z->in)
		memmove(z->in, z->zs.next_in, keep);
	z->in_pos += (uint64_t)(z->zs.next_in - z->in);
	z->zs.next_in = z->in;
	for (;;) {
		ssize_t n = read(z->fd, z->in + keep, sizeof(z->in) - keep);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		z->in_eof = n == 0;
		z->zs.avail_in = (uInt)(keep + (size_t)n);
		return 0;
	}
}

/* Up to want bytes of the stream into dst: fewer only at its end.  The count, or a negative
 * errno with why set. */
static ssize_t zin_read(struct zin *z, uint8_t *dst, size_t want, char *why, size_t whylen)
{
	size_t got = 0;
	int ret;

	while (got < want) {
		if (z->mode == ZIN_DONE)
			break;
		/* LOOK needs the two magic bytes, the others any byte */
		if (z->zs.avail_in < (z->mode == ZIN_LOOK ? 2u : 1u) && !z->in_eof) {
			if ((ret = zin_refill(z))) {
				snprintf(why, whylen, "read error: %s", strerror(-ret));
				return ret;
			}
			continue;
		}
		switch (z->mode) {
		case ZIN_LOOK:
			if (!z->zs.avail_in) {
				z->mode = ZIN_DONE;
			} else if (z->zs.avail_in >= 2 && z->zs.next_in[0] == 0x1f && z->zs.next_in[1] == 0x8b) {
				ret = z->zs_ready ? inflateReset(&z->zs) : inflateInit2(&z->zs, 16 + MAX_WBITS);
				if (ret != Z_OK) {
					snprintf(why, whylen, "out of memory");
					return -ENOMEM;
				}
				z->zs_ready = true;
				z->gzip_seen = true;
				z->mode = ZIN_GZIP;
			} else if (z->gzip_seen) {
				snprintf(why, whylen, "trailing garbage after the gzip data (at byte %llu of the file)",
					 (unsigned long long)(z->in_pos + (uint64_t)(z->zs.next_in - z->in)));
				return -EINVAL;
			} else {
				z->mode = ZIN_COPY;
			}
			break;
		case ZIN_COPY: {
			size_t n = z->zs.avail_in < want - got ? z->zs.avail_in : want - got;

			if (!n) {
				z->mode = ZIN_DONE;
				break;
			}
			memcpy(dst + got, z->zs.next_in, n);
			z->zs.next_in += n;
			z->zs.avail_in -= (uInt)n;
			got += n;
			break;
		}
		case ZIN_GZIP: {
			size_t room = want - got < UINT_MAX ? want - got : UINT_MAX;

			z->zs.next_out = dst + got;
			z->zs.avail_out = (uInt)room;
			ret = inflate(&z->zs, Z_NO_FLUSH);
			got += room - z->zs.avail_out;
			if (ret == Z_STREAM_END) {
				z->mode = ZIN_LOOK;
			} else if (ret == Z_BUF_ERROR) {
				if (z->zs.avail_in || !z->in_eof)
					break;   /* no progress for now: more input comes */
				/* the input ended inside the member */
				snprintf(why, whylen, "truncated gzip data (zlib: unexpected end of file)");
				return -EINVAL;
			} else if (ret != Z_OK) {
				snprintf(why, whylen, "corrupt gzip data (zlib: %s)",
					 ret == Z_MEM_ERROR ? "out of memory" : z->zs.msg ? z->zs.msg : zError(ret));
				return ret == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
			}
			break;
		}
		case ZIN_DONE:
			break;
		}
	}
	return (ssize_t)got;
}

/* Back to the file's first byte (a seekable file only).  0 or -errno. */
static int zin_rewind(struct zin *z)
{
	if (lseek(z->fd, 0, SEEK_SET) < 0)
		return -errno;
	z->zs.next_in = z->in;
	z->zs.avail_in = 0;
	z->in_pos = 0;
	z->in_eof = false;
	z->gzip_seen = false;
	z->mode = ZIN_LOOK;
	return 0;
}

static void zin_close(struct zin *z)
{
	if (!z)
		return;
	if (z->zs_ready)
		inflateEnd(&z->zs);
	close(z->fd);
	free(z);
}

/* Keep the unread bytes, then read until at least `need` are buffered or the stream ends. */
static int reader_fill(struct trace_reader *r, size_t need, struct trace_error *err)
{
	size_t avail = (size_t)(r->end - r->p);

	memmove(r->buf, r->p, avail);
	while (avail < need && !r->eof) {
		char why[160];
		ssize_t n = zin_read(r->z, r->buf + avail, TRACE_BUF_SIZE - avail, why, sizeof(why));

		if (n < 0) {
			r->p = r->end = r->buf;
			return reader_fail(r, err, (int)n, "%s", why);
		}
		avail += (size_t)n;
		if (avail < TRACE_BUF_SIZE)
			r->eof = true;   /* zin_read fills all it is asked for until the end */
	}
	r->p = r->buf;
	r->end = r->buf + avail;
	r->fast_end = avail > REC_MAX_BYTES ? r->end - REC_MAX_BYTES : r->buf;
	memset(r->buf + avail, 0, BUF_PAD);
	return 0;
}

static const char *varint_problem(unsigned bad)
{
	return bad & VARINT_TOO_LONG ? "varint longer than 10 bytes" : "varint overflows 64 bits";
}

static int read_header(struct trace_reader *r, struct trace_error *err)
{
	struct trace_header *h = &r->h;
	uint64_t version, nr_vcpus, srclen;
	const uint8_t *p;
	unsigned bad = 0;
	char why[160];
	int ret;

	r->in_header = true;
	r->state = RD_RECORDS;
	r->eof = false;
	r->p = r->end = r->fast_end = r->buf;
	r->count = 0;
	r->prev_vcpu = 0;
	ret = reader_fill(r, HEADER_MAX_BYTES, err);
	if (ret)
		return ret;
	p = r->p;
	if (r->end == p)
		return reader_fail(r, err, -EINVAL, "empty file (not an eptsim trace)");
	if (r->end - p < MAGIC_LEN || memcmp(p, TRACE_MAGIC, MAGIC_LEN))
		return reader_fail(r, err, -EINVAL, "not an eptsim trace (bad magic)");
	p += MAGIC_LEN;
	p = get_varint(p, &version, &bad);
	if (p <= r->end && !bad && (version == 0 || version > TRACE_VERSION)) {
		if (version > TRACE_VERSION)
			return reader_fail(r, err, -EINVAL, "version %llu is newer than this eptsim (%u)",
					   (unsigned long long)version, TRACE_VERSION);
		return reader_fail(r, err, -EINVAL, "version 0 unknown");
	}
	p = get_varint(p, &nr_vcpus, &bad);
	h->addr_kind = p[0];
	h->paging = p[1];
	p += 2;
	p = get_varint(p, &srclen, &bad);
	if (p > r->end)
		return reader_fail(r, err, -EINVAL, "truncated");
	if (bad)
		return reader_fail(r, err, -EINVAL, "%s", varint_problem(bad));
	if (nr_vcpus < 1 || nr_vcpus > TRACE_MAX_VCPUS)
		return reader_fail(r, err, -EINVAL, "vCPU count %llu out of range (1..%u)",
				   (unsigned long long)nr_vcpus, TRACE_MAX_VCPUS);
	if (srclen > TRACE_SOURCE_MAX)
		return reader_fail(r, err, -EINVAL, "source length %llu over %u",
				   (unsigned long long)srclen, TRACE_SOURCE_MAX);
	if ((size_t)(r->end - p) < srclen)
		return reader_fail(r, err, -EINVAL, "truncated");
	if (memchr(p, 0, srclen))
		return reader_fail(r, err, -EINVAL, "source contains a NUL byte");
	h->version = (uint32_t)version;
	h->nr_vcpus = (uint32_t)nr_vcpus;
	memcpy(h->source, p, srclen);
	h->source[srclen] = 0;
	p += srclen;
	if (header_problem(h, why, sizeof(why)))
		return reader_fail(r, err, -EINVAL, "%s", why);

	free(r->vs);
	r->vs = calloc(h->nr_vcpus, sizeof(*r->vs));
	if (!r->vs)
		return reader_fail(r, err, -ENOMEM, "out of memory");
	r->p = p;
	r->in_header = false;
	return 0;
}

int trace_open(const char *path, struct trace_reader **out, struct trace_error *err)
{
	bool std = strcmp(path, "-") == 0;
	struct trace_reader *r;
	int fd, ret;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (r)
		r->name = strdup(std ? STDIO_NAME_IN : path);
	if (!r || !r->name) {
		free(r);
		snprintf(err->msg, sizeof(err->msg), "%s: out of memory", path);
		return -ENOMEM;
	}
	fd = std ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err->msg, sizeof(err->msg), "%s: cannot open: %s", r->name, strerror(errno));
		goto fail;
	}
	r->z = calloc(1, sizeof(*r->z));
	if (!r->z) {
		close(fd);
		ret = -ENOMEM;
		snprintf(err->msg, sizeof(err->msg), "%s: out of memory", r->name);
		goto fail;
	}
	r->z->fd = fd;
	r->z->zs.next_in = r->z->in;
	ret = read_header(r, err);
	if (ret)
		goto fail;
	*out = r;
	return 0;
fail:
	trace_close(r);
	return ret;
}

const struct trace_header *trace_reader_header(const struct trace_reader *r) { return &r->h; }
uint64_t trace_reader_count(const struct trace_reader *r) { return r->count; }

/* The end marker: the count, then nothing. */
static int read_end(struct trace_reader *r, const uint8_t *p, unsigned tag,
		    struct trace_error *err)
{
	uint64_t count;
	unsigned bad = 0;

	if (tag != REC_END)
		return reader_fail(r, err, -EINVAL, "end marker with tag 0x%02x (flags set)", tag);
	p = get_varint(p, &count, &bad);
	if (p > r->end)
		return reader_fail(r, err, -EINVAL, "end of stream inside the end marker");
	if (bad)
		return reader_fail(r, err, -EINVAL, "end marker: %s", varint_problem(bad));
	if (count != r->count)
		return reader_fail(r, err, -EINVAL, "end marker counts %llu records, the trace has %llu",
				   (unsigned long long)count, (unsigned long long)r->count);
	r->p = p;
	/* r->eof is false only when REC_MAX_BYTES (more than the marker) were buffered, so
	 * bytes after the marker are here; reaching the end checks the gzip trailer too. */
	if (r->p == r->end && !r->eof) {
		int ret = reader_fill(r, 1, err);

		if (ret)
			return ret;
	}
	if (r->p != r->end)
		return reader_fail(r, err, -EINVAL, "trailing bytes after the end marker");
	r->state = RD_DONE;
	r->fast_end = r->buf;
	return 0;
}

/* A memory record that cannot be: it ran into the end of the stream, or a field is bad.
 * The end of the stream is checked first: the zero padding makes any cut-off record decode
 * as something. */
static int __attribute__((noinline, cold))
memory_error(struct trace_reader *r, const uint8_t *p, unsigned bad, uint64_t vcpu,
	     struct trace_error *err)
{
	if (p > r->end)
		return reader_fail(r, err, -EINVAL, "end of stream inside a record (truncated trace)");
	if (bad & (VARINT_TOO_LONG | VARINT_OVERFLOW))
		return reader_fail(r, err, -EINVAL, "%s", varint_problem(bad));
	if (bad & SIZE_TOO_BIG)
		return reader_fail(r, err, -EINVAL, "size over 2^32 - 1");
	return reader_fail(r, err, -EINVAL, "vCPU %llu out of range (vcpus=%u)",
			   (unsigned long long)vcpu, r->h.nr_vcpus);
}

/* Control records and the end marker: rare, so plain code out of the hot path. */
static int __attribute__((noinline))
read_control(struct trace_reader *r, const uint8_t *p, unsigned tag, struct trace_record *rec,
	     struct trace_error *err)
{
	unsigned kind = tag & TAG_KIND_MASK, bad = 0;
	uint64_t vcpu = r->prev_vcpu, icount = 0, arg, addr, len;
	char why[160];

	if (!kind_valid(kind)) {
		if (kind == REC_END)
			return read_end(r, p, tag, err);
		return reader_fail(r, err, -EINVAL, "record kind %u unknown (tag 0x%02x)", kind, tag);
	}
	if (tag & TAG_VCPU)
		p = get_varint(p, &vcpu, &bad);
	if (!(tag & TAG_ICOUNT0))
		p = get_varint(p, &icount, &bad);
	p = get_varint(p, &arg, &bad);
	p = get_varint(p, &addr, &bad);
	p = get_varint(p, &len, &bad);
	if (p > r->end)
		return reader_fail(r, err, -EINVAL, "end of stream inside a record (truncated trace)");
	if (bad)
		return reader_fail(r, err, -EINVAL, "%s", varint_problem(bad));
	if (vcpu >= r->h.nr_vcpus)
		return reader_fail(r, err, -EINVAL, "vCPU %llu out of range (vcpus=%u)",
				   (unsigned long long)vcpu, r->h.nr_vcpus);
	if (tag & TAG_SIZE_MASK)
		return reader_fail(r, err, -EINVAL, "size bits set on a control record (tag 0x%02x)",
				   tag);
	if (arg > UINT32_MAX)
		return reader_fail(r, err, -EINVAL, "arg %llu over 2^32 - 1", (unsigned long long)arg);
	if (control_problem(kind, arg, addr, len, why, sizeof(why)))
		return reader_fail(r, err, -EINVAL, "%s", why);
	r->prev_vcpu = (uint32_t)vcpu;
	r->p = p;
	r->count++;
	rec->kind = (uint8_t)kind;
	rec->vcpu = (uint16_t)vcpu;
	rec->size = 0;
	rec->arg = (uint32_t)arg;
	rec->icount = icount;
	rec->addr = addr;
	rec->len = len;
	return 1;
}

/* The fields after the tag and the vCPU of a memory record at p (REC_MAX_BYTES readable):
 * icount, size and the address delta (zigzag).  Problems go into *bad.
 *
 * No branch here that real traces make unpredictable: whether an icount is there (a coin
 * toss record to record), how long an address delta is.  What stays are branches that are
 * nearly always one way: an icount or an explicit size over 127. */
static inline __attribute__((always_inline)) const uint8_t *
read_memory_fields(const uint8_t *p, unsigned tag, uint64_t *icount, uint64_t *size,
		   uint64_t *z, unsigned *bad)
{
	uint64_t has, is_varint, b;
	unsigned code;

	/* icount: when absent, *p is the next field, so test its high bit only if present */
	has = !(tag & TAG_ICOUNT0);
	b = *p;
	if (likely(!(b & (has << 7)))) {
		*icount = b & (0 - has);
		p += has;
	} else {
		p = get_varint(p, icount, bad);
	}
	/* size: from the code, or a varint (usually one byte) for code 3 */
	code = (tag & TAG_SIZE_MASK) >> TAG_SIZE_SHIFT;
	is_varint = code == SIZE_CODE_VARINT;
	b = *p;
	if (likely(!(b & (is_varint << 7)))) {
		*size = code_size[code] | (b & (0 - is_varint));
		p += is_varint;
	} else {
		p = get_varint(p, size, bad);
		if (*size > UINT32_MAX)
			*bad |= SIZE_TOO_BIG;
	}
	return get_varint_fast(p, z, bad);
}

/* A decoded memory record: the address is the stream's previous one plus the delta. */
static inline __attribute__((always_inline)) void
store_memory_record(struct trace_record *rec, struct vcpu_state *vs, unsigned kind,
		    uint64_t vcpu, uint64_t icount, uint64_t size, uint64_t z)
{
	uint64_t *prev = &vs[vcpu].prev[kind == REC_FETCH];
	uint64_t addr = *prev + unzigzag(z);

	*prev = addr;
	rec->kind = (uint8_t)kind;
	rec->vcpu = (uint16_t)vcpu;
	rec->size = (uint32_t)size;
	rec->arg = 0;
	rec->icount = icount;
	rec->addr = addr;
	rec->len = 0;
}

/* One record at r->p, which has REC_MAX_BYTES readable bytes (data or padding) after it:
 * any kind, every check, the error messages. */
static inline __attribute__((always_inline)) int
read_record(struct trace_reader *r, struct trace_record *rec, struct trace_error *err)
{
	const uint8_t *p = r->p;
	unsigned tag = *p++, kind = tag & TAG_KIND_MASK, bad = 0;
	uint64_t vcpu = r->prev_vcpu, icount, size, z;

	if (unlikely(!rec_is_memory(kind)))
		return read_control(r, p, tag, rec, err);
	if (unlikely(tag & TAG_VCPU)) {
		p = get_varint(p, &vcpu, &bad);
		if (unlikely(vcpu >= r->h.nr_vcpus))
			return memory_error(r, p, bad, vcpu, err);
	}
	p = read_memory_fields(p, tag, &icount, &size, &z, &bad);
	if (unlikely(p > r->end || bad))
		return memory_error(r, p, bad, vcpu, err);
	store_memory_record(rec, r->vs, kind, vcpu, icount, size, z);
	r->prev_vcpu = (uint32_t)vcpu;
	r->p = p;
	r->count++;
	return 1;
}

/* The short form of a memory record: no vCPU switch, an icount and a size of one byte if
 * any, the whole record within 8 bytes.  Nearly every record has it; read_memory_run()
 * decodes it from one 8-byte load and what this table says of its tag. */
struct short_form {
	uint64_t one_byte;	/* the stop bits the icount and size bytes have if one byte each */
	uint64_t addr_stops;	/* where the address's last byte may be (its stop bit); 0: the
				 * tag is not of a short form (control, vCPU switch) */
	uint8_t kind;
	uint8_t addr_at;	/* bit offsets of the address, the size byte */
	uint8_t size_at;
	uint8_t icount_mask;	/* 0xff with an icount byte, else 0 */
	uint8_t size_mask;	/* 0xff with a size byte, else 0 */
	uint8_t size;		/* the size its code gives (0 for a size byte) */
};

#define SF_HAS_ICOUNT(t)	(!((t) & TAG_ICOUNT0))
#define SF_CODE(t)		(((t) & TAG_SIZE_MASK) >> TAG_SIZE_SHIFT)
#define SF_ADDR_AT(t)		(8 * (1 + SF_HAS_ICOUNT(t) + (SF_CODE(t) == SIZE_CODE_VARINT)))
#define SF_BEFORE(t)		((1ull << SF_ADDR_AT(t)) - 1)	/* the bytes before the address */
#define SF_SHORT(t)		(((t) & TAG_KIND_MASK) <= REC_MMIO_WRITE && !((t) & TAG_VCPU))
#define SF(t) {										\
	.one_byte = VARINT_LAST_BITS & SF_BEFORE(t) & ~0xffull,					\
	.addr_stops = SF_SHORT(t) ? VARINT_LAST_BITS & ~SF_BEFORE(t) : 0,			\
	.kind = (t) & TAG_KIND_MASK,								\
	.addr_at = SF_ADDR_AT(t),								\
	.size_at = 8 * (1 + SF_HAS_ICOUNT(t)),							\
	.icount_mask = SF_HAS_ICOUNT(t) ? 0xff : 0,						\
	.size_mask = SF_CODE(t) == SIZE_CODE_VARINT ? 0xff : 0,					\
	.size = SF_CODE(t) == SIZE_CODE_8 ? 8 : SF_CODE(t) == SIZE_CODE_4 ? 4 :		\
		SF_CODE(t) == SIZE_CODE_1 ? 1 : 0,						\
}
#define SF4(t)	SF(t), SF((t) + 1), SF((t) + 2), SF((t) + 3)
#define SF16(t)	SF4(t), SF4((t) + 4), SF4((t) + 8), SF4((t) + 12)
#define SF64(t)	SF16(t), SF16((t) + 16), SF16((t) + 32), SF16((t) + 48)

static const struct short_form short_forms[256] = { SF64(0), SF64(64), SF64(128), SF64(192) };

/* The common case of trace_read(): memory records that lie wholly below r->fast_end, into
 * recs[0..max), with the reader's state in registers.  Stops before anything else (a
 * control record, the end marker, a bad record, the end of the buffered data) and leaves
 * it to read_record() or next_slow(), which decode it from scratch: so this loop needs no
 * error reporting, and no check of the end of the data (a memory record is at most
 * REC_MAX_BYTES long).  Returns how many it decoded.  The time per record here is mostly
 * the number of instructions: short forms take few, others read_memory_fields(). */
static unsigned read_memory_run(struct trace_reader *r, struct trace_record *recs,
				unsigned max)
{
	const uint8_t *p = r->p;
	const uint8_t *const fast_end = r->fast_end;
	struct vcpu_state *const vs = r->vs;
	const uint64_t nr_vcpus = r->h.nr_vcpus;
	uint64_t vcpu = r->prev_vcpu;
	struct trace_record *rec = recs, *const rec_end = recs + max;

	for (; rec < rec_end && p < fast_end; rec++) {
		uint64_t w = load_le64(p), stop = ~w & VARINT_LAST_BITS, v = vcpu;
		const struct short_form *f = &short_forms[w & 0xff];
		uint64_t addr_stop = stop & f->addr_stops, icount, size, z;
		unsigned tag = (uint8_t)w, bad = 0;
		const uint8_t *q;

		if (likely((stop & f->one_byte) == f->one_byte && addr_stop)) {
			unsigned bit = (unsigned)__builtin_ctzll(addr_stop);

			icount = (w >> 8) & f->icount_mask;
			size = f->size | ((w >> f->size_at) & f->size_mask);
			/* the address's bytes (2 << 63 wraps to 0: all) */
			z = varint_squeeze((w & ((2ull << bit) - 1)) >> f->addr_at);
			q = p + (bit >> 3) + 1;
		} else {
			if (!rec_is_memory(f->kind))
				break;
			q = p + 1;
			if (tag & TAG_VCPU) {
				q = get_varint(q, &v, &bad);
				if (unlikely(v >= nr_vcpus))
					break;
			}
			q = read_memory_fields(q, tag, &icount, &size, &z, &bad);
			if (unlikely(bad))
				break;
		}
		store_memory_record(rec, vs, f->kind, v, icount, size, z);
		vcpu = v;
		p = q;
	}
	r->p = p;
	r->prev_vcpu = (uint32_t)vcpu;
	r->count += (uint64_t)(rec - recs);
	return (unsigned)(rec - recs);
}

/* Near the end of the buffer, at the end of the stream, after the end or an error. */
static int __attribute__((noinline))
next_slow(struct trace_reader *r, struct trace_record *rec, struct trace_error *err)
{
	if (r->state == RD_RECORDS && r->end - r->p < REC_MAX_BYTES && !r->eof) {
		int ret = reader_fill(r, REC_MAX_BYTES, err);

		if (ret)
			return ret;
	}
	if (r->state != RD_RECORDS) {
		if (r->state == RD_DONE)
			return 0;
		if (err)
			*err = r->fail;
		return r->fail_code;
	}
	if (r->p == r->end)
		return reader_fail(r, err, -EINVAL, "end of stream without the end marker "
				   "(truncated trace)");
	return read_record(r, rec, err);
}

int trace_next(struct trace_reader *r, struct trace_record *rec, struct trace_error *err)
{
	/* fast_end: a whole record is buffered below it (r->buf when not reading records) */
	if (unlikely(r->p >= r->fast_end))
		return next_slow(r, rec, err);
	return read_record(r, rec, err);
}

int trace_read(struct trace_reader *r, struct trace_record *recs, unsigned max,
	       struct trace_error *err)
{
	unsigned n = 0;

	if (max > INT_MAX)
		max = INT_MAX;
	while (n < max) {
		int ret;

		n += read_memory_run(r, recs + n, max - n);
		if (n == max)
			break;
		ret = trace_next(r, &recs[n], err);
		if (ret <= 0)
			return n ? (int)n : ret;	/* the end or the error stays for the next call */
		n++;
	}
	return (int)n;
}

int trace_rewind(struct trace_reader *r, struct trace_error *err)
{
	int e = zin_rewind(r->z);

	if (e) {
		r->in_header = false;
		return reader_fail(r, err, e, "cannot rewind: %s", strerror(-e));
	}
	return read_header(r, err);
}

void trace_close(struct trace_reader *r)
{
	if (!r)
		return;
	zin_close(r->z);
	free(r->vs);
	free(r->name);
	free(r);
}

/* ---- writer ----------------------------------------------------------------------- */

static int __attribute__((format(printf, 4, 5)))
writer_fail(const struct trace_writer *w, struct trace_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err)
		return code;
	n = snprintf(err->msg, sizeof(err->msg), "%s: record %llu: ", w->name,
		     (unsigned long long)w->count + 1);
	if (n < 0 || (size_t)n >= sizeof(err->msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof(err->msg) - n, fmt, ap);
	va_end(ap);
	return code;
}

static int writer_flush(struct trace_writer *w, struct trace_error *err)
{
	unsigned n = (unsigned)(w->p - w->buf);

	if (!w->io_err && n && gzwrite(w->gz, w->buf, n) != (int)n) {
		int errnum;
		const char *zmsg = gzerror(w->gz, &errnum);
		int e = errnum == Z_ERRNO && errno ? errno : EIO;

		w->io_err = -e;
		snprintf(w->io_msg.msg, sizeof(w->io_msg.msg), "%s: write error: %s", w->name,
			 errnum == Z_ERRNO ? strerror(e) : zmsg);
	}
	if (w->io_err) {
		if (err)
			*err = w->io_msg;
		return w->io_err;
	}
	w->p = w->buf;
	return 0;
}

/* After the temporary was renamed or removed (or never made). */
static void writer_free(struct trace_writer *w)
{
	if (w->tmp)
		tmpfiles_forget(w->tmp);
	free(w->vs);
	free(w->name);
	free(w->tmp);
	free(w);
}

int trace_create(const char *path, const struct trace_header *h, struct trace_writer **out,
		 struct trace_error *err)
{
	bool std = strcmp(path, "-") == 0;
	struct trace_writer *w;
	size_t srclen;
	char why[160];
	uint8_t *p;
	int fd;

	*out = NULL;
	if (header_problem(h, why, sizeof(why))) {
		snprintf(err->msg, sizeof(err->msg), "%s: header: %s", path, why);
		return -EINVAL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		goto nomem;
	w->name = strdup(std ? STDIO_NAME_OUT : path);
	w->vs = calloc(h->nr_vcpus, sizeof(*w->vs));
	if (!w->name || !w->vs)
		goto nomem;
	if (!std && asprintf(&w->tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
		w->tmp = NULL;
		goto nomem;
	}
	w->nr_vcpus = h->nr_vcpus;

	/* registered before it exists: a signal from here on removes it (sim/tmpfiles.h) */
	fd = w->tmp ? tmpfiles_add(w->tmp) : 0;
	if (!fd)
		fd = std ? dup(STDOUT_FILENO)
			 : open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	else
		errno = -fd, fd = -1;
	if (fd < 0) {
		int e = errno;

		snprintf(err->msg, sizeof(err->msg), "%s: cannot create: %s",
			 std ? w->name : w->tmp, strerror(e));
		writer_free(w);
		return -e;
	}
	w->gz = gzdopen(fd, TRACE_GZ_WMODE);
	if (!w->gz) {
		close(fd);
		if (w->tmp)
			unlink(w->tmp);
		goto nomem;
	}
	gzbuffer(w->gz, TRACE_GZ_WBUFFER);

	p = w->buf;
	memcpy(p, TRACE_MAGIC, MAGIC_LEN);
	p += MAGIC_LEN;
	p = put_varint(p, TRACE_VERSION);
	p = put_varint(p, h->nr_vcpus);
	*p++ = h->addr_kind;
	*p++ = h->paging;
	srclen = strlen(h->source);
	p = put_varint(p, srclen);
	memcpy(p, h->source, srclen);
	w->p = p + srclen;
	*out = w;
	return 0;
nomem:
	snprintf(err->msg, sizeof(err->msg), "%s: out of memory", path);
	if (w)
		writer_free(w);
	return -ENOMEM;
}

int trace_write(struct trace_writer *w, const struct trace_record *rec, struct trace_error *err)
{
	unsigned kind = rec->kind;
	unsigned tag = kind;
	uint8_t *p, *tagp;
	char why[160];

	if (unlikely(w->p - w->buf > (ptrdiff_t)TRACE_BUF_SIZE - REC_MAX_BYTES)) {
		int ret = writer_flush(w, err);

		if (ret)
			return ret;
	}
	if (unlikely(rec->vcpu >= w->nr_vcpus))
		return writer_fail(w, err, -EINVAL, "vCPU %u out of range (vcpus=%u)", rec->vcpu,
				   w->nr_vcpus);
	p = w->p;
	tagp = p++;
	if (rec->vcpu != w->prev_vcpu) {
		tag |= TAG_VCPU;
		p = put_varint(p, rec->vcpu);
	}
	if (rec->icount)
		p = put_varint(p, rec->icount);
	else
		tag |= TAG_ICOUNT0;
	if (likely(rec_is_memory(kind))) {
		unsigned code = size_code(rec->size);
		uint64_t *prev = &w->vs[rec->vcpu].prev[kind == REC_FETCH];

		tag |= code << TAG_SIZE_SHIFT;
		if (code == SIZE_CODE_VARINT)
			p = put_varint(p, rec->size);
		p = put_varint(p, zigzag(rec->addr - *prev));
		*prev = rec->addr;
	} else {
		/* drop what the kind does not use (see the top of this file) */
		uint64_t arg = kind == REC_UNMAP ? 0 : rec->arg;
		uint64_t addr = kind == REC_MARKER ? 0 : rec->addr;
		uint64_t len = kind == REC_UNMAP || kind == REC_MEMSLOT ? rec->len : 0;

		if (!kind_valid(kind))
			return writer_fail(w, err, -EINVAL, "record kind %u cannot be written", kind);
		if (control_problem(kind, arg, addr, len, why, sizeof(why)))
			return writer_fail(w, err, -EINVAL, "%s", why);
		p = put_varint(p, arg);
		p = put_varint(p, addr);
		p = put_varint(p, len);
	}
	*tagp = (uint8_t)tag;
	w->p = p;
	w->prev_vcpu = rec->vcpu;
	w->count++;
	return 0;
}

uint64_t trace_writer_count(const struct trace_writer *w) { return w->count; }

int trace_finish(struct trace_writer *w, struct trace_error *err)
{
	int ret = writer_flush(w, err), zret;

	if (!ret) {
		uint8_t *p = w->p;

		*p++ = REC_END;
		w->p = put_varint(p, w->count);
		ret = writer_flush(w, err);
	}
	zret = gzclose_w(w->gz);
	w->gz = NULL;
	if (!ret && zret != Z_OK) {
		int e = zret == Z_ERRNO && errno ? errno : EIO;

		ret = -e;
		snprintf(err->msg, sizeof(err->msg), "%s: write error: %s", w->name, strerror(e));
	}
	if (!ret && w->tmp && rename(w->tmp, w->name)) {
		ret = -errno;
		snprintf(err->msg, sizeof(err->msg), "%s: cannot rename %s: %s", w->name, w->tmp,
			 strerror(errno));
	}
	if (ret && w->tmp)
		unlink(w->tmp);
	writer_free(w);
	return ret;
}

void trace_abort(struct trace_writer *w)
{
	if (!w)
		return;
	if (w->gz)
		gzclose_w(w->gz);
	if (w->tmp)
		unlink(w->tmp);
	writer_free(w);
}

/* ---- text form -------------------------------------------------------------------- */

#define TEXT_TAG	"eptsim-trace"

void trace_format_header(const struct trace_header *h, FILE *out)
{
	const unsigned char *s;

	fprintf(out, "# " TEXT_TAG " %u vcpus=%u addr=%s paging=%s source=\"", TRACE_VERSION,
		h->nr_vcpus, h->addr_kind < NR_ADDR_KINDS ? addr_kind_name[h->addr_kind] : "?",
		h->paging < NR_PAGINGS ? paging_name[h->paging] : "?");
	/* '"' and '\' get a backslash; control bytes become \xHH so the line stays one line */
	for (s = (const unsigned char *)h->source; *s && s < (const unsigned char *)h->source +
	     TRACE_SOURCE_MAX; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if (*s < 0x20 || *s == 0x7f)
			fprintf(out, "\\x%02x", *s);
		else
			putc(*s, out);
	}
	fputs("\"\n", out);
}

void trace_format_record(const struct trace_record *rec, FILE *out)
{
	unsigned long long icount = rec->icount, addr = rec->addr, len = rec->len;

	switch (rec->kind) {
	case REC_READ: case REC_WRITE: case REC_FETCH: case REC_MMIO_READ: case REC_MMIO_WRITE:
		fprintf(out, "%u %s 0x%llx %u %llu\n", rec->vcpu, kind_name[rec->kind], addr,
			rec->size, icount);
		break;
	case REC_UNMAP:
		fprintf(out, "%u UNMAP 0x%llx 0x%llx %llu\n", rec->vcpu, addr, len, icount);
		break;
	case REC_MEMSLOT:
		if (rec->arg < NR_MEMSLOT_OPS) {
			fprintf(out, "%u MEMSLOT %s 0x%llx 0x%llx %llu\n", rec->vcpu,
				memslot_op_name[rec->arg], addr, len, icount);
			break;
		}
		goto bad;
	case REC_DIRTY_LOG:
		if (rec->arg < NR_DIRTY_OPS) {
			fprintf(out, "%u DIRTY %s 0x%llx %llu\n", rec->vcpu, dirty_op_name[rec->arg],
				addr, icount);
			break;
		}
		goto bad;
	case REC_MARKER:
		fprintf(out, "%u MARK %u %llu\n", rec->vcpu, rec->arg, icount);
		break;
	default:
	bad:
		fprintf(out, "# invalid record: kind %u arg %u\n", rec->kind, rec->arg);
		break;
	}
}

static int __attribute__((format(printf, 5, 6)))
parse_fail(struct trace_error *err, const char *path, uint64_t lineno, int code,
	   const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err)
		return code;
	n = snprintf(err->msg, sizeof(err->msg), "%s:%llu: ", path ? path : "-",
		     (unsigned long long)lineno);
	if (n < 0 || (size_t)n >= sizeof(err->msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof(err->msg) - n, fmt, ap);
	va_end(ap);
	return code;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static const char *skip_space(const char *s) { while (is_space(*s)) s++; return s; }

/* A token: s up to the next space or the end.  Returns its length (0 at the end). */
static size_t token(const char *s)
{
	size_t n = 0;

	while (s[n] && !is_space(s[n]))
		n++;
	return n;
}

static bool token_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A number: 0x... hex, else decimal; the whole token, no sign, no overflow. */
static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;
	size_t i = 0;

	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i == n)
		return false;
	for (; i < n; i++) {
		int d = hex_digit(s[i]);

		if (d < 0 || (unsigned)d >= base)
			return false;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	*out = v;
	return true;
}

static int name_index(const char *s, size_t n, const char *const *names, unsigned nr)
{
	unsigned i;

	for (i = 0; i < nr; i++)
		if (names[i] && token_is(s, n, names[i]))
			return (int)i;
	return -1;
}

/* The line's fields, in order: each call takes the next token as a number. */
struct fields {
	const char *s;
	const char *path;
	uint64_t lineno;
	struct trace_error *err;
};

static int next_token(struct fields *f, const char **tok, size_t *n, const char *what)
{
	f->s = skip_space(f->s);
	*tok = f->s;
	*n = token(f->s);
	f->s += *n;
	if (!*n)
		return parse_fail(f->err, f->path, f->lineno, -EINVAL, "missing %s", what);
	return 0;
}

static int next_number(struct fields *f, uint64_t *v, uint64_t max, const char *what)
{
	const char *tok;
	size_t n;
	int ret = next_token(f, &tok, &n, what);

	if (ret)
		return ret;
	if (!parse_u64(tok, n, v))
		return parse_fail(f->err, f->path, f->lineno, -EINVAL, "bad %s '%.*s'", what,
				  (int)(n > 64 ? 64 : n), tok);
	if (*v > max)
		return parse_fail(f->err, f->path, f->lineno, -EINVAL, "%s %.*s out of range (max %llu)",
				  what, (int)(n > 64 ? 64 : n), tok, (unsigned long long)max);
	return 0;
}

static int next_name(struct fields *f, const char *const *names, unsigned nr, const char *what)
{
	const char *tok;
	size_t n;
	int ret = next_token(f, &tok, &n, what), i;

	if (ret)
		return ret;
	i = name_index(tok, n, names, nr);
	if (i < 0)
		return parse_fail(f->err, f->path, f->lineno, -EINVAL, "unknown %s '%.*s'", what,
				  (int)(n > 64 ? 64 : n), tok);
	return i;
}

static int parse_header_line(struct fields *f, struct trace_header *h)
{
	bool have_vcpus = false, have_addr = false, have_paging = false;
	uint64_t v;
	int ret;

	memset(h, 0, sizeof(*h));
	ret = next_number(f, &v, UINT32_MAX, "header version");
	if (ret)
		return ret;
	if (v == 0 || v > TRACE_VERSION)
		return parse_fail(f->err, f->path, f->lineno, -EINVAL,
				  v ? "header: version %llu is newer than this eptsim (%u)"
				    : "header: version %llu unknown", (unsigned long long)v,
				  TRACE_VERSION);
	h->version = (uint32_t)v;
	for (;;) {
		const char *key, *eq;
		size_t keylen;

		f->s = skip_space(f->s);
		if (!*f->s)
			break;
		key = f->s;
		eq = key;
		while (*eq && *eq != '=' && !is_space(*eq))
			eq++;
		if (*eq != '=')
			return parse_fail(f->err, f->path, f->lineno, -EINVAL,
					  "header: expected key=value at '%.32s'", key);
		keylen = (size_t)(eq - key);
		f->s = eq + 1;
		if (token_is(key, keylen, "source")) {
			const char *s = f->s;
			size_t n = 0;

			if (*s++ != '"')
				return parse_fail(f->err, f->path, f->lineno, -EINVAL,
						  "header: source must be a quoted string");
			for (; *s != '"'; s++) {
				unsigned char c = (unsigned char)*s;

				if (!c)
					return parse_fail(f->err, f->path, f->lineno, -EINVAL,
							  "header: source: missing closing quote");
				if (c == '\\') {
					int hi, lo;

					s++;
					if (*s == '"' || *s == '\\') {
						c = (unsigned char)*s;
					} else if (*s == 'x' && (hi = hex_digit(s[1])) >= 0 &&
						   (lo = hex_digit(s[2])) >= 0 && (hi || lo)) {
						c = (unsigned char)(hi << 4 | lo);
						s += 2;
					} else {
						return parse_fail(f->err, f->path, f->lineno, -EINVAL,
								  "header: source: bad escape");
					}
				}
				if (n >= TRACE_SOURCE_MAX)
					return parse_fail(f->err, f->path, f->lineno, -EINVAL,
							  "header: source longer than %u bytes",
							  TRACE_SOURCE_MAX);
				h->source[n++] = (char)c;
			}
			h->source[n] = 0;
			f->s = s + 1;
			if (*f->s && !is_space(*f->s))
				return parse_fail(f->err, f->path, f->lineno, -EINVAL,
						  "header: text after the source string");
			continue;
		}
		if (token_is(key, keylen, "vcpus")) {
			ret = next_number(f, &v, TRACE_MAX_VCPUS, "header: vcpus");
			if (ret)
				return ret;
			if (v == 0)
				return parse_fail(f->err, f->path, f->lineno, -EINVAL,
						  "header: vCPU count 0 out of range (1..%u)",
						  TRACE_MAX_VCPUS);
			h->nr_vcpus = (uint32_t)v;
			have_vcpus = true;
		} else if (token_is(key, keylen, "addr")) {
			ret = next_name(f, addr_kind_name, NR_ADDR_KINDS, "header: addr (gva|gpa)");
			if (ret < 0)
				return ret;
			h->addr_kind = (uint8_t)ret;
			have_addr = true;
		} else if (token_is(key, keylen, "paging")) {
			ret = next_name(f, paging_name, NR_PAGINGS, "header: paging (4-level|none)");
			if (ret < 0)
				return ret;
			h->paging = (uint8_t)ret;
			have_paging = true;
		} else {
			return parse_fail(f->err, f->path, f->lineno, -EINVAL, "header: unknown key '%.*s'",
					  (int)(keylen > 64 ? 64 : keylen), key);
		}
	}
	if (!have_vcpus || !have_addr || !have_paging)
		return parse_fail(f->err, f->path, f->lineno, -EINVAL, "header: missing %s",
				  !have_vcpus ? "vcpus=" : !have_addr ? "addr=" : "paging=");
	return 2;
}

int trace_parse_line(const char *line, uint64_t lineno, const char *path, struct trace_record *rec,
		     struct trace_header *h, struct trace_error *err)
{
	struct fields f = { .s = skip_space(line), .path = path, .lineno = lineno, .err = err };
	struct trace_record r = { 0 };
	uint64_t v;
	const char *tok;
	size_t n;
	int ret, kind;

	if (!*f.s)
		return 0;
	if (*f.s == '#') {
		struct trace_header tmp;

		f.s = skip_space(f.s + 1);
		n = token(f.s);
		if (!token_is(f.s, n, TEXT_TAG))
			return 0;		/* a comment */
		f.s += n;
		return parse_header_line(&f, h ? h : &tmp);
	}
	ret = next_number(&f, &v, TRACE_MAX_VCPUS - 1, "vCPU");
	if (ret)
		return ret;
	r.vcpu = (uint16_t)v;
	ret = next_token(&f, &tok, &n, "record kind");
	if (ret)
		return ret;
	kind = name_index(tok, n, kind_name, REC_NR_KINDS);
	if (kind < 0)
		return parse_fail(err, path, lineno, -EINVAL, "unknown record kind '%.*s'",
				  (int)(n > 64 ? 64 : n), tok);
	r.kind = (uint8_t)kind;
	switch (kind) {
	case REC_READ: case REC_WRITE: case REC_FETCH: case REC_MMIO_READ: case REC_MMIO_WRITE:
		if ((ret = next_number(&f, &r.addr, UINT64_MAX, "address")) ||
		    (ret = next_number(&f, &v, UINT32_MAX, "size")))
			return ret;
		r.size = (uint32_t)v;
		break;
	case REC_UNMAP:
		if ((ret = next_number(&f, &r.addr, UINT64_MAX, "address")) ||
		    (ret = next_number(&f, &r.len, UINT64_MAX, "length")))
			return ret;
		break;
	case REC_MEMSLOT:
		ret = next_name(&f, memslot_op_name, NR_MEMSLOT_OPS,
				"memslot op (create|delete|move|flags)");
		if (ret < 0)
			return ret;
		r.arg = (uint32_t)ret;
		if ((ret = next_number(&f, &r.addr, UINT64_MAX, "address")) ||
		    (ret = next_number(&f, &r.len, UINT64_MAX, "length")))
			return ret;
		break;
	case REC_DIRTY_LOG:
		ret = next_name(&f, dirty_op_name, NR_DIRTY_OPS, "dirty-log op (enable|get|disable)");
		if (ret < 0)
			return ret;
		r.arg = (uint32_t)ret;
		if ((ret = next_number(&f, &r.addr, UINT64_MAX, "address")))
			return ret;
		break;
	case REC_MARKER:
		if ((ret = next_number(&f, &v, UINT32_MAX, "marker id")))
			return ret;
		r.arg = (uint32_t)v;
		break;
	}
	if ((ret = next_number(&f, &r.icount, UINT64_MAX, "icount")))
		return ret;
	f.s = skip_space(f.s);
	if (*f.s)
		return parse_fail(err, path, lineno, -EINVAL, "trailing text '%.32s'", f.s);
	if (rec)
		*rec = r;
	return 1;
}
