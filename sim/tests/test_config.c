/* Tests for sim/config: defaults, the INI loader (every key type, memslot sections), error
 * messages (file:line and the key), --set, cross-key validation, the --dump-config round trip
 * and the Markdown key reference. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/config.h"
#include "sim/tests/test_util.h"

#define MAX_FILES 32

struct fx {
	char dir[64];
	char files[MAX_FILES][256];
	int nfiles;
	struct scenario sc, sc2;
	struct config_error err;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/eptsim-test-config-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	for (int i = 0; i < f->nfiles; i++)
		unlink(f->files[i]);
	int r = rmdir(f->dir);
	free(f);
	return r;
}

/* Writes text to dir/name and returns the path (owned by the fixture). */
static const char *write_file(struct fx *f, const char *name, const char *text)
{
	assert_true(f->nfiles < MAX_FILES);
	char buf[sizeof(f->files[0])];
	snprintf(buf, sizeof(buf), "%s/%s", f->dir, name);
	char *path = f->files[f->nfiles++];
	memcpy(path, buf, sizeof(buf));
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	return path;
}

static void assert_starts_with(const char *s, const char *prefix)
{
	if (strncmp(s, prefix, strlen(prefix)))
		fail_msg("\"%s\" does not start with \"%s\"", s, prefix);
}

/* ---- defaults ------------------------------------------------------------------------- */

static void test_defaults(void **state)
{
	struct fx *f = *state;
	struct scenario *sc = &f->sc;

	memset(sc, 0xa5, sizeof(*sc));
	config_defaults(sc);
	assert_int_equal(sc->vcpus, 4);
	assert_int_equal(sc->mem, 1ULL << 30);
	assert_int_equal(sc->kernel_mem, 256ULL << 20);
	assert_int_equal(sc->backing, BACKING_THP);
	assert_true(sc->thp_fraction == 1.0);
	assert_int_equal(sc->paging, GUEST_PAGING_4LEVEL);
	assert_int_equal(sc->page_size, MAP_4K);
	assert_int_equal(sc->kernel_page_size, MAP_2M);
	assert_true(sc->freq_mhz == 2600.0);
	assert_true(sc->cpi == 0.8);
	assert_int_equal(sc->l1d_entries[0], 64);
	assert_int_equal(sc->stlb_entries[0], 1536);
	assert_int_equal(sc->stlb_ways[2], 4);
	assert_int_equal(sc->gpwc_entries[2], 32);
	assert_int_equal(sc->epwc_entries[4], 2);
	assert_int_equal(sc->costs.vmexit, 550);
	assert_int_equal(sc->costs.ioctl_base, 20000);
	assert_true(sc->costs.ref_p_l1 == 0.55);
	assert_int_equal(sc->zap_all, ZAP_ALL_FAST_V7);
	assert_int_equal(sc->batch_zap_pages, 10);
	assert_int_equal(sc->max_mapping, MAP_1G);
	assert_int_equal(sc->preempt, PREEMPT_VOLUNTARY);
	assert_int_equal(sc->hz, 1000);
	assert_string_equal(sc->generator, "kbuild");
	assert_string_equal(sc->toggle_slot, "");
	assert_int_equal(sc->toggle_count, 0);
	assert_true(sc->series);
	assert_true(sc->sample_us == 1000.0);
	assert_int_equal(sc->nr_slots, 1);
	assert_string_equal(sc->slots[0].name, "ram");
	assert_int_equal(sc->seed, 1);
	assert_string_equal(sc->source, "");

	memset(&f->err, 0, sizeof(f->err));
	assert_int_equal(config_validate(sc, &f->err), 0);
	/* validate builds the RAM slot from [guest] */
	assert_int_equal(sc->slots[0].base, 0);
	assert_int_equal(sc->slots[0].size, 1ULL << 30);
	assert_int_equal(sc->slots[0].backing, BACKING_THP);
	assert_true(sc->slots[0].present);
	assert_false(sc->slots[0].readonly);

	json_t *j = config_to_json(sc);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "guest"), "mem")), 1LL << 30);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "mmu"), "zap_all")), "fast-v7");
	assert_true(json_is_true(json_object_get(json_object_get(j, "output"), "series")));
	assert_true(json_real_value(json_object_get(json_object_get(j, "cpu"), "cpi")) == 0.8);
	assert_null(json_object_get(j, "memslot.ram"));   /* the RAM slot is [guest]'s */
	json_decref(j);
}

/* ---- a good file ---------------------------------------------------------------------- */

static const char good_ini[] =
	"; a scenario\n"
	"# another comment style\n"
	"[guest]\n"
	"vcpus = 8\n"
	"mem = 2G\n"
	"kernel_mem = 0x10000000 ; 256M, inline comment\n"
	"backing = hugetlb-2m\n"
	"thp_fraction = 0.25\n"
	"page_size = 2m\n"
	"\n"
	"[cpu]\n"
	"freq_mhz = 3000.5\n"
	"[tlb]\n"
	"stlb_4k_entries = 3072\n"   /* 256 sets of the default 12 ways */
	"[costs]\n"
	"ioctl_base = 123456789012\n"
	"ref_p_l1 = 0.5\n"
	"[mmu]\n"
	"zap_all = legacy\n"
	"batch_zap_pages = 0x20\n"
	"[host]\n"
	"preempt = full\n"
	"[workload]\n"
	"generator = kbuild\n"
	"duration_ms = 12.5\n"
	"[events]\n"
	"toggle_slot = rom\n"
	"toggle_count = 3\n"
	"[output]\n"
	"series = no\n"
	"sample_us = 250\n"
	"[memslot.rom]\n"
	"base = 0xC0000000\n"
	"size = 256K\n"
	"readonly = yes\n"
	"present = off\n"
	"backing = 4k\n"
	"thp_fraction = 0\n";

static void test_load_good(void **state)
{
	struct fx *f = *state;
	struct scenario *sc = &f->sc;
	const char *path = write_file(f, "good.ini", good_ini);

	config_defaults(sc);
	memset(&f->err, 0, sizeof(f->err));
	assert_int_equal(config_load(sc, path, &f->err), 0);
	assert_string_equal(f->err.msg, "");
	assert_string_equal(sc->source, path);

	assert_int_equal(sc->vcpus, 8);                              /* u32 */
	assert_int_equal(sc->mem, 2ULL << 30);                       /* size, G suffix */
	assert_int_equal(sc->kernel_mem, 256ULL << 20);              /* size, hex */
	assert_int_equal(sc->backing, BACKING_HUGETLB_2M);           /* enum */
	assert_true(sc->thp_fraction == 0.25);                       /* double */
	assert_int_equal(sc->page_size, MAP_2M);
	assert_true(sc->freq_mhz == 3000.5);
	assert_int_equal(sc->stlb_entries[0], 3072);
	assert_int_equal(sc->costs.ioctl_base, 123456789012ULL);     /* u64 above 2^32 */
	assert_true(sc->costs.ref_p_l1 == 0.5);
	assert_int_equal(sc->zap_all, ZAP_ALL_LEGACY);
	assert_int_equal(sc->batch_zap_pages, 32);                   /* u32, hex */
	assert_int_equal(sc->preempt, PREEMPT_FULL);
	assert_string_equal(sc->generator, "kbuild");                /* string */
	assert_true(sc->duration_ms == 12.5);
	assert_string_equal(sc->toggle_slot, "rom");
	assert_int_equal(sc->toggle_count, 3);
	assert_false(sc->series);                                    /* bool */
	assert_true(sc->sample_us == 250.0);
	/* untouched keys keep their defaults */
	assert_int_equal(sc->hz, 1000);
	assert_int_equal(sc->costs.vmexit, 550);

	assert_int_equal(sc->nr_slots, 2);
	assert_int_equal(config_slot_index(sc, "ram"), 0);
	assert_int_equal(config_slot_index(sc, "rom"), 1);
	assert_int_equal(config_slot_index(sc, "nope"), -1);
	const struct memslot_cfg *rom = &sc->slots[1];
	assert_string_equal(rom->name, "rom");
	assert_int_equal(rom->base, 0xC0000000ULL);
	assert_int_equal(rom->size, 256 << 10);
	assert_true(rom->readonly);
	assert_false(rom->present);
	assert_int_equal(rom->backing, BACKING_4K);
	assert_true(rom->thp_fraction == 0.0);

	assert_int_equal(config_validate(sc, &f->err), 0);
	assert_int_equal(sc->slots[0].size, 2ULL << 30);
	assert_int_equal(sc->slots[0].backing, BACKING_HUGETLB_2M);

	json_t *j = config_to_json(sc);
	json_t *js = json_object_get(j, "memslot.rom");
	assert_non_null(js);
	assert_int_equal(json_integer_value(json_object_get(js, "base")), 0xC0000000LL);
	assert_true(json_is_true(json_object_get(js, "readonly")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "guest"), "backing")), "hugetlb-2m");
	json_decref(j);
}

