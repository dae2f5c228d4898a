/* Random valid scenarios (issue 12, item 17): a seeded generator draws a whole scenario (vCPU
 * counts, guest sizes, host backings, guest paging, every mmu.* variant, host preemption and
 * background wake-ups, memslot toggles and dirty logging from [events], a synthetic workload
 * or a generated trace with memslot create/delete/move/flags, dirty-log and unmap records,
 * idle vCPUs with huge insns_per_access, prefault, a few simulated milliseconds) as an INI
 * file (plus its trace), loads it through config_load() + config_validate() exactly as
 * `eptsim run` does, and runs it in a forked child (a crash, an assert, a sanitizer report,
 * an MMU invariant failure or a run error fails only that scenario).  This binary is linked
 * with the library built with -DEPTSIM_CHECK_INVARIANTS (Makefile: $(B)/inv/libeptsim.a),
 * so the invariants are checked in every build it runs in, ASan+UBSan's included.
 *
 * A failure prints `scenario SEED: ... eptsim run DIR/scen-SEED.ini --seed SEED` and keeps
 * the INI, its trace and the child's stderr (DIR/scen-SEED.log).
 *
 * Environment:
 *   EPTSIM_SCEN_N        scenarios to run (default 200)
 *   EPTSIM_SCEN_SEED     first seed (default 1; seeds are SEED, SEED+1, ...); "random": from
 *                        the clock and the PID (printed)
 *   EPTSIM_SCEN_SECONDS  campaign: run scenarios until this much wall time has passed
 *                        (EPTSIM_SCEN_N is then ignored)
 *   EPTSIM_SCEN_JOBS     scenarios run at a time (default 1)
 *   EPTSIM_SCEN_DIR      where scenarios are written (default: a new /tmp/eptsim-scen-XXXXXX;
 *                        removed at the end when nothing failed)
 *   EPTSIM_SCEN_TIMEOUT  seconds a scenario may take before it counts as hung (default 300)
 *   EPTSIM_SCEN_ONLY     run just this seed and show its output (replay)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cpu/guest.h"
#include "sim/config.h"
#include "sim/rng.h"
#include "sim/sim.h"
#include "traces/trace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MB ((uint64_t)1 << 20)
#define SCEN_DEFAULT_N 200
/* Total records the vCPUs are meant to execute, roughly: bounds a scenario's run time. */
#define SCEN_RECORD_BUDGET 1e6

/* ------------------------------------------------------------------ drawing */

static double uni(struct rng *r, double lo, double hi) { return lo + (hi - lo) * rng_double(r); }
static double logu(struct rng *r, double lo, double hi) { return exp(uni(r, log(lo), log(hi))); }
static bool chance(struct rng *r, double p) { return rng_double(r) < p; }
static uint64_t between(struct rng *r, uint64_t lo, uint64_t hi) { return lo + rng_below(r, hi - lo + 1); }
#define PICK(r, arr) ((arr)[rng_below((r), sizeof(arr) / sizeof((arr)[0]))])

/* INI text, section by section. */
static void sec(FILE *f, const char *name) { fprintf(f, "\n[%s]\n", name); }
static void __attribute__((format(printf, 3, 4))) kv(FILE *f, const char *key, const char *fmt, ...)
{
	va_list ap;
	fprintf(f, "%s = ", key);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
}

/* A memslot of the scenario, RAM included (for the trace's records). */
struct slot {
	const char *name;
	uint64_t base, size;
	bool present;
};

struct plan {
	uint32_t vcpus;
	uint64_t mem, kernel_mem, ram_low;
	bool paging;            /* 4-level */
	double ipa;             /* insns_per_access */
	struct slot slots[8];
	unsigned nr_slots;      /* slots[0] "ram", then ram-high if any, then the extra ones */
	unsigned first_extra;
};

/* Where trace MOVE records send a slot: a free stretch far above everything else. */
#define MOVE_AREA 0x2000000000ULL

/* A GVA trace's address for a memory record (records are at most 64 bytes: each range
 * leaves room for one at its end). */
static uint64_t trace_gva(struct rng *r, const struct plan *p, uint8_t *kind)
{
	uint64_t u = rng_below(r, 100);
	if (u < 8) {
		*kind = chance(r, 0.5) ? REC_MMIO_READ : REC_MMIO_WRITE;
		return GUEST_IOREMAP + (rng_below(r, GUEST_IO_SIZE - 64) & ~3ULL);
	}
	if (u < 30)
		return GUEST_DIRECTMAP + (rng_below(r, p->kernel_mem - 64) & ~7ULL);
	if (u < 40)
		return GUEST_USER_TOP - 8 - (rng_below(r, 64 * MB) & ~7ULL);   /* the stack */
	return GUEST_DATA_BASE(1) + (rng_below(r, 32 * MB) & ~7ULL);
}

