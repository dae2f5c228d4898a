/* Small file helpers the cmocka tests share (include after <cmocka.h>). */
#ifndef EPTSIM_SIM_TESTS_TEST_UTIL_H
#define EPTSIM_SIM_TESTS_TEST_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Write text to path (the test fails if it cannot). */
static inline void tu_write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* The whole file, NUL-terminated (malloc'd), its length in *len if len; NULL if it cannot be
 * read. */
static inline char *tu_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		if (len)
			*len = (size_t)n;
	}
	return buf;
}

/* tu_slurp(), and the test fails if the file cannot be read. */
static inline char *tu_read_file(const char *path)
{
	char *buf = tu_slurp(path, NULL);

	if (!buf)
		fail_msg("%s: %s", path, strerror(errno));
	return buf;
}

static inline void tu_assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

#endif
