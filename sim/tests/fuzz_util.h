/* sim/tests/fuzz_util — what the libFuzzer targets (each module's tests/fuzz_*.c, `make fuzz`)
 * share: the input as a file the library can open by path, and a scratch folder.
 *
 * The loaders under test open paths (trace_open, config_load, sweep_load), so each input is
 * written to a memfd and named /proc/self/fd/N: no disk traffic, nothing left behind.  The
 * targets are also compiled into the cmocka tests with FUZZ_NO_ENTRY defined (no
 * LLVMFuzzerTestOneInput), so a regression input replays through the very same code.
 */
#ifndef EPTSIM_SIM_TESTS_FUZZ_UTIL_H
#define EPTSIM_SIM_TESTS_FUZZ_UTIL_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_PATH_MAX 256

/* A property the target checks failed: stop like a crash, so libFuzzer keeps the input. */
#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* data as an open memfd; path gets its /proc/self/fd name.  The fd, or -1. */
static inline int fuzz_memfd(const uint8_t *data, size_t size, char path[FUZZ_PATH_MAX])
{
	int fd = memfd_create("eptsim-fuzz", MFD_CLOEXEC);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);
		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	snprintf(path, FUZZ_PATH_MAX, "/proc/self/fd/%d", fd);
	return fd;
}

/* Remove dir and what is in it (one level, plus one level of subfolders). */
static inline void fuzz_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[FUZZ_PATH_MAX];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (e->d_type == DT_DIR)
			fuzz_rmtree(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* The path of a file in a scratch folder of this process (created on first use, removed at
 * exit). */
static inline char *fuzz_scratch_dir(void)
{
	static char dir[FUZZ_PATH_MAX];

	if (!dir[0]) {
		const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
		snprintf(dir, sizeof(dir), "%s/eptsim-fuzz.XXXXXX", base);
		if (!mkdtemp(dir))
			abort();
	}
	return dir;
}

static inline void fuzz_scratch_cleanup(void)
{
	fuzz_rmtree(fuzz_scratch_dir());
}

static inline void fuzz_scratch_path(const char *name, char out[FUZZ_PATH_MAX])
{
	static int registered;

	if (!registered) {
		registered = 1;
		atexit(fuzz_scratch_cleanup);
	}
	snprintf(out, FUZZ_PATH_MAX, "%s/%s", fuzz_scratch_dir(), name);
}

/* Replay every file of dir through fn (a target's fuzz_*_input) and return how many there
 * were (0 when dir does not exist), for the cmocka tests that keep the findings fixed.  fn's
 * result is ignored: the target itself checks its properties and aborts on a violation. */
static inline int fuzz_replay_dir(const char *dir, int (*fn)(const uint8_t *, size_t))
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char p[FUZZ_PATH_MAX];
		uint8_t *buf = NULL;
		size_t len = 0;
		FILE *f, *m;
		int ch;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (!(f = fopen(p, "rb")) || !(m = open_memstream((char **)&buf, &len)))
			abort();
		while ((ch = fgetc(f)) != EOF)
			fputc(ch, m);
		fclose(f);
		fclose(m);
		fprintf(stderr, "replay %s (%zu bytes): %d\n", p, len, fn(buf, len));
		free(buf);
		n++;
	}
	closedir(d);
	return n;
}

#endif
