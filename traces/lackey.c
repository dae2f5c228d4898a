/* traces/lackey — import Valgrind lackey memory traces.  See lackey.h.
 *
 * lackey prints "I  %08lx,%lu\n" and " %c %08lx,%lu\n" (L, S, M).  The input is read in
 * 1 MiB blocks; lines are found with memchr and parsed by hand (a hex table, no sscanf).
 * A line longer than the buffer is skipped when it is not an access line (a long Valgrind
 * message) and an error when it is. */
#include "traces/lackey.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define LK_BUF_SIZE (1u << 20)

/* Hex digit value + 1; 0 for a non-digit. */
static const uint8_t lk_hex[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
	['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15,
	['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

struct lk_state {
	const char *path;
	struct trace_writer *w;
	uint16_t vcpu;
	struct lackey_stats *st;
	struct trace_error *err;
	uint64_t lineno;
};

/* "path:LINE: what: 'the line'" (the line shown up to 80 bytes, control bytes as '?'). */
static int lk_fail(struct lk_state *s, const char *line, size_t len, const char *what)
{
	char shown[84];
	size_t n = len < 80 ? len : 80, i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];
		shown[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	if (len > n)
		shown[n++] = '.', shown[n++] = '.', shown[n++] = '.';
	shown[n] = '\0';
	snprintf(s->err->msg, sizeof(s->err->msg), "%s:%llu: %s: '%s'", s->path,
		 (unsigned long long)s->lineno, what, shown);
	return -EINVAL;
}

/* Is [p, p+len) an access line ("I", " L", " S", " M", then a space or the end)? */
static inline int lk_access_kind(const char *p, size_t len)
{
	if (len >= 1 && p[0] == 'I' && (len == 1 || p[1] == ' '))
		return 'I';
	if (len >= 2 && p[0] == ' ' && (p[1] == 'L' || p[1] == 'S' || p[1] == 'M') &&
	    (len == 2 || p[2] == ' '))
		return p[1];
	return 0;
}

/* One line, without its '\n'.  terminated: the '\n' was there. */
static int lk_line(struct lk_state *s, const char *line, size_t len, bool terminated)
{
	const char *p, *end;
	struct trace_record rec;
	uint64_t addr = 0, size = 0;
	unsigned ndig = 0;
	int kind, rc;

	s->lineno++;
	s->st->lines++;
	if (len && line[len - 1] == '\r')
		len--;
	kind = lk_access_kind(line, len);
	if (!kind) {
		s->st->ignored++;
		return 0;
	}
	p = line + (kind == 'I' ? 1 : 2);
	end = line + len;
	while (p < end && *p == ' ')
		p++;

	/* ADDR: hex, at most 64 significant bits (leading zeros are fine). */
	for (; p < end && lk_hex[(unsigned char)*p]; p++, ndig++) {
		if (addr >> 60)
			return lk_fail(s, line, len, "address over 64 bits");
		addr = addr << 4 | (uint64_t)(lk_hex[(unsigned char)*p] - 1);
	}
	if (p == end)
		return lk_fail(s, line, len, ndig ? "cut-off line (expected ',SIZE')"
					      : "cut-off line (expected ADDR,SIZE)");
	if (!ndig)
		return lk_fail(s, line, len, "malformed line (expected a hex address)");
	if (*p != ',')
		return lk_fail(s, line, len, "malformed line (expected ',' after the address)");
	p++;

	/* SIZE: decimal, 1 .. UINT32_MAX. */
	ndig = 0;
	for (; p < end && *p >= '0' && *p <= '9'; p++, ndig++) {
		size = size * 10 + (uint64_t)(*p - '0');
		if (size > UINT32_MAX)
			return lk_fail(s, line, len, "size over 32 bits");
	}
	if (!ndig)
		return lk_fail(s, line, len, p == end ? "cut-off line (expected a size after ',')"
						      : "malformed line (expected a decimal size)");
	if (p != end)
		return lk_fail(s, line, len, "malformed line (junk after the size)");
	if (size == 0)
		return lk_fail(s, line, len, "malformed line (size 0)");
	if (!terminated)
		return lk_fail(s, line, len, "cut-off line (no newline at the end of the input)");

	memset(&rec, 0, sizeof(rec));
	rec.vcpu = s->vcpu;
	rec.addr = addr;
	rec.size = (uint32_t)size;
	switch (kind) {
	case 'I':
		rec.kind = REC_FETCH;
		rec.icount = 1;
		s->st->instr++;
		break;
	case 'L':
		rec.kind = REC_READ;
		s->st->loads++;
		break;
	case 'S':
		rec.kind = REC_WRITE;
		s->st->stores++;
		break;
	default: /* 'M' */
		rec.kind = REC_WRITE;
		s->st->modifies++;
		break;
	}
	rc = trace_write(s->w, &rec, s->err);
	if (rc < 0)
		return rc;
	s->st->records++;
	return 0;
}

int lackey_import(FILE *in, const char *path, struct trace_writer *w, uint16_t vcpu,
		  struct lackey_stats *st, struct trace_error *err)
{
	struct lackey_stats st_local;
	struct trace_error err_local;
	struct lk_state s;
	char *buf;
	size_t have = 0;        /* bytes in buf[0, have) not yet consumed */
	bool eof = false, skipping = false;
	int rc = 0;

	if (!st)
		st = &st_local;
	if (!err)
		err = &err_local;
	memset(st, 0, sizeof(*st));
	err->msg[0] = '\0';
	if (!path)
		path = "-";
	s = (struct lk_state){ .path = path, .w = w, .vcpu = vcpu, .st = st, .err = err };

	buf = malloc(LK_BUF_SIZE);
	if (!buf) {
		snprintf(err->msg, sizeof(err->msg), "%s: out of memory", path);
		return -ENOMEM;
	}

	while (!eof) {
		size_t n = fread(buf + have, 1, LK_BUF_SIZE - have, in);
		const char *p, *end, *nl;

		if (n == 0) {
			if (ferror(in)) {
				snprintf(err->msg, sizeof(err->msg), "%s:%llu: read error", path,
					 (unsigned long long)s.lineno);
				rc = -EIO;
				goto out;
			}
			eof = true;
		}
		have += n;
		p = buf;
		end = buf + have;

		if (skipping) {          /* the rest of an over-long ignored line */
			nl = memchr(p, '\n', (size_t)(end - p));
			if (!nl) {
				have = 0;
				continue;
			}
			p = nl + 1;
			skipping = false;
		}
		while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
			rc = lk_line(&s, p, (size_t)(nl - p), true);
			if (rc < 0)
				goto out;
			p = nl + 1;
		}
		have = (size_t)(end - p);
		if (eof) {
			if (have)
				rc = lk_line(&s, p, have, false);
			goto out;
		}
		if (have == LK_BUF_SIZE) {     /* one line fills the buffer */
			s.lineno++;
			st->lines++;
			if (lk_access_kind(buf, have)) {
				rc = lk_fail(&s, buf, have, "malformed line (too long)");
				goto out;
			}
			st->ignored++;
			skipping = true;
			have = 0;
		} else if (have && p != buf) {
			memmove(buf, p, have);
		}
	}
out:
	free(buf);
	if (!rc && !st->records) {
		/* random bytes, an empty file, a TSV: nothing lackey wrote; not an empty trace */
		snprintf(err->msg, sizeof(err->msg), "%s: no lackey access line in %llu line%s (expected "
			 "valgrind --tool=lackey --trace-mem=yes output: 'I  ADDR,SIZE', ' L ADDR,SIZE', ...)",
			 path, (unsigned long long)st->lines, st->lines == 1 ? "" : "s");
		rc = -EINVAL;
	}
	return rc;
}