/* A GPA trace's address: RAM, a slot (present or not: MMIO then), the I/O window. */
static uint64_t trace_gpa(struct rng *r, const struct plan *p, uint8_t *kind)
{
	uint64_t u = rng_below(r, 100);
	if (u < 8) {
		*kind = chance(r, 0.5) ? REC_MMIO_READ : REC_MMIO_WRITE;
		return GUEST_IO_GPA + (rng_below(r, GUEST_IO_SIZE - 64) & ~3ULL);
	}
	const struct slot *s = &p->slots[u < 70 || p->nr_slots == 1 ? 0 : rng_below(r, p->nr_slots)];
	return s->base + (rng_below(r, s->size - 64) & ~7ULL);
}

/* The trace: memory records of every kind over the vCPUs, with memslot create/delete/move/
 * flags, dirty-log enable/get/disable, unmap and marker records among them. */
static int write_trace(struct rng *r, const struct plan *p, const char *path)
{
	struct trace_header h = { .version = TRACE_VERSION, .nr_vcpus = p->vcpus,
				  .addr_kind = p->paging ? TRACE_ADDR_GVA : TRACE_ADDR_GPA,
				  .paging = p->paging ? TRACE_PAGING_4LEVEL : TRACE_PAGING_NONE };
	struct trace_writer *w;
	struct trace_error err;

	snprintf(h.source, sizeof(h.source), "test_scen");
	if (trace_create(path, &h, &w, &err)) {
		fprintf(stderr, "test_scen: %s\n", err.msg);
		return -1;
	}
	uint64_t n = between(r, 50, 2000) * (p->vcpus < 8 ? p->vcpus : 8);
	double control = logu(r, 1e-4, 0.05);
	for (uint64_t i = 0; i < n; i++) {
		struct trace_record rec = { .vcpu = (uint16_t)rng_below(r, p->vcpus) };
		rec.icount = (uint64_t)fmin(rng_exp(r, p->ipa), 1e12);
		if (chance(r, control)) {
			const struct slot *s = &p->slots[chance(r, 0.2) ? 0 : rng_below(r, p->nr_slots)];
			switch (rng_below(r, 4)) {
			case 0:
				rec.kind = REC_MEMSLOT;
				rec.arg = (uint32_t)rng_below(r, 4);
				rec.addr = s->base + rng_below(r, s->size / 4096) * 4096;
				if (rec.arg == MEMSLOT_MOVE)
					rec.len = chance(r, 0.5) ? s->base : MOVE_AREA + rng_below(r, 64) * (256 * MB);
				else if (rec.arg == MEMSLOT_CREATE)
					rec.len = s->size;
				break;
			case 1:
				rec.kind = REC_DIRTY_LOG;
				rec.arg = (uint32_t)rng_below(r, 3);
				rec.addr = s->base + rng_below(r, s->size / 4096) * 4096;
				break;
			case 2:
				if (p->paging) {
					rec.kind = REC_UNMAP;
					rec.addr = GUEST_DATA_BASE(1) + rng_below(r, 8) * 4 * MB;
					rec.len = between(r, 1, 1024) * 4096;
					break;
				}
				/* fall through */
			default:
				rec.kind = REC_MARKER;
				rec.arg = (uint32_t)rng_below(r, 16);
				break;
			}
		} else {
			uint64_t k = rng_below(r, 10);
			rec.kind = k < 5 ? REC_READ : k < 8 ? REC_WRITE : REC_FETCH;
			rec.size = (uint32_t)PICK(r, ((const uint32_t[]){ 1, 2, 4, 8, 8, 8, 16, 64 }));
			rec.addr = p->paging ? trace_gva(r, p, &rec.kind) : trace_gpa(r, p, &rec.kind);
		}
		if (trace_write(w, &rec, &err)) {
			fprintf(stderr, "test_scen: %s\n", err.msg);
			trace_abort(w);
			return -1;
		}
	}
	if (trace_finish(w, &err)) {
		fprintf(stderr, "test_scen: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static const char *const backings[] = { "4k", "thp", "hugetlb-2m", "hugetlb-1g" };

static double frac(struct rng *r)
{
	return chance(r, 0.5) ? PICK(r, ((const double[]){ 0, 0.25, 0.5, 1 })) : uni(r, 0, 1);
}

static void draw_tlb(struct rng *r, FILE *f)
{
	static const char *const structs[] = { "l1d", "l1i", "stlb" };
	static const char *const sizes[] = { "4k", "2m", "1g" };
	char key[64];

	sec(f, "tlb");
	for (unsigned s = 0; s < 3; s++) {
		/* sizes sharing one array (tlb.*_shared, default 4k+2m for the STLB): the keys of
		 * the smallest one give its geometry, the others are left to follow them */
		int shared = chance(r, 0.5) ? (int)rng_below(r, 4) : (s == 2 ? 1 : 0);
		unsigned mask = config_tlb_shared_mask(shared);
		snprintf(key, sizeof(key), "%s_shared", structs[s]);
		kv(f, key, "%s", config_enum_name("tlb", key, shared));
		for (unsigned z = 0; z < 3; z++) {
			if ((mask >> z & 1) && (mask & ((1u << z) - 1)))
				continue;
			uint32_t ways = (uint32_t)PICK(r, ((const uint32_t[]){ 1, 2, 4, 6, 8, 12, 16 }));
			uint32_t sets = 1u << rng_below(r, s == 2 ? 9 : 6);
			snprintf(key, sizeof(key), "%s_%s_entries", structs[s], sizes[z]);
			kv(f, key, "%u", chance(r, 0.1) ? 0 : ways * sets);
			snprintf(key, sizeof(key), "%s_%s_ways", structs[s], sizes[z]);
			kv(f, key, "%u", ways);
		}
	}
	static const char *const pwc[] = { "guest_pwc_pde", "guest_pwc_pdpte", "guest_pwc_pml4e",
					   "ept_pwc_pde", "ept_pwc_pdpte", "ept_pwc_pml4e" };
	for (unsigned i = 0; i < 6; i++)
		kv(f, pwc[i], "%" PRIu64, chance(r, 0.2) ? 0 : between(r, 1, 64));
}

/* walk.refs = cache with small caches of every shape: the LLC fills and evicts */
static void draw_cache(struct rng *r, FILE *f)
{
	static const char *const lv[] = { "l1d", "l1i", "l2", "llc" };
	uint32_t line = chance(r, 0.8) ? 64 : (uint32_t)PICK(r, ((const uint32_t[]){ 128, 256, 4096 }));
	uint32_t slices = chance(r, 0.5) ? 1 : (uint32_t)between(r, 2, 28);
	char key[64];

	sec(f, "walk");
	kv(f, "refs", "cache");
	sec(f, "cache");
	kv(f, "line", "%u", line);
	kv(f, "llc_slices", "%u", slices);
	for (unsigned i = 0; i < 4; i++) {
		uint64_t ways = between(r, 1, 16), sets = 1ULL << rng_below(r, i < 2 ? 7 : 11);
		snprintf(key, sizeof(key), "%s_size", lv[i]);
		kv(f, key, "%" PRIu64, ways * sets * line * (i == 3 ? slices : 1));
		snprintf(key, sizeof(key), "%s_ways", lv[i]);
		kv(f, key, "%" PRIu64, ways);
	}
}

static void draw_costs(struct rng *r, FILE *f)
{
	static const char *const keys[] = { "vmexit", "vmentry", "ipi_send", "ipi_deliver", "ipi_handler",
					    "tlb_flush_local", "guest_pf", "ept_fault_base", "lock_acquire",
					    "lock_handover", "cpu_relax", "sp_alloc", "spte_set", "zap_page",
					    "zap_spte", "free_page", "mmio_emulate", "ioctl_base" };
	sec(f, "costs");
	for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (chance(r, 0.3))
			kv(f, keys[i], "%" PRIu64, chance(r, 0.15) ? 0 : (uint64_t)logu(r, 1, 50000));
}

/* Draw scenario seed: DIR/scen-SEED.ini (and DIR/scen-SEED.trace when it replays one).
 * Every value lies in its key's range and the cross-key rules of config_validate() hold, so
 * the config must load; the combinations are otherwise free. */
static int scen_write(uint64_t seed, const char *dir, char *ini, size_t inilen)
{
	struct rng rr, *r = &rr;
	struct plan p = { 0 };
	char tpath[4200] = "";

	rng_seed(r, seed, 0x5ce7);
	snprintf(ini, inilen, "%s/scen-%" PRIu64 ".ini", dir, seed);
	FILE *f = fopen(ini, "w");
	if (!f)
		return -errno;
	fprintf(f, "; test_scen: random valid scenario, seed %" PRIu64 "\n"
		"; replay: eptsim run %s --seed %" PRIu64 " --out DIR\n", seed, ini, seed);

	/* [guest] */
	uint64_t u = rng_below(r, 100);
	p.vcpus = (uint32_t)(u < 50 ? between(r, 1, 4) : u < 85 ? between(r, 5, 16) : between(r, 17, 64));
	p.kernel_mem = (uint64_t)logu(r, 4, 256) * MB;
	bool big = chance(r, 0.06);    /* RAM above 3 GiB too (slot ram-high) */
	if (big && p.vcpus > 8)
		p.vcpus = (uint32_t)between(r, 1, 8);   /* the invariant checks scan every shadow page */
	uint64_t mem = big ? between(r, 3072, 5120) * MB : (uint64_t)logu(r, 16, 1024) * MB;
	uint64_t need = p.kernel_mem + p.vcpus * 4 * MB + MB;
	p.mem = mem > need ? mem : need;
	p.paging = chance(r, 0.8);
	int backing = (int)rng_below(r, 4);
	double thp = frac(r);
	/* prefault maps every page: keep the spte count (and the invariant checks) small */
	bool idle = chance(r, 0.15);   /* huge insns_per_access: few accesses, few lock releases */
	bool prefault = chance(r, 0.3) && (p.mem <= (idle ? 2048 : 512) * MB || backing >= 2 ||
					   (backing == 1 && thp == 1));
	sec(f, "guest");
	kv(f, "vcpus", "%u", p.vcpus);
	kv(f, "mem", "%" PRIu64 "M", p.mem / MB);
	kv(f, "kernel_mem", "%" PRIu64 "M", p.kernel_mem / MB);
	kv(f, "backing", "%s", backings[backing]);
	kv(f, "thp_fraction", "%g", thp);
	kv(f, "paging", "%s", p.paging ? "4-level" : "none");
	kv(f, "page_size", "%s", chance(r, 0.7) ? "4k" : "2m");
	kv(f, "kernel_page_size", "%s", chance(r, 0.7) ? "2m" : "4k");
	kv(f, "prefault", "%s", prefault ? "true" : "false");

	p.ram_low = p.mem > GUEST_LOWMEM ? GUEST_LOWMEM : p.mem;
	p.slots[p.nr_slots++] = (struct slot){ "ram", 0, p.ram_low, true };
	if (p.mem > GUEST_LOWMEM)
		p.slots[p.nr_slots++] = (struct slot){ "ram-high", GUEST_HIGHMEM_GPA, p.mem - GUEST_LOWMEM, true };
	p.first_extra = p.nr_slots;

	/* extra memslots: a ROM in the I/O window (above the devices' registers), a region in
	 * the PCI hole, one far above RAM */
	static const struct slot extra[] = {
		{ "rom", 0xfebc0000ULL, 0, false }, { "hole", 0xd0000000ULL, 0, false },
		{ "far", 0x1000000000ULL, 0, false },
	};
	for (unsigned i = 0; i < 3; i++) {
		if (!chance(r, 0.45))
			continue;
		struct slot s = extra[i];
		s.size = i == 0 ? between(r, 1, 64) * 4096 : between(r, 1, 64) * 512 * 1024;
		s.present = chance(r, 0.5);
		p.slots[p.nr_slots++] = s;
		char name[40];
		snprintf(name, sizeof(name), "memslot.%s", s.name);
		sec(f, name);
		kv(f, "base", "0x%" PRIx64, s.base);
		kv(f, "size", "0x%" PRIx64, s.size);
		kv(f, "backing", "%s", backings[rng_below(r, 4)]);
		kv(f, "thp_fraction", "%g", frac(r));
		kv(f, "readonly", "%s", chance(r, i == 0 ? 0.8 : 0.2) ? "true" : "false");
		kv(f, "present", "%s", s.present ? "true" : "false");
	}

	/* [cpu] */
	double freq = PICK(r, ((const double[]){ 1000, 2600, 4000 }));
	double cpi = logu(r, 0.2, 3);
	sec(f, "cpu");
	kv(f, "freq_mhz", "%g", freq);
	kv(f, "cpi", "%.3g", cpi);
	if (chance(r, 0.3))
		draw_tlb(r, f);
	if (chance(r, 0.3))
		draw_costs(r, f);

	/* [mmu] */
	static const char *const zap[] = { "legacy", "fast-flush-at-break", "fast-v7" };
	static const char *const maps[] = { "4k", "2m", "1g" };
	static const char *const mmio[] = { "zap-walk", "generation" };
	static const char *const collapse[] = { "none", "lazy-zap", "in-place" };
	uint32_t gen_bits = chance(r, 0.5) ? 19 : (uint32_t)between(r, 1, 32);
	uint64_t gen_max = gen_bits == 32 ? UINT32_MAX : (1ULL << gen_bits) - 1;
	uint64_t back = rng_below(r, 300);
	uint64_t gen_start = chance(r, 0.6) ? (gen_max > back ? gen_max - back : 0) : rng_below(r, gen_max + 1);
	sec(f, "mmu");
	kv(f, "zap_all", "%s", PICK(r, zap));
	kv(f, "batch_zap_pages", "%u", PICK(r, ((const uint32_t[]){ 1, 2, 5, 10, 10, 64, 1000 })));
	kv(f, "max_mapping", "%s", PICK(r, maps));
	kv(f, "mmio_invalidate", "%s", PICK(r, mmio));
	kv(f, "mmio_gen_bits", "%u", gen_bits);
	kv(f, "mmio_gen_start", "%" PRIu64, gen_start);
	kv(f, "collapse", "%s", PICK(r, collapse));

	/* [host] */
	static const char *const preempt[] = { "none", "voluntary", "full" };
	sec(f, "host");
	kv(f, "preempt", "%s", PICK(r, preempt));
	kv(f, "hz", "%u", PICK(r, ((const uint32_t[]){ 100, 250, 300, 1000, 10000 })));
	kv(f, "sched_slice_us", "%.4g", logu(r, 10, 6000));
	kv(f, "bg_hogs", "%" PRIu64, chance(r, 0.3) ? between(r, 1, 3) : 0);
	kv(f, "bg_wakeup_hz", "%.4g", chance(r, 0.5) ? logu(r, 10, 1e5) : 0);
	kv(f, "bg_run_us", "%.4g", logu(r, 1, 500));

	/* [workload] */
	p.ipa = idle ? logu(r, 1e6, 3e7) : chance(r, 0.8) ? logu(r, 1, 200) : logu(r, 1e3, 1e6);
	double dur = logu(r, 1, 8);
	/* a big guest has many shadow pages: the invariant checks at each mmu_lock release
	 * scan them all, so it gets fewer records */
	double records = p.vcpus * dur * 1000 * freq / (p.ipa * cpi), budget = SCEN_RECORD_BUDGET / (big ? 10 : 1);
	if (records > budget)
		dur *= budget / records;
	if (dur < 0.2)
		dur = 0.2;
	bool trace = chance(r, 0.25);
	static const char *const gens[] = { "kbuild", "random", "stream", "zipf-kv", "touch-all" };
	const char *gen = PICK(r, gens);
	if (!p.paging && !strcmp(gen, "kbuild"))
		gen = "random";   /* kbuild builds processes: it needs guest paging */
	const struct slot *rom = NULL;
	for (unsigned i = p.first_extra; i < p.nr_slots; i++)
		if (!strcmp(p.slots[i].name, "rom"))
			rom = &p.slots[i];
	/* events.toggle_slot: one of the extra slots */
	const struct slot *toggle = p.nr_slots > p.first_extra && chance(r, 0.7) ?
		&p.slots[between(r, p.first_extra, p.nr_slots - 1)] : NULL;
	sec(f, "workload");
	if (trace) {
		snprintf(tpath, sizeof(tpath), "%s/scen-%" PRIu64 ".trace", dir, seed);
		kv(f, "trace", "%s", tpath);
		kv(f, "trace_end", "%s", chance(r, 0.8) ? "loop" : "stop");
	} else {
		kv(f, "generator", "%s", gen);
	}
	kv(f, "wss_mb", "%.4g", logu(r, 0.05, 256.0 / p.vcpus));
	kv(f, "zipf_s", "%.3g", logu(r, 0.1, 3));
	uint32_t devices = chance(r, 0.4) ? (uint32_t)between(r, 1, 8) : 0;
	kv(f, "mmio_devices", "%u", devices);
	kv(f, "mmio_rate", "%.3g", logu(r, 1e-5, 0.05));
	/* the guest maps only the I/O window: with paging, only the ROM there can be read */
	if (toggle && (!p.paging || toggle == rom) && chance(r, 0.6))
		kv(f, "slot_access_rate", "%.3g", logu(r, 1e-5, 0.01));
	kv(f, "duration_ms", "%.4g", dur);
	kv(f, "insns_per_access", "%.4g", p.ipa);
	double fetch = uni(r, 0, 0.5), kern = uni(r, 0, 0.5);
	kv(f, "fetch_fraction", "%.3g", fetch);
	kv(f, "write_fraction", "%.3g", uni(r, 0, 1));
	kv(f, "kernel_fraction", "%.3g", kern);
	kv(f, "new_page_fraction", "%.3g", logu(r, 1e-4, 0.1));
	kv(f, "reuse_skew", "%.3g", uni(r, 1, 16));
	kv(f, "proc_mem_mb", "%.4g", logu(r, 0.5, 64));
	kv(f, "proc_life_ms", "%.4g", logu(r, 0.05, 20));
	kv(f, "text_mb", "%.4g", logu(r, 0.1, 32));

	/* [events] */
	sec(f, "events");
	if (toggle) {
		kv(f, "toggle_slot", "%s", toggle->name);
		kv(f, "toggle_start_ms", "%.4g", uni(r, 0, dur / 2));
		kv(f, "toggle_period_ms", "%.4g", logu(r, dur / 50, dur / 2));
		kv(f, "toggle_count", "%" PRIu64, between(r, 0, 40));
	}
	if (chance(r, 0.1))
		kv(f, "stop_after_last", "true");
	if (chance(r, 0.4)) {
		const struct slot *d = &p.slots[chance(r, 0.7) ? rng_below(r, p.first_extra) : rng_below(r, p.nr_slots)];
		kv(f, "dirty_slot", "%s", d->name);
		kv(f, "dirty_start_ms", "%.4g", uni(r, 0, dur / 2));
		kv(f, "dirty_round_ms", "%.4g", logu(r, dur / 40, dur / 3));
		kv(f, "dirty_rounds", "%" PRIu64, between(r, 0, 8));
	}

	/* [output] */
	sec(f, "output");
	kv(f, "series", "%s", chance(r, 0.5) ? "true" : "false");
	kv(f, "sample_us", "%.4g", logu(r, 20, 1000));
	if (chance(r, 0.2)) {
		kv(f, "lock_timeline", "true");
		kv(f, "lock_timeline_max", "%" PRIu64, (uint64_t)logu(r, 1, 1e5));
	}
	/* [walk], [cache]: from a stream of their own, so that every other draw (and the trace)
	 * of a seed stays what it was before these keys existed */
	struct rng cr;
	rng_seed(&cr, seed, 0xcac4e);
	if (chance(&cr, 0.3))
		draw_cache(&cr, f);
	if (fclose(f))
		return -errno;
	return trace ? write_trace(r, &p, tpath) : 0;
}

/* ------------------------------------------------------------------ running */

struct job { pid_t pid; uint64_t seed; double start; };

struct campaign {
	char dir[4096];
	bool own_dir;           /* made here: removed at the end when nothing failed */
	unsigned jobs, timeout;
	uint64_t run, failed;
	uint64_t slow_seed[3];  /* the slowest scenarios, slowest first */
	double slow_s[3];
	bool verbose;           /* one seed replayed: the child's output goes to the terminal */
};

static void scen_path(const struct campaign *c, uint64_t seed, const char *ext, char *out, size_t n)
{
	snprintf(out, n, "%s/scen-%" PRIu64 ".%s", c->dir, seed, ext);
}

/* The child: load the INI as `eptsim run` does, build, run, publish the results (the stats
 * document), free.  Exit status 0, or 2 with the reason on stderr; a crash is a signal. */
static void __attribute__((noreturn)) scen_child(const char *ini, uint64_t seed, unsigned timeout)
{
	static struct scenario sc;
	struct config_error err;
	char msg[512] = "";

	alarm(timeout);
	config_defaults(&sc);
	sc.seed = seed;
	if (config_load(&sc, ini, &err) || config_validate(&sc, &err)) {
		fprintf(stderr, "test_scen: the generator drew a config the validation refuses: %s\n", err.msg);
		exit(2);
	}
	struct sim *s = sim_new(&sc, ENGINE_BATCHED, msg, sizeof(msg));
	if (!s) {
		fprintf(stderr, "test_scen: %s: a valid config that does not build: %s\n", ini, msg);
		exit(2);
	}
	int rr = sim_run(s);
	if (rr) {
		fprintf(stderr, "test_scen: %s: the run failed (%d): %s\n", ini, rr, sim_error(s));
		sim_free(s);
		exit(2);
	}
	json_t *doc = sim_results_json(s);
	bool ok = doc && json_object_get(doc, "stats");
	json_decref(doc);
	sim_free(s);
	if (!ok) {
		fprintf(stderr, "test_scen: %s: no stats in the results\n", ini);
		exit(2);
	}
	exit(0);   /* not _exit: LeakSanitizer checks at exit */
}

static void remove_scen(const struct campaign *c, uint64_t seed)
{
	char path[4200];
	static const char *const ext[] = { "ini", "trace", "log" };
	for (unsigned i = 0; i < 3; i++) {
		scen_path(c, seed, ext[i], path, sizeof(path));
		unlink(path);
	}
}

static pid_t scen_start(struct campaign *c, uint64_t seed)
{
	char ini[4200], log[4200];

	if (scen_write(seed, c->dir, ini, sizeof(ini))) {
		fprintf(stderr, "scenario %" PRIu64 ": cannot write it in %s: %s\n", seed, c->dir, strerror(errno));
		return -1;
	}
	scen_path(c, seed, "log", log, sizeof(log));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		if (!c->verbose) {
			int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd >= 0) {
				dup2(fd, STDERR_FILENO);
				dup2(fd, STDOUT_FILENO);
				close(fd);
			}
		}
		scen_child(ini, seed, c->timeout);
	}
	return pid;
}

/* A finished child: count it; a failure prints the seed, the replay command and the log. */
static void scen_done(struct campaign *c, uint64_t seed, int status, double secs)
{
	char ini[4200], log[4200];

	c->run++;
	for (unsigned i = 0; i < 3; i++)
		if (secs > c->slow_s[i]) {
			memmove(&c->slow_s[i + 1], &c->slow_s[i], (2 - i) * sizeof(c->slow_s[0]));
			memmove(&c->slow_seed[i + 1], &c->slow_seed[i], (2 - i) * sizeof(c->slow_seed[0]));
			c->slow_s[i] = secs;
			c->slow_seed[i] = seed;
			break;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		if (!c->verbose)
			remove_scen(c, seed);
		return;
	}
	c->failed++;
	scen_path(c, seed, "ini", ini, sizeof(ini));
	scen_path(c, seed, "log", log, sizeof(log));
	char why[64];
	if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "%s", WTERMSIG(status) == SIGALRM ? "timed out" : strsignal(WTERMSIG(status)));
	else
		snprintf(why, sizeof(why), "exit %d", WEXITSTATUS(status));
	printf("scenario %" PRIu64 ": FAILED (%s): eptsim run %s --seed %" PRIu64 " --out DIR\n", seed, why, ini, seed);
	printf("  (the invariants as checked here: make build/inv/eptsim; or EPTSIM_SCEN_ONLY=%" PRIu64 ")\n", seed);
	FILE *f = c->verbose ? NULL : fopen(log, "r");
	if (f) {
		char line[1024];
		unsigned n = 0;
		while (fgets(line, sizeof(line), f) && n++ < 40)
			printf("  | %s", line);
		fclose(f);
		printf("  (log: %s)\n", log);
	}
	fflush(stdout);
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	char *end;
	if (!s || !*s)
		return def;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || *s == '-') {
		fprintf(stderr, "test_scen: %s=%s: not a number\n", name, s);
		exit(2);
	}
	return v;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Run seeds first, first + 1, ... (n of them, or until seconds have passed) jobs at a time. */