/* Indented keys are keys, not continuation lines of the previous value. */
static void test_load_indented(void **state)
{
	struct fx *f = *state;
	const char *path = write_file(f, "indented.ini",
				      "[guest]\n  vcpus = 2\n\tmem = 512M\n  [memslot.rom]\n    base = 4G\n    size = 8K\n");
	config_defaults(&f->sc);
	assert_int_equal(config_load(&f->sc, path, &f->err), 0);
	assert_int_equal(f->sc.vcpus, 2);
	assert_int_equal(f->sc.mem, 512ULL << 20);
	assert_int_equal(f->sc.nr_slots, 2);
	assert_int_equal(f->sc.slots[1].base, 4ULL << 30);
	assert_int_equal(f->sc.slots[1].size, 8192);
}

/* Size syntax, through --set. */
static void test_sizes(void **state)
{
	struct fx *f = *state;
	static const struct { const char *v; uint64_t want; } good[] = {
		{ "16M", 16ULL << 20 }, { "1G", 1ULL << 30 }, { "1g", 1ULL << 30 }, { "3T", 3ULL << 40 },
		{ "65536K", 64ULL << 20 }, { "65536k", 64ULL << 20 }, { "2GiB", 2ULL << 30 }, { "32MB", 32ULL << 20 },
		{ "0x2000000", 32ULL << 20 }, { "0x1G", 1ULL << 30 }, { "33554432", 32ULL << 20 },
		{ "  48M  ", 48ULL << 20 },
	};
	static const char *const bad[] = { "4X", "1.5G", "G", "", "-16M", "16M5", "16MiBs", "0x", "1e9",
					   "+16M", "99999999999999999999x" };
	/* numbers, but beyond 64 bits: out of range, not "not a size" */
	static const char *const huge[] = { "99999999999999999999", "17179869184G" };
	char a[128];

	config_defaults(&f->sc);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(a, sizeof(a), "guest.mem=%s", good[i].v);
		assert_int_equal(config_set(&f->sc, a, &f->err), 0);
		assert_int_equal(f->sc.mem, good[i].want);
	}
	assert_int_equal(config_set(&f->sc, "memslot.x.size=64k", &f->err), 0);
	assert_int_equal(f->sc.slots[1].size, 64 << 10);
	assert_int_equal(config_set(&f->sc, "memslot.x.base=0x0", &f->err), 0);
	assert_int_equal(f->sc.slots[1].base, 0);

	config_defaults(&f->sc);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(a, sizeof(a), "guest.mem=%s", bad[i]);
		memset(&f->err, 0, sizeof(f->err));
		assert_int_equal(config_set(&f->sc, a, &f->err), -EINVAL);
		tu_assert_contains(f->err.msg, "guest.mem");
		tu_assert_contains(f->err.msg, "is not a size");
		assert_int_equal(f->sc.mem, 1ULL << 30);   /* unchanged */
	}
	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		snprintf(a, sizeof(a), "guest.mem=%s", huge[i]);
		memset(&f->err, 0, sizeof(f->err));
		assert_int_equal(config_set(&f->sc, a, &f->err), -ERANGE);
		tu_assert_contains(f->err.msg, "guest.mem");
		tu_assert_contains(f->err.msg, "is out of range");
		assert_int_equal(f->sc.mem, 1ULL << 30);
	}
}

/* ---- load errors ---------------------------------------------------------------------- */

/* Loads text and checks: -EINVAL, the message starts with "path:line: " and contains want1
 * and want2 (when given). */
static void check_load_error(struct fx *f, const char *name, const char *text, int line, const char *want1,
			     const char *want2)
{
	const char *path = write_file(f, name, text);
	char prefix[512];

	config_defaults(&f->sc);
	memset(&f->err, 0, sizeof(f->err));
	assert_int_equal(config_load(&f->sc, path, &f->err), -EINVAL);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	assert_starts_with(f->err.msg, prefix);
	if (want1)
		tu_assert_contains(f->err.msg, want1);
	if (want2)
		tu_assert_contains(f->err.msg, want2);
}

static void test_err_unknown_key(void **state)
{
	check_load_error(*state, "unknown-key.ini", "[guest]\nvcpus = 2\n\n; comment\nfoo = 1\n", 5,
			 "guest.foo", "unknown key");
	check_load_error(*state, "unknown-slot-key.ini", "[memslot.rom]\nsize = 4K\ncolour = red\n", 3,
			 "memslot.rom.colour", "unknown key");
	/* a key of another section */
	check_load_error(*state, "wrong-section.ini", "[cpu]\nvcpus = 2\n", 2, "cpu.vcpus", "unknown key");
}

static void test_err_unknown_section(void **state)
{
	/* The section is what is wrong: the message names it. */
	check_load_error(*state, "unknown-section.ini", "[guest]\nvcpus = 2\n[gpu]\ncores = 4\n", 4, "[gpu]",
			 "unknown section");
}

static void test_err_duplicate_key(void **state)
{
	check_load_error(*state, "dup.ini", "[guest]\nvcpus = 2\n[cpu]\ncpi = 1\n[guest]\nvcpus = 3\n", 6,
			 "guest.vcpus", "duplicate key");
	check_load_error(*state, "dup-slot.ini", "[memslot.a]\nsize = 4K\nbase = 4G\nsize = 8K\n", 4,
			 "memslot.a.size", "duplicate key");
}

static void test_err_bad_integer(void **state)
{
	check_load_error(*state, "bad-int.ini", "[guest]\nvcpus = 12abc\n", 2, "guest.vcpus",
			 "'12abc' is not a non-negative integer");
	check_load_error(*state, "neg-int.ini", "[tlb]\n\nstlb_4k_ways = -6\n", 3, "tlb.stlb_4k_ways",
			 "'-6' is not a non-negative integer");
	check_load_error(*state, "bad-int-size.ini", "[guest]\nmem = 12abc\n", 2, "guest.mem", "'12abc' is not a size");
}

static void test_err_negative_size(void **state)
{
	check_load_error(*state, "neg-size.ini", "[guest]\nvcpus = 2\nmem = -1G\n", 3, "guest.mem",
			 "'-1G' is not a size");
	check_load_error(*state, "neg-slot-size.ini", "[memslot.rom]\nbase = 4G\nsize = -4096\n", 3,
			 "memslot.rom.size", "'-4096' is not a size");
}

static void test_err_out_of_range(void **state)
{
	check_load_error(*state, "range-u32.ini", "[guest]\nvcpus = 2000\n", 2, "guest.vcpus",
			 "2000 is out of range [1, 1024]");
	check_load_error(*state, "range-u32-0.ini", "[guest]\nvcpus = 0\n", 2, "guest.vcpus", "out of range");
	check_load_error(*state, "range-double.ini", "[cpu]\nfreq_mhz = 2600\n[guest]\nthp_fraction = 1.5\n", 4,
			 "guest.thp_fraction", "1.5 is out of range [0, 1]");
	check_load_error(*state, "range-size.ini", "[guest]\nmem = 1M\n", 2, "guest.mem", "out of range");
	check_load_error(*state, "range-u64.ini", "[costs]\nvmexit = 1000000001\n", 2, "costs.vmexit", "out of range");
	/* an enum name that exists but is not allowed for this key */
	check_load_error(*state, "range-enum.ini", "[guest]\npage_size = 1g\n", 2, "guest.page_size",
			 "'1g' is not allowed here");
}

