/* sim/numparse — the one checked parser for numbers read from input: config values, command
 * line options (--seed, -j, --records, --vcpu, --from, --to), ELF load biases.
 *
 * The whole string is the number: no leading or trailing blanks (a config value is trimmed
 * by its reader first), no '+', no trailing junk.  Integers are decimal, or hexadecimal after
 * 0x (a leading 0 is still decimal: no octal surprise); a '-' is not an unsigned integer.
 * With NUMPARSE_SIZE an integer may end in K, M, G or T (powers of 1024), optionally followed
 * by "B" or "iB".  Reals are decimal (digits, '.', an exponent), an optional leading '-';
 * no hex floats, infinities or NaNs.  A real too small to be a normal double (1e-320) is the
 * value strtod gives (a subnormal, or 0) and is range-checked like any other: a key whose
 * range holds it accepts it, any other reports it out of range.
 *
 * Returns 0 with *out set, -EINVAL when s is not a number of the kind asked for, or -ERANGE
 * when it is one but lies outside [min, max] (or beyond uint64_t / double). */
#ifndef EPTSIM_SIM_NUMPARSE_H
#define EPTSIM_SIM_NUMPARSE_H

#include <stdint.h>

#define NUMPARSE_SIZE 1u   /* accept a K/M/G/T suffix */

int parse_u64(const char *s, unsigned flags, uint64_t min, uint64_t max, uint64_t *out);
int parse_real(const char *s, double min, double max, double *out);

#endif