static void campaign_run(struct campaign *c, uint64_t first, uint64_t n, double seconds)
{
	struct job *jobs = calloc(c->jobs, sizeof(*jobs));
	unsigned busy = 0;
	uint64_t next = first;
	double t0 = now_s();

	assert_non_null(jobs);
	for (;;) {
		bool more = seconds > 0 ? now_s() - t0 < seconds : next - first < n;
		while (more && busy < c->jobs) {
			pid_t pid = scen_start(c, next);
			if (pid < 0) {
				c->failed++;
				more = false;
				break;
			}
			for (unsigned i = 0; i < c->jobs; i++)
				if (!jobs[i].pid) {
					jobs[i] = (struct job){ pid, next, now_s() };
					break;
				}
			busy++;
			next++;
			more = seconds > 0 ? now_s() - t0 < seconds : next - first < n;
		}
		if (!busy)
			break;
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		if (pid < 0)
			break;
		for (unsigned i = 0; i < c->jobs; i++)
			if (jobs[i].pid == pid) {
				scen_done(c, jobs[i].seed, status, now_s() - jobs[i].start);
				jobs[i].pid = 0;
				busy--;
			}
	}
	free(jobs);
	printf("test_scen: %" PRIu64 " scenarios (seeds %" PRIu64 "..%" PRIu64 "), %" PRIu64 " failed, %.1f s; "
	       "slowest: seed %" PRIu64 " %.2f s, seed %" PRIu64 " %.2f s, seed %" PRIu64 " %.2f s\n",
	       c->run, first, next - 1, c->failed, now_s() - t0, c->slow_seed[0], c->slow_s[0], c->slow_seed[1],
	       c->slow_s[1], c->slow_seed[2], c->slow_s[2]);
}