/* Issue 12, item 2: a memslot must end in the 48-bit guest-physical space of a 4-level EPT:
 * its base (the bound 2^52 the schema had), its end, a base + size that would wrap; the
 * key named is the one whose line completes the problem, whichever comes first. */
static void test_err_gpa_space(void **state)
{
	struct fx *f = *state;
	check_load_error(f, "gpa-base.ini", "[memslot.x]\nsize = 4K\nbase = 0x1000000000000\n", 3,
			 "memslot.x.base: beyond the 48-bit guest-physical space", NULL);
	check_load_error(f, "gpa-base52.ini", "[memslot.x]\nbase = 0xffff000000000\n", 2,
			 "memslot.x.base: beyond the 48-bit guest-physical space", NULL);
	check_load_error(f, "gpa-wrap.ini", "[memslot.x]\nsize = 64M\nbase = 0xffffffffff000000\n", 3,
			 "memslot.x.base: beyond the 48-bit guest-physical space", NULL);
	check_load_error(f, "gpa-end.ini", "[memslot.x]\nbase = 0xfffffffff000\nsize = 8K\n", 3,
			 "memslot.x.size: beyond the 48-bit guest-physical space (the slot would end at 0x1000000001000)", NULL);
	/* the last page below 2^48 is a slot's */
	config_defaults(&f->sc);
	assert_int_equal(config_set(&f->sc, "memslot.x.base=0xfffffffff000", &f->err), 0);
	assert_int_equal(config_set(&f->sc, "memslot.x.size=4K", &f->err), 0);
	assert_int_equal(config_validate(&f->sc, &f->err), 0);
	assert_int_equal(config_set(&f->sc, "memslot.x.size=8K", &f->err), -ERANGE);
	tu_assert_contains(f->err.msg, "--set: memslot.x.size: beyond the 48-bit guest-physical space");
	assert_int_equal(f->sc.slots[1].size, 4096);   /* refused: unchanged */
}

static void test_err_bad_enum(void **state)
{
	check_load_error(*state, "bad-enum.ini", "[mmu]\nzap_all = fastest\n", 2, "mmu.zap_all",
			 "'fastest' is not one of: legacy fast-flush-at-break fast-v7");
	/* only the allowed subset is listed */
	check_load_error(*state, "bad-enum-sub.ini", "[guest]\n\n\npage_size = 3m\n", 4, "guest.page_size",
			 "'3m' is not one of: 4k 2m");
	check_load_error(*state, "bad-enum-slot.ini", "[memslot.rom]\nbacking = THP\n", 2, "memslot.rom.backing",
			 "'THP' is not one of: 4k thp hugetlb-2m hugetlb-1g");
	check_load_error(*state, "bad-generator.ini", "[workload]\ngenerator = spec\n", 2, "workload.generator",
			 "'spec' is not a known generator");
}

static void test_err_bad_bool(void **state)
{
	check_load_error(*state, "bad-bool.ini", "[output]\nseries = maybe\n", 2, "output.series",
			 "'maybe' is not a boolean");
	check_load_error(*state, "bad-bool-slot.ini", "[memslot.rom]\nreadonly = 2\n", 2, "memslot.rom.readonly",
			 "'2' is not a boolean");
}

static void test_err_other_values(void **state)
{
	check_load_error(*state, "bad-double.ini", "[cpu]\ncpi = 1.2.3\n", 2, "cpu.cpi", "'1.2.3' is not a number");
	check_load_error(*state, "nan.ini", "[cpu]\ncpi = nan\n", 2, "cpu.cpi", "'nan' is not a number");
	check_load_error(*state, "long-str.ini", "[events]\ntoggle_slot = abcdefghijabcdefghijabcdefghijab\n", 2,
			 "events.toggle_slot", "longer than 31 characters");
	check_load_error(*state, "ram-slot.ini", "[memslot.ram]\nsize = 4K\n", 2, "[memslot.ram]", "another name");
}

static void test_err_syntax(void **state)
{
	check_load_error(*state, "syntax.ini", "[guest]\nvcpus = 2\nthis line is junk\nmem = 1G\n", 3,
			 "syntax error", NULL);
	check_load_error(*state, "syntax-section.ini", "; c\n[guest\nvcpus = 2\n", 2, "syntax error", NULL);
}

/* The first error is reported, with its own line and message. */
static void test_err_first_wins(void **state)
{
	check_load_error(*state, "two-errors.ini", "[guest]\nfoo = 1\nvcpus = 2\nbar = 3\n", 2, "guest.foo",
			 "unknown key");
	struct fx *f = *state;
	assert_true(strstr(f->err.msg, "bar") == NULL);
	check_load_error(*state, "syntax-then-key.ini", "[guest]\njunk\nvcpus = 2\nbar = 3\n", 2, "syntax error",
			 NULL);
	assert_true(strstr(f->err.msg, "bar") == NULL);
	check_load_error(*state, "key-then-syntax.ini", "[guest]\nvcpus = x\njunk\n", 2, "guest.vcpus",
			 "not a non-negative integer");
}

static void test_err_directory_and_missing(void **state)
{
	struct fx *f = *state;
	char path[256];

	config_defaults(&f->sc);
	memset(&f->err, 0, sizeof(f->err));
	assert_int_equal(config_load(&f->sc, f->dir, &f->err), -EISDIR);
	assert_starts_with(f->err.msg, f->dir);
	tu_assert_contains(f->err.msg, "is a directory");

	snprintf(path, sizeof(path), "%s/no-such.ini", f->dir);
	memset(&f->err, 0, sizeof(f->err));
	assert_int_equal(config_load(&f->sc, path, &f->err), -ENOENT);
	assert_starts_with(f->err.msg, path);
	tu_assert_contains(f->err.msg, strerror(ENOENT));
	assert_string_equal(f->sc.source, "");
}

/* Lines inih would read wrongly without a word (issue 12): a NUL byte ends inih's line early
 * ("vcpus = 1<NUL>2" read as 1), and inih drops what follows a section header's first ']'. */
static void test_err_bad_lines(void **state)
{
	struct fx *f = *state;
	static const char nul[] = "[guest]\nvcpus = 1\0002\nmem = 1G\n";
	const char *path = write_file(f, "nul.ini", "");
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(nul, 1, sizeof(nul) - 1, fp), sizeof(nul) - 1);
	assert_int_equal(fclose(fp), 0);
	config_defaults(&f->sc);
	assert_int_equal(config_load(&f->sc, path, &f->err), -EINVAL);
	assert_starts_with(f->err.msg, path);
	tu_assert_contains(f->err.msg, ":2: a NUL byte in the line");
	check_load_error(*state, "section-junk.ini", "[guest]\nvcpus = 2\n[memslot.a]b]\nsize = 4K\n", 3,
			 "junk after the section header's ']'", NULL);
	check_load_error(*state, "section-junk2.ini", "[guest] x\n", 1, "junk after the section header", NULL);
	/* blanks and a comment after the header are fine */
	const char *ok = write_file(f, "section-ok.ini", "[guest]  ; the guest\nvcpus = 2\n[cpu]\t# c\ncpi = 1\n");
	config_defaults(&f->sc);
	assert_int_equal(config_load(&f->sc, ok, &f->err), 0);
	assert_int_equal(f->sc.vcpus, 2);
}

/* One checked parser for numbers (sim/numparse.h): a number too small for a normal double is
 * judged by the key's range, not called "not a number"; no '+', no octal. */
