/* sim/tests/fuzz_set — libFuzzer target for `--set SECTION.KEY=VALUE` (config_set(), sim/config.c).
 *
 * The input is one assignment per line, applied in order over the defaults as `run --set`
 * applies them (an argv string holds no NUL: inputs with one are skipped).  A refused one
 * must come with a message.  An accepted one must have stored its whole value: a key whose
 * value is text (a path list, an enum, a name) reads back in config_to_json() as exactly the
 * value given, blanks at its ends trimmed (a fixed buffer once cut long values short without
 * a word).  When all are accepted and the config validates, fuzz_config_check() holds: the
 * dump loads again to the same config hash.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sim/config.h"
#include "sim/tests/fuzz_util.h"

#ifndef FUZZ_NO_ENTRY
#define FUZZ_SET_ENTRY
#define FUZZ_NO_ENTRY   /* fuzz_config.c's own entry point is not ours */
#endif
#include "sim/tests/fuzz_config.c"

#define FUZZ_SET_MAX 8   /* assignments per input */

/* s[0, n) without the blanks (isspace(), as config.c trims) at both ends, as a new string. */
static char *fuzz_set_trimmed(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return strndup(s, n);
}

/* An accepted assignment a: if its key's value is text in the JSON, it is a's value. */
static void fuzz_set_check_value(const struct scenario *sc, const char *a)
{
	const char *eq = strchr(a, '=');
	const char *dot = NULL;
	char *section, *key, *want;
	json_t *j, *v;

	for (const char *p = a; p < eq; p++)
		if (*p == '.')
			dot = p;
	FUZZ_CHECK(eq && dot);   /* config_set() accepted it */
	section = fuzz_set_trimmed(a, (size_t)(dot - a));
	key = fuzz_set_trimmed(dot + 1, (size_t)(eq - dot - 1));
	want = fuzz_set_trimmed(eq + 1, strlen(eq + 1));
	if (!section || !key || !want)
		abort();
	j = config_to_json(sc);
	FUZZ_CHECK(j);
	v = json_object_get(json_object_get(j, section), key);
	if (json_is_string(v) && strcmp(json_string_value(v), want)) {
		fprintf(stderr, "--set %s: stored '%s'\n", a, json_string_value(v));
		FUZZ_CHECK(!"the value stored is the value given");
	}
	json_decref(j);
	free(section);
	free(key);
	free(want);
}

/* Returns the first refused assignment's or config_validate()'s result (0 or a negative errno);
 * 1 for an input skipped. */
static int fuzz_set_input(const uint8_t *data, size_t size)
{
	static struct scenario sc;   /* large: not on the stack */
	struct config_error err;
	char *text, *line, *rest;
	int r = 0, n = 0;

	if (memchr(data, '\0', size))
		return 1;   /* no argv string holds one */
	text = strndup((const char *)data, size);
	if (!text)
		abort();
	config_defaults(&sc);
	rest = text;
	while (!r && n < FUZZ_SET_MAX && (line = strsep(&rest, "\n"))) {
		n++;
		memset(&err, 0, sizeof(err));
		r = config_set(&sc, line, &err);
		if (r)
			FUZZ_CHECK(r < 0 && err.msg[0]);
		else
			fuzz_set_check_value(&sc, line);
	}
	free(text);
	if (r)
		return r;
	memset(&err, 0, sizeof(err));
	r = config_validate(&sc, &err);
	if (r) {
		FUZZ_CHECK(r < 0 && err.msg[0]);
		return r;
	}
	fuzz_config_check(&sc);
	return 0;
}

#ifdef FUZZ_SET_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_set_input(data, size);
	return 0;
}
#endif
