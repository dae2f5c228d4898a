/* sim/tests/fuzz_sweep — libFuzzer target for the sweep-file loader (sim/sweep.c).
 *
 * The input is a sweep file, placed as configs/sweeps/ files are: in a scratch folder
 * sweeps/ whose parent links every configs/NAME.ini, so `base = ../pci-rom-kbuild.ini` works.
 * sweep_load() parses it, expands the axes and filters and validates every run's config;
 * then every run's name, value and hash are read, a few runs' argv built and scenarios
 * rebuilt.  Nothing runs and nothing is written.  Run from the repository root.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/config.h"
#include "sim/sweep.h"
#include "sim/tests/fuzz_util.h"

#define FUZZ_SWEEP_REBUILD 3   /* runs whose scenario and argv are rebuilt */

/* scratch/sweepcfg/ with links to every configs/NAME.ini, and sweeps/ under it.  Once. */
static const char *fuzz_sweep_dir(void)
{
	static char dir[FUZZ_PATH_MAX];
	char configs[PATH_MAX], p[FUZZ_PATH_MAX * 2], t[PATH_MAX + FUZZ_PATH_MAX];
	struct dirent *e;
	DIR *d;

	if (dir[0])
		return dir;
	fuzz_scratch_path("sweepcfg", dir);
	snprintf(p, sizeof(p), "%s/sweeps", dir);
	if (!realpath("configs", configs) || mkdir(dir, 0700) || mkdir(p, 0700) || !(d = opendir(configs))) {
		fprintf(stderr, "fuzz_sweep: run from the repository root (configs/ is needed)\n");
		abort();
	}
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 5 || strcmp(e->d_name + n - 4, ".ini"))
			continue;
		snprintf(t, sizeof(t), "%s/%s", configs, e->d_name);
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (symlink(t, p))
			abort();
	}
	closedir(d);
	return dir;
}

/* Returns sweep_load()'s result (0 or a negative errno). */
static int fuzz_sweep_input(const uint8_t *data, size_t size)
{
	static struct scenario sc;   /* large: not on the stack */
	char path[FUZZ_PATH_MAX * 2];
	struct sweep_error err;
	struct sweep *sw;
	FILE *f;
	size_t run, axis;
	int r;

	snprintf(path, sizeof(path), "%s/sweeps/fuzz.ini", fuzz_sweep_dir());
	if (!(f = fopen(path, "w")) || (size && fwrite(data, size, 1, f) != 1) || fclose(f))
		abort();
	memset(&err, 0, sizeof(err));
	r = sweep_load(path, &sw, &err);
	if (r) {
		FUZZ_CHECK(r < 0 && err.msg[0]);
		return r;
	}
	FUZZ_CHECK(sweep_nr_runs(sw) <= SWEEP_MAX_RUNS);
	FUZZ_CHECK(sweep_base(sw));
	for (axis = 0; axis < sweep_nr_axes(sw); axis++)
		FUZZ_CHECK(sweep_axis_key(sw, axis));
	for (run = 0; run < sweep_nr_runs(sw); run++) {
		FUZZ_CHECK(sweep_run_name(sw, run) && strlen(sweep_run_hash(sw, run)) == CONFIG_HASH_LEN);
		for (axis = 0; axis < sweep_nr_axes(sw); axis++)
			FUZZ_CHECK(sweep_run_value(sw, run, axis));
		if (run < FUZZ_SWEEP_REBUILD) {
			char hash[CONFIG_HASH_LEN + 1];
			char **argv = sweep_run_argv(sw, run, "eptsim", "out", true);

			FUZZ_CHECK(argv && argv[0]);
			sweep_argv_free(argv);
			FUZZ_CHECK(sweep_run_scenario(sw, run, &sc, &err) == 0);
			config_hash(&sc, hash);
			FUZZ_CHECK(!strcmp(hash, sweep_run_hash(sw, run)));
		}
	}
	sweep_free(sw);
	return 0;
}

#ifndef FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_sweep_input(data, size);
	return 0;
}
#endif