static void test_numbers(void **state)
{
	struct fx *f = *state;

	check_load_error(f, "subnormal.ini", "[cpu]\ncpi = 1e-320\n", 2, "cpu.cpi",
			 "1e-320 is out of range [0.05, 100]");
	check_load_error(f, "overflow.ini", "[cpu]\ncpi = 1e999\n", 2, "cpu.cpi", "1e999 is out of range");
	check_load_error(f, "plus.ini", "[guest]\nvcpus = +2\n", 2, "guest.vcpus", "'+2' is not a non-negative integer");
	check_load_error(f, "hexfloat.ini", "[cpu]\ncpi = 0x1p0\n", 2, "cpu.cpi", "'0x1p0' is not a number");
	check_load_error(f, "inf.ini", "[cpu]\ncpi = inf\n", 2, "cpu.cpi", "'inf' is not a number");
	check_load_error(f, "u64-over.ini", "[costs]\nvmexit = 18446744073709551616\n", 2, "costs.vmexit",
			 "18446744073709551616 is out of range [0, 1000000000]");
	/* a 64-bit key without a limit of its own stops where stats.json's signed integers do */
	check_load_error(f, "seed-over.ini", "[run]\nseed = 9223372036854775808\n", 2, "run.seed",
			 "9223372036854775808 is out of range [0, 9223372036854775807]");
	config_defaults(&f->sc);
	assert_int_equal(config_set(&f->sc, "run.seed=9223372036854775807", &f->err), 0);
	assert_true(f->sc.seed == (uint64_t)INT64_MAX);
	/* a key whose range holds a subnormal takes it */
	assert_int_equal(config_set(&f->sc, "guest.thp_fraction=1e-320", &f->err), 0);
	assert_true(f->sc.thp_fraction > 0 && f->sc.thp_fraction < 1e-300);
	/* a leading 0 is decimal */
	assert_int_equal(config_set(&f->sc, "guest.vcpus=010", &f->err), 0);
	assert_int_equal(f->sc.vcpus, 10);
	assert_int_equal(config_set(&f->sc, "guest.vcpus=0x10", &f->err), 0);
	assert_int_equal(f->sc.vcpus, 16);
}

/* The TLB geometry is checked with the config, naming the key and its line (the later set of
 * the pair), not when vCPU 0 is created. */
static void test_tlb_geometry(void **state)
{
	struct fx *f = *state;
	const char *path = write_file(f, "tlb.ini", "[guest]\nvcpus = 2\n[tlb]\nl1d_4k_entries = 64\nl1d_4k_ways = 3\n");

	config_defaults(&f->sc);
	assert_int_equal(config_load(&f->sc, path, &f->err), 0);
	assert_int_equal(config_validate(&f->sc, &f->err), -EINVAL);
	assert_starts_with(f->err.msg, path);
	tu_assert_contains(f->err.msg, ":5: tlb.l1d_4k_ways: 64 entries in 3 ways");
	/* the entries set later (by --set) are blamed; 96 entries in 3 ways are 32 sets: fine */
	assert_int_equal(config_set(&f->sc, "tlb.l1d_4k_entries=96", &f->err), 0);
	assert_int_equal(config_validate(&f->sc, &f->err), 0);
	assert_int_equal(config_set(&f->sc, "tlb.l1d_4k_entries=60", &f->err), 0);
	assert_int_equal(config_validate(&f->sc, &f->err), -EINVAL);
	assert_starts_with(f->err.msg, "--set: tlb.l1d_4k_entries: 60 entries in 3 ways");
	/* 0 entries: the structure is absent, any ways */
	assert_int_equal(config_set(&f->sc, "tlb.l1d_4k_entries=0", &f->err), 0);
	assert_int_equal(config_validate(&f->sc, &f->err), 0);
	/* a default pair broken by one key */
	config_defaults(&f->sc);
	assert_int_equal(config_set(&f->sc, "tlb.stlb_1g_ways=5", &f->err), 0);
	assert_int_equal(config_validate(&f->sc, &f->err), -EINVAL);
	assert_starts_with(f->err.msg, "--set: tlb.stlb_1g_ways: 16 entries in 5 ways");
}

static void assert_geom(const uint32_t *entries, const uint32_t *ways, const uint32_t want[3][2])
{
	for (int ps = 0; ps < 3; ps++) {
		assert_int_equal(entries[ps], want[ps][0]);
		if (want[ps][0])
			assert_int_equal(ways[ps], want[ps][1]);
	}
}

/* tlb.preset = skylake gives the geometry of the Intel Optimization Reference Manual's Table
 * 2-15 (written out here by hand); explicit keys win over the preset wherever they stand;
 * the sizes of a shared array follow the smallest size's keys, and an explicit key that
 * disagrees is an error; custom keeps the keys as they are. */
static void test_tlb_preset(void **state)
{
	struct fx *f = *state;
	const uint32_t l1d[3][2] = { { 64, 4 }, { 32, 4 }, { 4, 4 } };
	const uint32_t l1i[3][2] = { { 128, 8 }, { 8, 8 }, { 0, 0 } };
	const uint32_t stlb[3][2] = { { 1536, 12 }, { 1536, 12 }, { 16, 4 } };
	const uint32_t stlb_big[3][2] = { { 2048, 16 }, { 2048, 16 }, { 16, 4 } };
	const char *path;

	config_defaults(&f->sc);
	assert_int_equal(config_validate(&f->sc, &f->err), 0);
	assert_int_equal(f->sc.tlb_preset, TLB_PRESET_SKYLAKE);
	assert_geom(f->sc.l1d_entries, f->sc.l1d_ways, l1d);
	assert_geom(f->sc.l1i_entries, f->sc.l1i_ways, l1i);
	assert_geom(f->sc.stlb_entries, f->sc.stlb_ways, stlb);
	assert_int_equal(config_tlb_shared_mask(f->sc.tlb_shared[0]), 0);
	assert_int_equal(config_tlb_shared_mask(f->sc.tlb_shared[1]), 0);
	assert_int_equal(config_tlb_shared_mask(f->sc.tlb_shared[2]), 3);   /* 4K and 2M */

	/* Explicit keys before and after the preset line both win; the 2M keys follow the 4K
	 * ones of the shared STLB. */
	path = write_file(f, "preset.ini", "[tlb]\nstlb_4k_entries = 2048\npreset = skylake\n"
			  "stlb_4k_ways = 16\n");
	config_defaults(&f->sc);
	assert_int_equal(config_load(&f->sc, path, &f->err), 0);
	assert_int_equal(config_validate(&f->sc, &f->err), 0);
	assert_geom(f->sc.stlb_entries, f->sc.stlb_ways, stlb_big);
	assert_geom(f->sc.l1d_entries, f->sc.l1d_ways, l1d);
	/* validating again changes nothing */
	assert_int_equal(config_validate(&f->sc, &f->err), 0);
	assert_geom(f->sc.stlb_entries, f->sc.stlb_ways, stlb_big);

	/* A 2M key that disagrees with the shared array: named, with the key to set. */
	assert_int_equal(config_set(&f->sc, "tlb.stlb_2m_entries=64", &f->err), 0);
	assert_int_equal(config_validate(&f->sc, &f->err), -EINVAL);
	assert_starts_with(f->err.msg, "--set: tlb.stlb_2m_entries: 64, but tlb.stlb_shared = 4k+2m");
	tu_assert_contains(f->err.msg, "set tlb.stlb_4k_entries (2048) instead");
	/* Not shared: the 2M keys are the 2M array's own. */
	assert_int_equal(config_set(&f->sc, "tlb.stlb_shared=none", &f->err), 0);
	assert_int_equal(config_set(&f->sc, "tlb.stlb_2m_ways=4", &f->err), 0);
	assert_int_equal(config_validate(&f->sc, &f->err), 0);
	assert_int_equal(f->sc.stlb_entries[1], 64);
	assert_int_equal(f->sc.stlb_ways[1], 4);
	assert_int_equal(f->sc.stlb_entries[0], 2048);

	/* custom: no preset; every size of the L1D in one 64-entry fully associative array. */
	config_defaults(&f->sc);
	assert_int_equal(config_set(&f->sc, "tlb.preset=custom", &f->err), 0);
	assert_int_equal(config_set(&f->sc, "tlb.l1d_shared=4k+2m+1g", &f->err), 0);
	assert_int_equal(config_set(&f->sc, "tlb.l1d_4k_ways=64", &f->err), 0);
	assert_int_equal(config_validate(&f->sc, &f->err), 0);
	for (int ps = 0; ps < 3; ps++) {
		assert_int_equal(f->sc.l1d_entries[ps], 64);
		assert_int_equal(f->sc.l1d_ways[ps], 64);
	}
	assert_int_equal(config_tlb_shared_mask(f->sc.tlb_shared[0]), 7);
}