static void test_random_scenarios(void **state)
{
	static struct campaign c;
	(void)state;

	const char *d = getenv("EPTSIM_SCEN_DIR");
	if (d && *d) {
		snprintf(c.dir, sizeof(c.dir), "%s", d);
		if (mkdir(c.dir, 0755) && errno != EEXIST)
			fail_msg("EPTSIM_SCEN_DIR=%s: %s", c.dir, strerror(errno));
	} else {
		snprintf(c.dir, sizeof(c.dir), "/tmp/eptsim-scen-XXXXXX");
		assert_non_null(mkdtemp(c.dir));
		c.own_dir = true;
	}
	c.jobs = (unsigned)env_u64("EPTSIM_SCEN_JOBS", 1);
	c.timeout = (unsigned)env_u64("EPTSIM_SCEN_TIMEOUT", 300);
	if (!c.jobs)
		c.jobs = 1;
	const char *only = getenv("EPTSIM_SCEN_ONLY");
	if (only && *only) {
		c.verbose = true;
		campaign_run(&c, env_u64("EPTSIM_SCEN_ONLY", 0), 1, 0);
	} else {
		const char *s = getenv("EPTSIM_SCEN_SEED");
		uint64_t first = s && !strcmp(s, "random") ?
			((uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid() << 20) % 1000000000000ULL :
			env_u64("EPTSIM_SCEN_SEED", 1);
		campaign_run(&c, first, env_u64("EPTSIM_SCEN_N", SCEN_DEFAULT_N),
			     (double)env_u64("EPTSIM_SCEN_SECONDS", 0));
	}
	if (c.own_dir && !c.failed && !c.verbose)
		rmdir(c.dir);
	else if (c.failed)
		printf("test_scen: failing scenarios kept in %s/\n", c.dir);
	assert_int_equal(c.failed, 0);
}

/* Each scenario that once failed, kept in sim/tests/regress/scen/ (INI, trace beside it;
 * the seed on its first line), runs again the same way. */
#define REGRESS_DIR "sim/tests/regress/scen"
static void test_regressions(void **state)
{
	unsigned n = 0, failed = 0;
	(void)state;

	DIR *d = opendir(REGRESS_DIR);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".ini"))
			continue;
		char ini[600];
		unsigned long long seed = 0;
		snprintf(ini, sizeof(ini), REGRESS_DIR "/%s", e->d_name);
		FILE *f = fopen(ini, "r");
		assert_non_null(f);
		assert_int_equal(fscanf(f, "; test_scen: random valid scenario, seed %llu", &seed), 1);
		fclose(f);
		fflush(NULL);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (!pid)
			scen_child(ini, seed, 300);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		n++;
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			failed++;
			printf("regression %s: FAILED: eptsim run %s --seed %llu --out DIR\n", e->d_name, ini, seed);
		}
	}
	closedir(d);
	printf("test_scen: %u regression scenarios, %u failed\n", n, failed);
	assert_true(n >= 5);
	assert_int_equal(failed, 0);
}

