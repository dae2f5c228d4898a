/* Replaying traces through the whole simulator: a committed real capture gives the committed
 * stats; loop and stop; one trace per vCPU; a bad trace stops the run with an error naming
 * the record; ELF attribution names the functions the fetches were in. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim/config.h"
#include "sim/sim.h"
#include "sim/stats.h"
#include "traces/trace.h"

#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SAMPLE "traces/samples/ls-l-usr-sbin.trace.gz"
#define EXPECT "results/reference/replay-ls.expect"

static void base_scenario(struct scenario *sc, const char *trace)
{
	struct config_error err;
	char buf[1200];
	config_defaults(sc);
	const char *sets[] = { "guest.vcpus=1", "guest.mem=256M", "guest.kernel_mem=64M", "workload.trace_end=stop",
			       "workload.duration_ms=50" };
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		assert_int_equal(config_set(sc, sets[i], &err), 0);
	snprintf(buf, sizeof(buf), "workload.trace=%s", trace);
	assert_int_equal(config_set(sc, buf, &err), 0);
}

static struct sim *run(const struct scenario *sc, int expect_rc)
{
	char err[512] = "";
	struct sim *s = sim_new(sc, ENGINE_BATCHED, err, sizeof(err));
	if (!s)
		fail_msg("sim_new: %s", err);
	assert_int_equal(sim_run(s), expect_rc);
	return s;
}

static uint64_t stat(struct sim *s, const char *name)
{
	stat_id id = stats_lookup(sim_stats(s), name);
	if (id == STAT_NONE)
		fail_msg("no stat %s", name);
	return stats_counter(sim_stats(s), id);
}

static void test_sample_matches_expectations(void **state)
{
	static struct scenario sc;
	struct config_error e;
	char line[256], name[128];
	unsigned long long want;
	(void)state;

	base_scenario(&sc, SAMPLE);
	assert_int_equal(config_validate(&sc, &e), 0);
	struct sim *s = run(&sc, 0);
	if (getenv("EPTSIM_WRITE_EXPECT")) {
		FILE *in = fopen(EXPECT, "r"), *out = fopen(EXPECT ".new", "w");
		assert_non_null(in);
		assert_non_null(out);
		while (fgets(line, sizeof(line), in)) {
			if (line[0] == '#' || sscanf(line, "%127s %llu", name, &want) != 2)
				fputs(line, out);
			else
				fprintf(out, "%s %llu\n", name, (unsigned long long)stat(s, name));
		}
		fclose(in);
		fclose(out);
		assert_int_equal(rename(EXPECT ".new", EXPECT), 0);
	}
	FILE *f = fopen(EXPECT, "r");
	assert_non_null(f);
	int checked = 0;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || sscanf(line, "%127s %llu", name, &want) != 2)
			continue;
		uint64_t got = stat(s, name);
		if (got != want)
			fail_msg("%s: expected %llu, got %llu", name, want, (unsigned long long)got);
		checked++;
	}
	fclose(f);
	assert_true(checked >= 6);
	/* every distinct 4K page of the capture (traces/samples/README: 301) faults in once */
	assert_int_equal(stat(s, "guest.page_faults"), 301);
	sim_free(s);
}

static void test_loop_and_stop(void **state)
{
	static struct scenario sc;
	struct config_error e;
	(void)state;

	base_scenario(&sc, SAMPLE);
	assert_int_equal(config_validate(&sc, &e), 0);
	struct sim *s = run(&sc, 0);
	uint64_t once = stat(s, "vcpu.records");
	assert_int_equal(once, 2797403);
	assert_true(stat(s, "vcpu.0.cycles.idle") > 0);   /* halted after its trace */
	sim_free(s);

	assert_int_equal(config_set(&sc, "workload.trace_end=loop", &e), 0);
	assert_int_equal(config_set(&sc, "workload.duration_ms=150", &e), 0);
	s = run(&sc, 0);
	assert_true(stat(s, "vcpu.records") > once);       /* went round again */
	assert_int_equal(stat(s, "vcpu.0.cycles.idle"), 0);
	/* the second pass finds its pages mapped: no more guest faults than distinct pages */
	assert_int_equal(stat(s, "guest.page_faults"), 301);
	sim_free(s);
}