/* A --set value is taken whole, however long (a 1 KiB buffer once cut it short without a
 * word: a long workload.elf list lost entries); a value longer than its key holds is an
 * error naming the key. */
static void test_set_long_values(void **state)
{
	struct fx *f = *state;
	char *a = malloc(4200), *want = malloc(4200);
	size_t n;

	assert_non_null(a);
	assert_non_null(want);
	config_defaults(&f->sc);
	/* CONFIG_PATH_MAX - 1 characters: the longest a list key holds */
	for (n = 0; n < CONFIG_PATH_MAX - 1; n++)
		want[n] = n % 20 == 19 ? ',' : 'a' + (char)(n % 26);
	want[n] = '\0';
	snprintf(a, 4200, "workload.elf=%s", want);
	assert_int_equal(config_set(&f->sc, a, &f->err), 0);
	assert_string_equal(f->sc.elf, want);
	/* one more: refused, naming the key */
	snprintf(a, 4200, "workload.elf=%sz", want);
	memset(&f->err, 0, sizeof(f->err));
	assert_int_equal(config_set(&f->sc, a, &f->err), -EINVAL);
	assert_starts_with(f->err.msg, "--set: workload.elf: a value of 1024 characters is longer than the 1023");
	assert_string_equal(f->sc.elf, want);   /* unchanged */
	/* far longer, with blanks around it: still refused, not cut */
	snprintf(a, 4200, "workload.trace =  %s%s%s  ", want, want, want);
	assert_int_equal(config_set(&f->sc, a, &f->err), -EINVAL);
	tu_assert_contains(f->err.msg, "workload.trace: a value of 3069 characters");
	free(a);
	free(want);
}

/* What --set takes, DIR/config.ini (the dump) holds: an item longer than a config line goes
 * on over "key .= ..." lines (found by fuzz_set: such a dump did not load); a value a config
 * line cannot hold is refused (a line break, a ';' after a blank, a ']' in a slot name, a
 * list with no place to cut it). */
static char *capture_dump(const struct scenario *sc);

static void test_set_what_a_file_holds(void **state)
{
	struct fx *f = *state;
	char a[1100], item[400];

	memset(item, 'p', 300);
	item[300] = '\0';
	item[150] = ' ';   /* a blank inside: no cut next to it */
	snprintf(a, sizeof(a), "workload.elf=/x/%s@0x1000,b c,%s", item, item);
	config_defaults(&f->sc);
	assert_int_equal(config_set(&f->sc, a, &f->err), 0);
	assert_int_equal(config_validate(&f->sc, &f->err), 0);
	char *txt = capture_dump(&f->sc);
	tu_assert_contains(txt, "\nelf .= ");
	for (char *l = txt; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] != 0))
		assert_true(strcspn(l, "\n") <= 198);
	const char *path = write_file(f, "long-item.ini", txt);
	free(txt);
	config_defaults(&f->sc2);
	assert_int_equal(config_load(&f->sc2, path, &f->err), 0);
	assert_string_equal(f->sc2.elf, f->sc.elf);
	/* .= in a file goes on with the last item; it works on list keys only */
	check_load_error(f, "dot-eq.ini", "[workload]\nelf = a,b\nelf .= c\n[guest]\nvcpus .= 2\n", 5,
			 "guest.vcpus: .= works on list keys only", NULL);
	assert_string_equal(f->sc.elf, "a,bc");

	config_defaults(&f->sc);
	assert_int_equal(config_set(&f->sc, "workload.elf=a\nb", &f->err), -EINVAL);
	assert_starts_with(f->err.msg, "--set: workload.elf: a value cannot hold a line break");
	assert_int_equal(config_set(&f->sc, "workload.trace=a ;b", &f->err), -EINVAL);
	tu_assert_contains(f->err.msg, "a ';' after a blank");
	assert_int_equal(config_set(&f->sc, "workload.trace=a;b", &f->err), 0);   /* no blank: fine */
	assert_int_equal(config_set(&f->sc, "memslot.a]b.size=4K", &f->err), -EINVAL);
	tu_assert_contains(f->err.msg, "[memslot.a]b]: a memslot name cannot hold a ']'");
	memset(a, 0, sizeof(a));
	strcpy(a, "workload.elf=");
	for (int i = 0; i < 120; i++)
		strcat(a, "x ");
	assert_int_equal(config_set(&f->sc, a, &f->err), -EINVAL);
	tu_assert_contains(f->err.msg, "workload.elf: no two non-blank characters side by side in 100 characters");
	assert_string_equal(f->sc.elf, "");
}

/* ---- --set ---------------------------------------------------------------------------- */

static void test_set(void **state)
{
	struct fx *f = *state;
	struct scenario *sc = &f->sc;

	config_defaults(sc);
	/* bounds are inclusive */
	assert_int_equal(config_set(sc, "guest.vcpus=1", &f->err), 0);
	assert_int_equal(sc->vcpus, 1);
	assert_int_equal(config_set(sc, "guest.vcpus=1024", &f->err), 0);
	assert_int_equal(sc->vcpus, 1024);
	assert_int_not_equal(config_set(sc, "guest.vcpus=1025", &f->err), 0);
	tu_assert_contains(f->err.msg, "guest.vcpus: 1025 is out of range [1, 1024]");
	assert_int_equal(config_set(sc, "guest.mem=16M", &f->err), 0);
	assert_int_not_equal(config_set(sc, "guest.mem=0xfff000", &f->err), 0);
	assert_int_equal(config_set(sc, "guest.thp_fraction=0", &f->err), 0);
	assert_int_equal(config_set(sc, "guest.thp_fraction=1", &f->err), 0);
	assert_int_not_equal(config_set(sc, "guest.thp_fraction=1.0000001", &f->err), 0);
	assert_int_equal(config_set(sc, "guest.vcpus=16", &f->err), 0);
	assert_int_equal(sc->vcpus, 16);
	assert_int_equal(config_set(sc, " cpu.freq_mhz = 3000 ", &f->err), 0);
	assert_true(sc->freq_mhz == 3000.0);
	assert_int_equal(config_set(sc, "workload.duration_ms=2.5", &f->err), 0);
	assert_true(sc->duration_ms == 2.5);
	assert_int_equal(config_set(sc, "output.series=false", &f->err), 0);
	assert_false(sc->series);
	assert_int_equal(config_set(sc, "host.preempt=none", &f->err), 0);
	assert_int_equal(sc->preempt, PREEMPT_NONE);
	assert_int_equal(config_set(sc, "memslot.rom.size=64K", &f->err), 0);
	assert_int_equal(sc->nr_slots, 2);
	assert_string_equal(sc->slots[1].name, "rom");
	assert_int_equal(sc->slots[1].size, 64 << 10);
	assert_int_equal(sc->slots[1].backing, BACKING_4K);   /* memslot defaults */
	assert_true(sc->slots[1].present);
	assert_false(sc->slots[1].readonly);
	assert_int_equal(config_set(sc, "memslot.rom.readonly=on", &f->err), 0);
	assert_int_equal(sc->nr_slots, 2);                    /* same slot */
	assert_true(sc->slots[1].readonly);
	assert_int_equal(config_set(sc, "events.toggle_slot=rom", &f->err), 0);
	assert_string_equal(sc->toggle_slot, "rom");
	assert_int_equal(config_set(sc, "events.toggle_slot=", &f->err), 0);
	assert_string_equal(sc->toggle_slot, "");

	static const struct { const char *a; const char *want1, *want2; } bad[] = {
		{ "guest.vcpus", "--set guest.vcpus", "expected section.key=value" },
		{ "vcpus=4", "--set vcpus=4", "expected section.key=value" },
		{ ".vcpus=4", "--set .vcpus=4", "expected section.key=value" },
		{ "guest.cores=4", "guest.cores", "unknown key" },
		{ "gpu.cores=4", "[gpu]", "unknown section" },
		{ "guest.vcpus=many", "guest.vcpus", "'many' is not a non-negative integer" },
		{ "mmu.zap_all=fast", "mmu.zap_all", "is not one of: legacy fast-flush-at-break fast-v7" },
		{ "memslot.ram.size=4K", "[memslot.ram]", "another name" },
		{ "memslot..size=4K", "[memslot.]", "a memslot needs a name" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&f->err, 0, sizeof(f->err));
		assert_int_equal(config_set(sc, bad[i].a, &f->err), -EINVAL);
		assert_starts_with(f->err.msg, "--set");
		tu_assert_contains(f->err.msg, bad[i].want1);
		tu_assert_contains(f->err.msg, bad[i].want2);
	}
	assert_int_equal(sc->vcpus, 16);   /* failures changed nothing */
	assert_int_equal(sc->zap_all, ZAP_ALL_FAST_V7);
	assert_int_equal(sc->nr_slots, 2);

	/* CONFIG_MAX_MEMSLOTS slots in all, "ram" included */
	char a[64];
	for (int i = 2; i < CONFIG_MAX_MEMSLOTS; i++) {
		snprintf(a, sizeof(a), "memslot.s%d.size=4K", i);
		assert_int_equal(config_set(sc, a, &f->err), 0);
	}
	assert_int_equal(sc->nr_slots, CONFIG_MAX_MEMSLOTS);
	assert_int_equal(config_set(sc, "memslot.onemore.size=4K", &f->err), -EINVAL);
	tu_assert_contains(f->err.msg, "more than 16 memslots");
	assert_int_equal(sc->nr_slots, CONFIG_MAX_MEMSLOTS);
}

