/* sim/tests/fuzz_config — libFuzzer target for the config loader (sim/config.c).
 *
 * The input is a config file: config_load() over the defaults, then config_validate().  A
 * config that validates is dumped (config_dump, what `run` writes as DIR/config.ini) and the
 * dump must load and validate again to the same config_hash(): the effective config is
 * "loadable again" (README).  Only parsing: a 4 TiB guest costs nothing here.
 * fuzz_set.c includes this file for fuzz_config_check().
 */
#ifndef EPTSIM_SIM_TESTS_FUZZ_CONFIG_C
#define EPTSIM_SIM_TESTS_FUZZ_CONFIG_C
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "sim/config.h"
#include "sim/tests/fuzz_util.h"

/* What must hold of a config that validates: it converts to JSON, and its dump (what `run`
 * writes as DIR/config.ini) loads and validates again to the same config_hash(). */
static void fuzz_config_check(const struct scenario *sc)
{
	static struct scenario sc2;   /* large: not on the stack */
	char path[FUZZ_PATH_MAX], hash[CONFIG_HASH_LEN + 1], hash2[CONFIG_HASH_LEN + 1];
	struct config_error err;
	char *dump = NULL;
	size_t len = 0;
	FILE *f;
	json_t *j;
	int fd, r;

	j = config_to_json(sc);
	FUZZ_CHECK(j);
	json_decref(j);
	config_hash(sc, hash);

	/* The dump loads again, to the same config. */
	if (!(f = open_memstream(&dump, &len)))
		abort();
	config_dump(sc, f);
	fclose(f);
	fd = fuzz_memfd((const uint8_t *)dump, len, path);
	if (fd < 0)
		abort();
	config_defaults(&sc2);
	r = config_load(&sc2, path, &err);
	if (r)
		fprintf(stderr, "reloading the dump: %s\n", err.msg);
	FUZZ_CHECK(r == 0);
	r = config_validate(&sc2, &err);
	if (r)
		fprintf(stderr, "validating the dump: %s\n", err.msg);
	FUZZ_CHECK(r == 0);
	config_hash(&sc2, hash2);
	FUZZ_CHECK(!strcmp(hash, hash2));
	close(fd);
	free(dump);
}

/* Returns config_load()'s or config_validate()'s result (0 or a negative errno).  (unused:
 * fuzz_set.c takes this file for fuzz_config_check() only) */
static int __attribute__((unused)) fuzz_config_input(const uint8_t *data, size_t size)
{
	static struct scenario sc;   /* large: not on the stack */
	char path[FUZZ_PATH_MAX];
	struct config_error err;
	int fd = fuzz_memfd(data, size, path), r;

	if (fd < 0)
		abort();
	memset(&err, 0, sizeof(err));
	config_defaults(&sc);
	r = config_load(&sc, path, &err);
	if (!r)
		r = config_validate(&sc, &err);
	close(fd);
	if (r) {
		FUZZ_CHECK(r < 0 && err.msg[0]);
		return r;
	}
	fuzz_config_check(&sc);
	return 0;
}

#ifndef FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_config_input(data, size);
	return 0;
}
#endif
#endif