static void test_one_trace_per_vcpu(void **state)
{
	static struct scenario sc;
	struct config_error e;
	(void)state;

	base_scenario(&sc, SAMPLE ",traces/samples/sort-licenses.trace.gz");
	assert_int_equal(config_set(&sc, "guest.vcpus=2", &e), 0);
	assert_int_equal(config_validate(&sc, &e), 0);
	struct sim *s = run(&sc, 0);
	assert_int_equal(stat(s, "vcpu.0.records"), 2797403);
	assert_int_equal(stat(s, "vcpu.1.records"), 2209096);
	sim_free(s);

	/* fewer traces than vCPUs is an error at set-up */
	assert_int_equal(config_set(&sc, "guest.vcpus=3", &e), 0);
	assert_int_equal(config_validate(&sc, &e), 0);
	char err[512] = "";
	assert_null(sim_new(&sc, ENGINE_BATCHED, err, sizeof(err)));
	assert_non_null(strstr(err, "fewer traces"));
}

static void test_bad_trace_stops_the_run(void **state)
{
	static struct scenario sc;
	struct config_error e;
	char dir[] = "/tmp/eptsim-replay-XXXXXX", path[600], cmd[700];
	(void)state;

	assert_non_null(mkdtemp(dir));
	/* the sample cut short: the gzip stream ends inside the data */
	snprintf(path, sizeof(path), "%s/cut.trace.gz", dir);
	snprintf(cmd, sizeof(cmd), "head -c 300000 %s > %s", SAMPLE, path);
	assert_int_equal(system(cmd), 0);
	base_scenario(&sc, path);
	assert_int_equal(config_validate(&sc, &e), 0);
	struct sim *s = run(&sc, -EINVAL);
	assert_non_null(strstr(sim_error(s), path));
	assert_non_null(strstr(sim_error(s), "record"));
	sim_free(s);

	/* a GPA trace on a guest that pages is refused at set-up */
	snprintf(path, sizeof(path), "%s/gpa.trace.gz", dir);
	struct trace_header h = { .version = TRACE_VERSION, .nr_vcpus = 1, .addr_kind = TRACE_ADDR_GPA,
				  .paging = TRACE_PAGING_NONE };
	struct trace_writer *w;
	struct trace_error te;
	assert_int_equal(trace_create(path, &h, &w, &te), 0);
	struct trace_record r = { .kind = REC_READ, .size = 8, .addr = 0x1000, .icount = 3 };
	assert_int_equal(trace_write(w, &r, &te), 0);
	assert_int_equal(trace_finish(w, &te), 0);
	base_scenario(&sc, path);
	assert_int_equal(config_validate(&sc, &e), 0);
	char err[512] = "";
	assert_null(sim_new(&sc, ENGINE_BATCHED, err, sizeof(err)));
	if (!strstr(err, "guest.paging must be none"))
		fail_msg("unexpected error: %s", err);
	/* ... and runs with guest.paging = none */
	assert_int_equal(config_set(&sc, "guest.paging=none", &e), 0);
	s = run(&sc, 0);
	assert_int_equal(stat(s, "vcpu.records"), 1);
	assert_int_equal(stat(s, "ept.faults"), 1);
	sim_free(s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* Write a trace of n records to path. */
static void write_trace(const char *path, int addr_kind, unsigned nr_vcpus, const struct trace_record *recs, size_t n)
{
	struct trace_header h = { .version = TRACE_VERSION, .nr_vcpus = nr_vcpus, .addr_kind = addr_kind,
				  .paging = addr_kind == TRACE_ADDR_GPA ? TRACE_PAGING_NONE : TRACE_PAGING_4LEVEL };
	struct trace_writer *w;
	struct trace_error te;
	assert_int_equal(trace_create(path, &h, &w, &te), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(trace_write(w, &recs[i], &te), 0);
	assert_int_equal(trace_finish(w, &te), 0);
}

static void expect_error(const struct scenario *sc, const char *want)
{
	struct sim *s = run(sc, -EINVAL);
	if (!strstr(sim_error(s), want))
		fail_msg("\"%s\" does not contain \"%s\"", sim_error(s), want);
	sim_free(s);
}

/* Addresses no guest can have, and records of vCPUs the guest lacks, stop the run with the
 * record number (README, "Which addresses a replayed trace may have"); MMIO below the top
 * of the guest-physical space and any user GVA are fine. */
static void test_addresses_beyond_the_guest(void **state)
{
	static struct scenario sc;
	struct config_error e;
	char dir[] = "/tmp/eptsim-replay-XXXXXX", path[600], cmd[700];
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.gz", dir);
	/* GPA: RAM, then MMIO in the PCI hole (legal), then beyond every slot and the I/O window */
	struct trace_record gpa[] = {
		{ .kind = REC_READ, .size = 8, .addr = 0x1000, .icount = 1 },
		{ .kind = REC_READ, .size = 4, .addr = 0xfe001000, .icount = 1 },
		{ .kind = REC_WRITE, .size = 8, .addr = 0xfffffffff8ULL, .icount = 1 },
	};
	write_trace(path, TRACE_ADDR_GPA, 1, gpa, 3);
	base_scenario(&sc, path);
	assert_int_equal(config_set(&sc, "guest.paging=none", &e), 0);
	assert_int_equal(config_validate(&sc, &e), 0);
	expect_error(&sc, "t.gz: record 3: GPA 0xfffffffff8 (size 8) is beyond the guest");
	/* the same two first records alone run */
	write_trace(path, TRACE_ADDR_GPA, 1, gpa, 2);
	struct sim *s = run(&sc, 0);
	assert_int_equal(stat(s, "vcpu.records"), 2);
	sim_free(s);

	/* GVA: a user address anywhere below 2^47 is legal; a non-canonical one is not */
	struct trace_record gva[] = {
		{ .kind = REC_READ, .size = 8, .addr = 0x7ffffffff000ULL, .icount = 1 },
		{ .kind = REC_READ, .size = 8, .addr = 0x800000000000ULL, .icount = 1 },
	};
	write_trace(path, TRACE_ADDR_GVA, 1, gva, 2);
	base_scenario(&sc, path);
	assert_int_equal(config_validate(&sc, &e), 0);
	expect_error(&sc, "t.gz: record 2: GVA 0x800000000000 (size 8) is neither a user address");

	/* a record of vCPU 2 in a 3-vCPU trace replayed by a 2-vCPU guest */
	struct trace_record v[] = {
		{ .kind = REC_READ, .size = 8, .addr = 0x1000, .icount = 1, .vcpu = 0 },
		{ .kind = REC_READ, .size = 8, .addr = 0x2000, .icount = 1, .vcpu = 1 },
		{ .kind = REC_READ, .size = 8, .addr = 0x3000, .icount = 1, .vcpu = 2 },
	};
	write_trace(path, TRACE_ADDR_GVA, 3, v, 3);
	base_scenario(&sc, path);
	assert_int_equal(config_set(&sc, "guest.vcpus=2", &e), 0);
	assert_int_equal(config_validate(&sc, &e), 0);
	expect_error(&sc, "t.gz: record 3: vCPU 2 does not exist (guest.vcpus = 2)");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

struct want { const char *stat; uint64_t v; };

static void expect_stats(struct sim *s, const struct want *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (stat(s, w[i].stat) != w[i].v)
			fail_msg("%s = %llu, want %llu", w[i].stat, (unsigned long long)stat(s, w[i].stat),
				 (unsigned long long)w[i].v);
}

/* Six records on a GPA trace, counted by hand (README, Stats: the TLB's counters).  With 4K
 * EPT mappings each first touch of a page is a miss, an EPT violation exit, and a retried
 * look-up that misses again (a retry miss, not a new one); a record that crosses a 4K boundary
 * translates both pages, and after an exit on its second page executes again from its first
 * (a hit).  Look-ups, pages: R1 W 0x100000: #1 miss, exit, #2 retry miss, walk; R2 R
 * 0x100010: #3 L1D hit; R3 W 0x100ffc+8: #4 hit, #5 miss (0x101), exit, #6 hit, #7 retry
 * miss; R4 F 0x100000: #8 L1I miss, STLB hit; R5 R 0x101ff8+16: #9 hit, #10 miss (0x102),
 * exit, #11 hit, #12 retry miss; R6 F 0x100ffe+4: #13 L1I hit, #14 STLB hit (0x101).  With
 * THP the three pages are one 2M page: R1's two misses, then hits (R4 an STLB hit). */
static void test_tlb_counts_tiny_trace(void **state)
{
	static struct scenario sc;
	struct config_error e;
	char dir[] = "/tmp/eptsim-replay-XXXXXX", path[600], cmd[700];
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.gz", dir);
	struct trace_record recs[] = {
		{ .kind = REC_WRITE, .size = 8, .addr = 0x100000, .icount = 1 },
		{ .kind = REC_READ, .size = 8, .addr = 0x100010, .icount = 1 },
		{ .kind = REC_WRITE, .size = 8, .addr = 0x100ffc, .icount = 1 },
		{ .kind = REC_FETCH, .size = 4, .addr = 0x100000, .icount = 1 },
		{ .kind = REC_READ, .size = 16, .addr = 0x101ff8, .icount = 1 },
		{ .kind = REC_FETCH, .size = 4, .addr = 0x100ffe, .icount = 1 },
	};
	write_trace(path, TRACE_ADDR_GPA, 1, recs, sizeof(recs) / sizeof(recs[0]));
	base_scenario(&sc, path);
	assert_int_equal(config_set(&sc, "guest.paging=none", &e), 0);
	assert_int_equal(config_set(&sc, "guest.backing=4k", &e), 0);
	assert_int_equal(config_validate(&sc, &e), 0);
	struct sim *s = run(&sc, 0);
	const struct want k4[] = {
		{ "vcpu.records", 6 }, { "ept.faults", 3 }, { "tlb.lookups", 14 }, { "tlb.misses", 6 },
		{ "tlb.retry_misses", 3 }, { "tlb.first_misses", 3 },
		{ "tlb.l1d.hits.4k", 5 }, { "tlb.l1d.hits.2m", 0 }, { "tlb.l1d.misses", 6 },
		{ "tlb.l1i.hits.4k", 1 }, { "tlb.l1i.misses", 2 },
		{ "tlb.stlb.data.hits.4k", 0 }, { "tlb.stlb.data.misses", 6 }, { "tlb.stlb.data.walks.4k", 3 },
		{ "tlb.stlb.insn.hits.4k", 2 }, { "tlb.stlb.insn.misses", 0 }, { "tlb.stlb.insn.walks.4k", 0 },
	};
	expect_stats(s, k4, sizeof(k4) / sizeof(k4[0]));
	sim_free(s);

	assert_int_equal(config_set(&sc, "guest.backing=thp", &e), 0);
	assert_int_equal(config_validate(&sc, &e), 0);
	s = run(&sc, 0);
	const struct want m2[] = {
		{ "vcpu.records", 6 }, { "ept.faults", 1 }, { "tlb.lookups", 10 }, { "tlb.misses", 2 },
		{ "tlb.retry_misses", 1 }, { "tlb.first_misses", 1 },
		{ "tlb.l1d.hits.2m", 5 }, { "tlb.l1d.hits.4k", 0 }, { "tlb.l1d.misses", 2 },
		{ "tlb.l1i.hits.2m", 2 }, { "tlb.l1i.misses", 1 }, { "tlb.stlb.insn.hits.2m", 1 },
		{ "tlb.stlb.data.walks.2m", 1 }, { "tlb.stlb.data.walks.4k", 0 },
	};
	expect_stats(s, m2, sizeof(m2) / sizeof(m2[0]));
	sim_free(s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* Two functions whose addresses the trace below fetches from. */
__attribute__((noinline)) int replay_alpha(int x);
__attribute__((noinline)) int replay_beta(int x);
__attribute__((noinline)) int replay_alpha(int x) { return x * 3 + 1; }
__attribute__((noinline)) int replay_beta(int x) { return x * 5 + 2; }

static int find_bias(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	if (info->dlpi_name[0] == '\0') {   /* the executable itself */
		*(uint64_t *)data = info->dlpi_addr;
		return 1;
	}
	return 0;
}

static void test_elf_attribution(void **state)
{
	static struct scenario sc;
	struct config_error e;
	char dir[] = "/tmp/eptsim-attr-XXXXXX", path[600], buf[1300], exe[512], cmd[700];
	uint64_t bias = 0;
	(void)state;

	assert_non_null(mkdtemp(dir));
	dl_iterate_phdr(find_bias, &bias);
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	/* a trace whose fetches are in replay_alpha (3 records) and replay_beta (1), each
	 * followed by a read of a fresh page; the addresses are the functions' runtime
	 * addresses, which elf = EXE@bias maps back to their symbols */
	snprintf(path, sizeof(path), "%s/attr.trace.gz", dir);
	struct trace_header h = { .version = TRACE_VERSION, .nr_vcpus = 1, .addr_kind = TRACE_ADDR_GVA,
				  .paging = TRACE_PAGING_4LEVEL };
	struct trace_writer *w;
	struct trace_error te;
	assert_int_equal(trace_create(path, &h, &w, &te), 0);
	uint64_t fa = (uint64_t)(uintptr_t)&replay_alpha, fb = (uint64_t)(uintptr_t)&replay_beta;
	uint64_t fetch[] = { fa, fa + 1, fa + 2, fb };
	for (int i = 0; i < 4; i++) {
		struct trace_record f = { .kind = REC_FETCH, .size = 1, .addr = fetch[i], .icount = 1 };
		struct trace_record d = { .kind = REC_READ, .size = 8, .addr = 0x10000000ULL + (uint64_t)i * 4096 };
		assert_int_equal(trace_write(w, &f, &te), 0);
		assert_int_equal(trace_write(w, &d, &te), 0);
	}
	assert_int_equal(trace_finish(w, &te), 0);
	base_scenario(&sc, path);
	snprintf(buf, sizeof(buf), "workload.elf=%s@0x%llx", exe, (unsigned long long)bias);
	assert_int_equal(config_set(&sc, buf, &e), 0);
	assert_int_equal(config_validate(&sc, &e), 0);
	struct sim *s = run(&sc, 0);
	json_t *doc = sim_results_json(s);
	json_t *at = json_object_get(doc, "attribution");
	assert_non_null(at);
	assert_true(json_is_true(json_object_get(at, "symbols")));
	json_t *fns = json_object_get(at, "functions"), *fn;
	size_t i;
	uint64_t alpha = 0, beta = 0, alpha_faults = 0;
	json_array_foreach(fns, i, fn) {
		const char *sym = json_string_value(json_object_get(fn, "symbol"));
		uint64_t recs = (uint64_t)json_integer_value(json_object_get(fn, "records"));
		if (!strcmp(sym, "replay_alpha")) {
			alpha = recs;
			alpha_faults = (uint64_t)json_integer_value(json_object_get(fn, "ept_faults"));
		}
		if (!strcmp(sym, "replay_beta"))
			beta = recs;
	}
	assert_int_equal(alpha, 6);   /* 3 fetches + the 3 reads that follow them */
	assert_int_equal(beta, 2);
	assert_true(alpha_faults > 0);   /* its fresh pages faulted in EPT */
	json_decref(doc);
	sim_free(s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample_matches_expectations),
		cmocka_unit_test(test_loop_and_stop),
		cmocka_unit_test(test_one_trace_per_vcpu),
		cmocka_unit_test(test_bad_trace_stops_the_run),
		cmocka_unit_test(test_addresses_beyond_the_guest),
		cmocka_unit_test(test_tlb_counts_tiny_trace),
		cmocka_unit_test(test_elf_attribution),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