/* ---- config_validate ------------------------------------------------------------------ */

/* Defaults plus the assignments, then config_validate; returns its result. */
static int validate_with(struct fx *f, const char *const *sets, size_t n)
{
	config_defaults(&f->sc);
	for (size_t i = 0; i < n; i++) {
		if (config_set(&f->sc, sets[i], &f->err))
			fail_msg("config_set(%s): %s", sets[i], f->err.msg);
	}
	memset(&f->err, 0, sizeof(f->err));
	return config_validate(&f->sc, &f->err);
}
#define VALIDATE(f, ...) \
	validate_with(f, (const char *const[]){ __VA_ARGS__ }, \
		      sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

/* config_toggle_times(), hand-checked: periodic toggles as before; pairs held hold_ms apart
 * (a ROM read); jittered periods within [p(1-j), p(1+j)], different from each other and
 * from seed to seed, the same for the same seed. */
static void test_toggle_times(void **state)
{
	struct fx *f = *state;
	double ms[40], again[40], other[40];

	assert_int_equal(VALIDATE(f, "events.toggle_start_ms=300", "events.toggle_period_ms=50", "events.toggle_count=4"), 0);
	config_toggle_times(&f->sc, ms);
	assert_true(fabs((ms[0]) - (300)) <= 0), assert_true(fabs((ms[1]) - (350)) <= 0);
	assert_true(fabs((ms[2]) - (400)) <= 0), assert_true(fabs((ms[3]) - (450)) <= 0);

	assert_int_equal(VALIDATE(f, "events.toggle_start_ms=300", "events.toggle_period_ms=100", "events.toggle_count=5",
				  "events.toggle_hold_ms=0.5"), 0);
	config_toggle_times(&f->sc, ms);
	const double want[] = { 300, 300.5, 400, 400.5, 500 };
	for (int i = 0; i < 5; i++)
		assert_true(fabs((ms[i]) - (want[i])) <= 1e-9);

	assert_int_equal(VALIDATE(f, "events.toggle_start_ms=300", "events.toggle_period_ms=100", "events.toggle_count=40",
				  "events.toggle_hold_ms=0.5", "events.toggle_jitter=0.3"), 0);
	config_toggle_times(&f->sc, ms);
	config_toggle_times(&f->sc, again);
	f->sc.seed = 2;
	config_toggle_times(&f->sc, other);
	assert_true(fabs((ms[0]) - (300)) <= 0);
	double lo = 1e9, hi = 0;
	int differ = 0;
	for (int i = 0; i < 40; i++) {
		assert_true(fabs((ms[i]) - (again[i])) <= 0);
		differ += ms[i] != other[i];
		if (i % 2) {
			assert_true(fabs((ms[i] - ms[i - 1]) - (0.5)) <= 1e-9);
			continue;
		}
		if (!i)
			continue;
		double d = ms[i] - ms[i - 2];
		assert_true(d >= 70 - 1e-9 && d <= 130 + 1e-9);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	assert_true(differ >= 38);        /* all but the first pair move with the seed */
	assert_true(hi - lo > 30);        /* 19 uniform draws spread over most of [70, 130] */
}

static void test_validate(void **state)
{
	struct fx *f = *state;

	/* overlap with RAM, then between two extra slots; adjacent slots are fine */
	assert_int_equal(VALIDATE(f, "memslot.rom.base=0x3ff00000", "memslot.rom.size=2M"), -EINVAL);
	assert_string_equal(f->err.msg, "(defaults): memslots ram and rom overlap");
	assert_int_equal(VALIDATE(f, "memslot.rom.base=1G", "memslot.rom.size=2M"), 0);
	assert_int_equal(VALIDATE(f, "memslot.a.base=4G", "memslot.a.size=1M", "memslot.b.base=0x100080000",
				  "memslot.b.size=1M"), -EINVAL);
	tu_assert_contains(f->err.msg, "memslots a and b overlap");
	assert_int_equal(VALIDATE(f, "memslot.a.base=4G", "memslot.a.size=1M", "memslot.b.base=0x100100000",
				  "memslot.b.size=1M"), 0);
	/* a guest.mem above 3G puts RAM (slot ram-high) at 4G, on the slot */
	assert_int_equal(VALIDATE(f, "guest.mem=5G", "memslot.a.base=4G", "memslot.a.size=1M"), -EINVAL);
	tu_assert_contains(f->err.msg, "memslots ram-high and a overlap");

	/* alignment and size */
	assert_int_equal(VALIDATE(f, "memslot.rom.base=0x100000800", "memslot.rom.size=4K"), -EINVAL);
	assert_string_equal(f->err.msg, "(defaults): [memslot.rom]: base and size must be 4K aligned and size > 0");
	assert_int_equal(VALIDATE(f, "memslot.rom.base=4G", "memslot.rom.size=0x1800"), -EINVAL);
	tu_assert_contains(f->err.msg, "[memslot.rom]: base and size must be 4K aligned");
	assert_int_equal(VALIDATE(f, "memslot.rom.base=4G"), -EINVAL);   /* size 0 */
	tu_assert_contains(f->err.msg, "size > 0");

	/* toggle_slot */
	assert_int_equal(VALIDATE(f, "events.toggle_slot=nosuch"), -EINVAL);
	assert_string_equal(f->err.msg, "(defaults): events.toggle_slot: no memslot named 'nosuch'");
	assert_int_equal(VALIDATE(f, "events.toggle_slot=ram"), -EINVAL);
	tu_assert_contains(f->err.msg, "the RAM slot cannot be toggled");
	assert_int_equal(VALIDATE(f, "memslot.rom.base=4G", "memslot.rom.size=4K", "events.toggle_slot=rom"), 0);
	/* a ROM read's unmap must come before the next read's map */
	assert_int_equal(VALIDATE(f, "events.toggle_period_ms=10", "events.toggle_jitter=0.5", "events.toggle_hold_ms=5"),
			 -EINVAL);
	tu_assert_contains(f->err.msg, "events.toggle_hold_ms (5) must be shorter than the shortest period");
	assert_int_equal(VALIDATE(f, "events.toggle_period_ms=10", "events.toggle_jitter=0.5", "events.toggle_hold_ms=4.9"), 0);

	/* kernel_mem against mem */
	assert_int_equal(VALIDATE(f, "guest.mem=256M", "guest.kernel_mem=256M"), -EINVAL);
	assert_string_equal(f->err.msg,
			    "(defaults): guest.kernel_mem (268435456) must be below guest.mem (268435456)");
	assert_int_equal(VALIDATE(f, "guest.mem=256M", "guest.kernel_mem=512M"), -EINVAL);
	tu_assert_contains(f->err.msg, "must be below guest.mem");
	assert_int_equal(VALIDATE(f, "guest.mem=64M", "guest.kernel_mem=48M", "guest.vcpus=8"), -EINVAL);
	tu_assert_contains(f->err.msg, "under 4 MiB of process memory per vCPU");
	assert_int_equal(VALIDATE(f, "guest.mem=64M", "guest.kernel_mem=32M", "guest.vcpus=8"), 0);   /* exactly 4M */

	/* shares */
	assert_int_equal(VALIDATE(f, "costs.ref_p_l1=0.6", "costs.ref_p_l2=0.3", "costs.ref_p_l3=0.2"), -EINVAL);
	tu_assert_contains(f->err.msg, "costs.ref_p_l1 + ref_p_l2 + ref_p_l3 exceed 1");
	assert_int_equal(VALIDATE(f, "workload.fetch_fraction=0.6", "workload.kernel_fraction=0.5"), -EINVAL);
	tu_assert_contains(f->err.msg, "workload.fetch_fraction + kernel_fraction exceed 1");

	/* after a load, errors name the file */
	const char *path = write_file(f, "overlap.ini", "[memslot.rom]\nbase = 0x1000\nsize = 4K\n");
	config_defaults(&f->sc);
	assert_int_equal(config_load(&f->sc, path, &f->err), 0);
	assert_int_equal(config_validate(&f->sc, &f->err), -EINVAL);
	char want[512];
	snprintf(want, sizeof(want), "%s: memslots ram and rom overlap", path);
	assert_string_equal(f->err.msg, want);
}

/* ---- dump / json / markdown ----------------------------------------------------------- */

static char *capture_dump(const struct scenario *sc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	assert_non_null(m);
	config_dump(sc, m);
	assert_int_equal(fclose(m), 0);
	return buf;
}

static char *capture_markdown(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	assert_non_null(m);
	config_markdown(m);
	assert_int_equal(fclose(m), 0);
	return buf;
}

/* guest.mem above 3 GiB: "ram" covers [0, 3G), "ram-high" the rest from 4 GiB; validating
 * again (or after shrinking guest.mem) keeps exactly the slots that guest.mem asks for;
 * the auto slots are not dumped and cannot be declared. */
static void test_ram_split(void **state)
{
	struct fx *f = *state;
	struct scenario *a = &f->sc;

	config_defaults(a);
	assert_int_equal(config_set(a, "memslot.rom.base=0xfebc0000", &f->err), 0);
	assert_int_equal(config_set(a, "memslot.rom.size=256K", &f->err), 0);
	assert_int_equal(config_set(a, "guest.mem=1T", &f->err), 0);
	assert_int_equal(config_validate(a, &f->err), 0);
	assert_int_equal(config_validate(a, &f->err), 0);   /* idempotent */
	assert_int_equal(a->nr_slots, 3);
	assert_int_equal(config_nr_ram_slots(a), 2);
	assert_string_equal(a->slots[0].name, "ram");
	assert_int_equal(a->slots[0].base, 0);
	assert_int_equal(a->slots[0].size, 3ULL << 30);
	assert_string_equal(a->slots[1].name, "ram-high");
	assert_int_equal(a->slots[1].base, 4ULL << 30);
	assert_int_equal(a->slots[1].size, (1ULL << 40) - (3ULL << 30));
	assert_string_equal(a->slots[2].name, "rom");
	assert_int_equal(config_slot_index(a, "rom"), 2);

	char *txt = capture_dump(a);
	tu_assert_contains(txt, "[memslot.rom]\n");
	assert_null(strstr(txt, "ram-high"));
	free(txt);

	/* kernel_mem must fit below the hole */
	assert_int_equal(config_set(a, "guest.kernel_mem=3584M", &f->err), 0);
	assert_int_equal(config_validate(a, &f->err), -EINVAL);
	tu_assert_contains(f->err.msg, "below the PCI hole");
	assert_int_equal(config_set(a, "guest.kernel_mem=256M", &f->err), 0);

	/* back to 3 GiB: one RAM slot, the others kept in order */
	assert_int_equal(config_set(a, "guest.mem=3G", &f->err), 0);
	assert_int_equal(config_validate(a, &f->err), 0);
	assert_int_equal(a->nr_slots, 2);
	assert_int_equal(config_nr_ram_slots(a), 1);
	assert_int_equal(a->slots[0].size, 3ULL << 30);
	assert_string_equal(a->slots[1].name, "rom");

	assert_int_equal(config_set(a, "memslot.ram-high.size=4K", &f->err), -EINVAL);
	tu_assert_contains(f->err.msg, "made by guest.mem");
}

static void test_dump_roundtrip(void **state)
{
	struct fx *f = *state;
	struct scenario *a = &f->sc, *b = &f->sc2;

	config_defaults(a);
	assert_int_equal(config_load(a, write_file(f, "rt-in.ini", good_ini), &f->err), 0);
	/* doubles that need many digits, a size that is neither G nor M, a second slot */
	static const char *const sets[] = {
		"cpu.cpi=0.1234567890123", "workload.reuse_skew=3.3", "workload.insns_per_access=41.000000000000007",
		"host.bg_wakeup_hz=1e-3", "guest.kernel_mem=0x10001000", "memslot.bios.base=0xfffc0000",
		"memslot.bios.size=256K", "memslot.bios.backing=hugetlb-1g", "memslot.bios.thp_fraction=0.1",
		"events.toggle_slot=bios", "guest.kernel_page_size=4k", "guest.paging=none",
		"run.seed=7",
	};
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		assert_int_equal(config_set(a, sets[i], &f->err), 0);
	assert_int_equal(config_validate(a, &f->err), 0);

	char *txt = capture_dump(a);
	tu_assert_contains(txt, "[memslot.rom]\n");
	tu_assert_contains(txt, "[memslot.bios]\n");
	tu_assert_contains(txt, "kernel_mem = 0x10001000\n");
	tu_assert_contains(txt, "\nmem = 2G\n");
	tu_assert_contains(txt, "reuse_skew = 3.3\n");   /* shortest form that parses back */
	tu_assert_contains(txt, "[run]\nseed = 7\n");     /* the seed is a key: the dump reproduces it */
	const char *path = write_file(f, "rt-out.ini", txt);

	config_defaults(b);
	memset(&f->err, 0, sizeof(f->err));
	assert_int_equal(config_load(b, path, &f->err), 0);
	assert_int_equal(config_validate(b, &f->err), 0);

	json_t *ja = config_to_json(a), *jb = config_to_json(b);
	if (!json_equal(ja, jb)) {
		char *sa = json_dumps(ja, JSON_SORT_KEYS), *sb = json_dumps(jb, JSON_SORT_KEYS);
		fail_msg("round trip differs:\n%s\n%s", sa, sb);
	}
	/* the comparison is not vacuous: it covers the slots and differs from the defaults */
	assert_int_equal(json_object_size(ja), 12 + 2);
	assert_int_equal(b->seed, 7);
	config_defaults(b);
	json_t *jd = config_to_json(b);
	assert_false(json_equal(ja, jd));
	json_decref(jd);
	json_decref(ja);
	json_decref(jb);

	assert_int_equal(config_load(b, path, &f->err), 0);
	assert_int_equal(b->nr_slots, a->nr_slots);
	for (uint32_t i = 1; i < a->nr_slots; i++) {
		assert_string_equal(b->slots[i].name, a->slots[i].name);
		assert_int_equal(b->slots[i].base, a->slots[i].base);
		assert_int_equal(b->slots[i].size, a->slots[i].size);
		assert_int_equal(b->slots[i].backing, a->slots[i].backing);
		assert_true(b->slots[i].thp_fraction == a->slots[i].thp_fraction);
		assert_int_equal(b->slots[i].readonly, a->slots[i].readonly);
		assert_int_equal(b->slots[i].present, a->slots[i].present);
	}
	assert_true(b->cpi == 0.1234567890123);
	assert_true(b->insns_per_access == 41.000000000000007);
	free(txt);

	/* defaults round-trip too */
	config_defaults(a);
	txt = capture_dump(a);
	path = write_file(f, "rt-defaults.ini", txt);
	config_defaults(b);
	assert_int_equal(config_set(b, "guest.vcpus=7", &f->err), 0);   /* overwritten by the file */
	assert_int_equal(config_load(b, path, &f->err), 0);
	ja = config_to_json(a);
	jb = config_to_json(b);
	assert_true(json_equal(ja, jb));
	json_decref(ja);
	json_decref(jb);
	free(txt);
}

/* The hash is a function of the effective config (and the seed) only: a config loaded back
 * from its own dump hashes the same; any key, a memslot key or the seed changes it. */
static void test_hash(void **state)
{
	struct fx *f = *state;
	struct scenario *a = &f->sc, *b = &f->sc2;
	char ha[CONFIG_HASH_LEN + 1], hb[CONFIG_HASH_LEN + 1];

	config_defaults(a);
	assert_int_equal(config_load(a, write_file(f, "h-in.ini", good_ini), &f->err), 0);
	assert_int_equal(config_validate(a, &f->err), 0);
	config_hash(a, ha);
	assert_int_equal(strlen(ha), CONFIG_HASH_LEN);
	assert_int_equal(strspn(ha, "0123456789abcdef"), CONFIG_HASH_LEN);

	char *txt = capture_dump(a);
	config_defaults(b);
	assert_int_equal(config_load(b, write_file(f, "h-dump.ini", txt), &f->err), 0);
	assert_int_equal(config_validate(b, &f->err), 0);
	free(txt);
	config_hash(b, hb);
	assert_string_equal(ha, hb);   /* the source file differs; the config does not */

	static const char *const changes[] = { "guest.vcpus=3", "costs.zap_page=301", "memslot.rom.size=512K",
					       "workload.reuse_skew=4.000001" };
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		*b = *a;
		assert_int_equal(config_set(b, changes[i], &f->err), 0);
		config_hash(b, hb);
		if (!strcmp(ha, hb))
			fail_msg("%s does not change the hash", changes[i]);
	}
	*b = *a;
	b->seed = a->seed + 1;
	config_hash(b, hb);
	assert_string_not_equal(ha, hb);
}

struct keyset {
	char k[256][80];
	int n;
};

static bool keyset_has(const struct keyset *s, const char *k)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->k[i], k))
			return true;
	return false;
}

