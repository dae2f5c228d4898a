/* sim/numparse — strict numbers from text.  See numparse.h. */
#include "sim/numparse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int parse_u64(const char *s, unsigned flags, uint64_t min, uint64_t max, uint64_t *out)
{
	bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	const char *digits = hex ? s + 2 : s;
	uint64_t v = 0, mul = 1;
	const char *p = digits;
	bool over = false;

	/* strtoull would take blanks, a sign, and a leading 0 as octal: scan by hand */
	for (; hex ? isxdigit((unsigned char)*p) : isdigit((unsigned char)*p); p++) {
		unsigned d = isdigit((unsigned char)*p) ? (unsigned)(*p - '0')
							 : (unsigned)(tolower((unsigned char)*p) - 'a' + 10);
		unsigned base = hex ? 16 : 10;

		if (v > (UINT64_MAX - d) / base)
			over = true;   /* a number all the same: junk after it is still junk */
		v = v * base + d;
	}
	if (p == digits)
		return -EINVAL;
	if ((flags & NUMPARSE_SIZE) && *p) {
		switch (toupper((unsigned char)*p)) {
		case 'K': mul = 1ULL << 10; break;
		case 'M': mul = 1ULL << 20; break;
		case 'G': mul = 1ULL << 30; break;
		case 'T': mul = 1ULL << 40; break;
		default: return -EINVAL;
		}
		p++;
		if (!strcasecmp(p, "ib") || !strcasecmp(p, "b"))
			p += strlen(p);
	}
	if (*p)
		return -EINVAL;
	if (over)
		return -ERANGE;
	if (v > UINT64_MAX / mul)
		return -ERANGE;
	v *= mul;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_real(const char *s, double min, double max, double *out)
{
	const char *p = s + (s[0] == '-');
	char *end;
	double d;

	/* what strtod takes besides decimals (blanks, '+', "inf", "nan", 0x1p3) is refused */
	if (!(isdigit((unsigned char)p[0]) || (p[0] == '.' && isdigit((unsigned char)p[1]))) ||
	    strspn(p, "0123456789.eE+-") != strlen(p))
		return -EINVAL;
	errno = 0;
	d = strtod(s, &end);
	if (*end || end == s)
		return -EINVAL;
	/* ERANGE: an overflow (HUGE_VAL) is out of any range; an underflow is the subnormal or
	 * zero strtod returns, checked against the range like any value */
	if (!isfinite(d) || d < min || d > max)
		return -ERANGE;
	*out = d;
	return 0;
}