/* Writes to a read-only memslot are emulated (KVM_PFN_ERR_RO_FAULT), not mapped: a GPA
 * trace that writes a ROM over and over makes progress, one emulation a write, and no
 * fault finds its spte already there (the fault path used to map it read-only again, and
 * the write faulted for ever). */
static void test_readonly_writes_emulated(void **state)
{
	static struct scenario sc;
	struct config_error err;
	struct trace_error te;
	struct trace_writer *w;
	char dir[] = "/tmp/eptsim-ro-XXXXXX", trace[600], set[700];
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(trace, sizeof(trace), "%s/rom-writes.trace", dir);
	struct trace_header h = { .version = TRACE_VERSION, .nr_vcpus = 1, .addr_kind = TRACE_ADDR_GPA,
				  .paging = TRACE_PAGING_NONE };
	assert_int_equal(trace_create(trace, &h, &w, &te), 0);
	for (unsigned i = 0; i < 100; i++) {
		struct trace_record r = { .kind = i % 2 ? REC_WRITE : REC_READ, .size = 4, .icount = 100,
					  .addr = 0xfebc0000ULL + (i % 8) * 4096 };
		assert_int_equal(trace_write(w, &r, &te), 0);
	}
	assert_int_equal(trace_finish(w, &te), 0);
	config_defaults(&sc);
	const char *sets[] = { "guest.vcpus=1", "guest.mem=64M", "guest.kernel_mem=16M", "guest.paging=none",
			       "memslot.rom.base=0xfebc0000", "memslot.rom.size=64K", "memslot.rom.readonly=true",
			       "workload.trace_end=stop", "workload.duration_ms=5", "output.series=false" };
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		assert_int_equal(config_set(&sc, sets[i], &err), 0);
	snprintf(set, sizeof(set), "workload.trace=%s", trace);
	assert_int_equal(config_set(&sc, set, &err), 0);
	assert_int_equal(config_validate(&sc, &err), 0);
	char msg[256] = "";
	struct sim *s = sim_new(&sc, ENGINE_BATCHED, msg, sizeof(msg));
	assert_non_null(s);
	assert_int_equal(sim_run(s), 0);
	json_t *doc = sim_results_json(s), *st = json_object_get(doc, "stats");
	assert_int_equal(json_integer_value(json_object_get(st, "vcpu.records")), 100);
	assert_int_equal(json_integer_value(json_object_get(st, "ept.readonly_writes")), 50);
	assert_int_equal(json_integer_value(json_object_get(st, "ept.spurious_faults")), 0);
	assert_int_equal(json_integer_value(json_object_get(st, "ept.faults")), 4);   /* the reads: pages 0, 2, 4, 6 */
	json_decref(doc);
	sim_free(s);
	unlink(trace);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readonly_writes_emulated),
		cmocka_unit_test(test_regressions),
		cmocka_unit_test(test_random_scenarios),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