static void keyset_add(struct keyset *s, const char *k)
{
	assert_true(s->n < 256);
	if (keyset_has(s, k))
		fail_msg("key %s listed twice", k);
	snprintf(s->k[s->n++], sizeof(s->k[0]), "%s", k);
}

/* Key lines of a dump as "section.key"; returns their number. */
static int dump_keys(const char *txt, struct keyset *s)
{
	char section[80] = "";
	int n = 0;
	const char *p = txt;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[256];
		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		if (line[0] == '[') {
			snprintf(section, sizeof(section), "%.*s", (int)(strlen(line) - 2), line + 1);
		} else {
			char *eq = strstr(line, " = ");
			if (eq) {
				char full[200];
				*eq = '\0';
				snprintf(full, sizeof(full), "%s.%s", section, line);
				if (s)
					keyset_add(s, full);
				n++;
			}
		}
		p += len + (nl ? 1 : 0);
	}
	return n;
}

static void test_markdown(void **state)
{
	struct fx *f = *state;
	static struct keyset md, dump;
	char *txt = capture_markdown();

	md.n = dump.n = 0;
	assert_starts_with(txt, "| key | type | default | range | meaning |\n|---|---|---|---|---|\n");
	/* rows: "| `section.key` | ..." */
	int rows = 0, slot_rows = 0, validate_rows = 0;
	for (const char *p = txt; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, "| `", 3))
			continue;
		const char *q = strchr(p + 3, '`');
		assert_non_null(q);
		char k[80];
		snprintf(k, sizeof(k), "%.*s", (int)(q - p - 3), p + 3);
		keyset_add(&md, k);
		rows++;
		slot_rows += !strncmp(k, "memslot.NAME.", 13);
		validate_rows += !strncmp(k, "validate.", 9);
	}
	assert_int_equal(rows, md.n);
	assert_int_equal(slot_rows, 6);   /* base size backing thp_fraction readonly present */
	/* source commit quote published stat reduce unit band_lo band_hi unreachable: in the
	 * table, never in the dump ([validate] describes a comparison, not the run) */
	assert_int_equal(validate_rows, 10);
	tu_assert_contains(txt, "| `guest.page_size` | enum | `4k` | 4k, 2m |");
	tu_assert_contains(txt, "| `mmu.zap_all` | enum | `fast-v7` | legacy, fast-flush-at-break, fast-v7 |");
	tu_assert_contains(txt, "| `guest.vcpus` | u32 | `4` | 1 – 1024 |");
	tu_assert_contains(txt, "| `events.toggle_slot` | string | `\"\"` |");

	/* Defaults dump: every non-memslot key once. */
	config_defaults(&f->sc);
	char *d = capture_dump(&f->sc);
	assert_int_equal(dump_keys(d, NULL) + slot_rows + validate_rows, rows);
	free(d);

	/* With a slot named NAME the dump lists exactly the table's keys but [validate]'s, even
	 * when they are set. */
	assert_int_equal(config_set(&f->sc, "memslot.NAME.size=4K", &f->err), 0);
	assert_int_equal(config_set(&f->sc, "validate.source=T (A, 2013)", &f->err), 0);
	d = capture_dump(&f->sc);
	assert_null(strstr(d, "[validate]"));
	assert_int_equal(dump_keys(d, &dump), rows - validate_rows);
	for (int i = 0; i < dump.n; i++)
		if (!keyset_has(&md, dump.k[i]))
			fail_msg("%s is dumped but not in the Markdown table", dump.k[i]);
	free(d);
	free(txt);
}

static void test_enum_name(void **state)
{
	(void)state;
	assert_string_equal(config_enum_name("mmu", "zap_all", ZAP_ALL_FAST_V7), "fast-v7");
	assert_string_equal(config_enum_name("mmu", "zap_all", ZAP_ALL_LEGACY), "legacy");
	assert_string_equal(config_enum_name("host", "preempt", PREEMPT_FULL), "full");
	assert_string_equal(config_enum_name("memslot.rom", "backing", BACKING_THP), "thp");
	assert_string_equal(config_enum_name("mmu", "zap_all", 3), "?");
	assert_string_equal(config_enum_name("mmu", "zap_all", -1), "?");
	assert_string_equal(config_enum_name("guest", "vcpus", 0), "?");
	assert_string_equal(config_enum_name("guest", "nokey", 0), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tlb_preset, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_load_good, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_load_indented, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_sizes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_err_unknown_key, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_err_unknown_section, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_err_duplicate_key, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_err_bad_integer, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_err_negative_size, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_err_out_of_range, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_err_gpa_space, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_err_bad_enum, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_err_bad_bool, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_err_other_values, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_err_syntax, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_err_first_wins, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_err_directory_and_missing, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_err_bad_lines, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_numbers, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tlb_geometry, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_set_long_values, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_set_what_a_file_holds, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_set, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_validate, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_toggle_times, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dump_roundtrip, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ram_split, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hash, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_markdown, fx_setup, fx_teardown),
		cmocka_unit_test(test_enum_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
