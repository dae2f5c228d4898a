/* sim/config — the scenario: every tunable of a run, loaded from an INI file (inih).
 *
 * One schema table (config.c: config_schema[]) is the single source of truth: each row is a
 * key, its type, default, bounds and help.  The loader, `--set section.key=value`,
 * `--dump-config`, stats.json's "config" object and the README's key reference
 * (`eptsim config --markdown`) all come from it.  Unknown keys, duplicate keys, bad types
 * and out-of-range values are errors naming file:line and the key.
 *
 * Sections: [guest] [memslot.NAME] [cpu] [tlb] [walk] [cache] [costs] [mmu] [host] [workload] [events]
 * [output], and [validate] (a validation config's published measurement, sim/validate.h:
 * not part of the run, so not in the dump, the hash or stats.json).  `guest.mem` makes the main RAM slot "ram" at GPA 0 (up to GUEST_LOWMEM; the
 * rest is slot "ram-high" from 4 GiB, past the PCI hole); every [memslot.NAME] section adds
 * a slot.
 */
#ifndef EPTSIM_SIM_CONFIG_H
#define EPTSIM_SIM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#define CONFIG_MAX_MEMSLOTS 16
#define CONFIG_NAME_MAX 32
#define CONFIG_ERR_MAX 512
#define CONFIG_PATH_MAX 1024
#define CONFIG_TEXT_MAX 200          /* a [validate] text: one config line */
#define CONFIG_MAX_KEYS 160           /* rows of the schema (config.c checks it) */
/* Where a key got its value (struct scenario's key_line): 0 the default, N > 0 line N of the
 * config file (source), CONFIG_LINE_SET a --set (or a sweep's set/vary): later than any line. */
#define CONFIG_LINE_SET INT32_MAX
/* Seeds: stats.json keeps the seed as a JSON integer, which jansson holds in a signed 64-bit
 * json_int_t; a larger seed would print negative, so it is refused where it is read. */
#define CONFIG_SEED_MAX ((uint64_t)INT64_MAX)

enum backing { BACKING_4K, BACKING_THP, BACKING_HUGETLB_2M, BACKING_HUGETLB_1G };
enum preempt_model { PREEMPT_NONE, PREEMPT_VOLUNTARY, PREEMPT_FULL };
enum zap_all_variant { ZAP_ALL_LEGACY, ZAP_ALL_FAST_FLUSH_AT_BREAK, ZAP_ALL_FAST_V7 };
enum guest_paging { GUEST_PAGING_4LEVEL, GUEST_PAGING_NONE };
/* guest.free_frames: which free frame a vCPU's pool hands out (cpu/gpt.h) */
enum free_frames { FREE_FRAMES_SCATTER, FREE_FRAMES_LIFO };
enum map_size { MAP_4K, MAP_2M, MAP_1G };   /* same values as enum page_size */
enum trace_end { TRACE_END_LOOP, TRACE_END_STOP };
enum mmio_invalidate { MMIO_INVALIDATE_ZAP_WALK, MMIO_INVALIDATE_GENERATION };
enum collapse_variant { COLLAPSE_NONE, COLLAPSE_LAZY_ZAP, COLLAPSE_IN_PLACE };
enum tlb_preset { TLB_PRESET_SKYLAKE, TLB_PRESET_CUSTOM };
/* A tlb.*_shared value (none, 4k+2m, 2m+1g, 4k+2m+1g) as a mask of page sizes (bit ps): the
 * sizes that share one array (struct tlb_config.shared). */
static inline unsigned config_tlb_shared_mask(int v)
{
	static const unsigned char mask[] = { 0, 1u << 0 | 1u << 1, 1u << 1 | 1u << 2, 7 };
	return v >= 0 && v < 4 ? mask[v] : 0;
}

enum walk_refs { WALK_REFS_PROBABILISTIC, WALK_REFS_CACHE };

struct cache_size_cfg {
	uint64_t size;                /* bytes */
	uint32_t ways;
};
enum mmu_hash_variant { MMU_HASH_LINUX_310, MMU_HASH_HASH64 };

enum validate_reduce { VALIDATE_MEAN, VALIDATE_MEDIAN, VALIDATE_MAX, VALIDATE_PER_EVENT };
enum validate_unit { VALIDATE_COUNT, VALIDATE_US, VALIDATE_MS, VALIDATE_PERCENT, VALIDATE_FACTOR };

/* [validate]: a published measurement a validation config is compared with (sim/validate.h).
 * Not part of the simulation: config_dump(), config_hash() and stats.json leave it out. */
struct validate_cfg {
	char source[CONFIG_TEXT_MAX], commit[CONFIG_TEXT_MAX], quote[CONFIG_TEXT_MAX];
	char published[CONFIG_TEXT_MAX], stat[CONFIG_TEXT_MAX], unreachable[CONFIG_TEXT_MAX];
	int reduce;                    /* enum validate_reduce */
	int unit;                      /* enum validate_unit */
	double band_lo, band_hi;
};

struct memslot_cfg {
	char name[CONFIG_NAME_MAX];
	uint64_t base, size;          /* bytes, 4K aligned */
	int backing;                  /* enum backing */
	double thp_fraction;          /* share of 2M regions the host backs with a THP */
	bool readonly;
	bool present;                 /* exists at start (a ROM toggled by [events] may not) */
};

struct costs_cfg {
	uint64_t l1_tlb_hit, stlb_hit;
	uint64_t ref_l1, ref_l2, ref_l3, ref_dram;
	double ref_p_l1, ref_p_l2, ref_p_l3;
	uint64_t vmexit, vmentry;
	uint64_t ipi_send, ipi_deliver, ipi_handler;
	uint64_t tlb_flush_local;
	uint64_t guest_pf;
	uint64_t ept_fault_base;
	uint64_t lock_acquire, lock_handover, cpu_relax;
	uint64_t fault_walk_level, sp_alloc, spte_set, hash_chain_entry, sp_list_entry;
	uint64_t zap_page, zap_spte, free_page;
	uint64_t mmu_unload, mmu_sync_roots, gen_bump;
	uint64_t mmio_walk_level, mmio_emulate;
	uint64_t ioctl_base;
};

struct scenario {
	/* [guest] */
	uint32_t vcpus;
	uint64_t mem;
	int backing;
	double thp_fraction;
	int paging;                    /* enum guest_paging */
	int page_size;                 /* enum map_size: guest pages of process memory */
	int kernel_page_size;          /* enum map_size: the guest's direct map */
	uint64_t kernel_mem;           /* GPA bytes of kernel + page cache (shared) */
	bool prefault;                 /* build the EPT of all memslots before the run */
	int free_frames;               /* enum free_frames */
	uint64_t free_run;             /* lifo: bytes per run of the page cache's LRU; 0: no LRU */
	double cache_growth_share;     /* lifo: share of freed frames the page cache takes */
	/* [cpu] */
	double freq_mhz, cpi;
	/* [tlb] */
	int tlb_preset;                /* enum tlb_preset */
	int tlb_shared[3];             /* l1d, l1i, stlb: config_tlb_shared_mask() of it */
	uint32_t l1d_entries[3], l1d_ways[3];
	uint32_t l1i_entries[3], l1i_ways[3];
	uint32_t stlb_entries[3], stlb_ways[3];
	uint32_t gpwc_entries[5];      /* [2]=PDE, [3]=PDPTE, [4]=PML4E; fully associative */
	uint32_t epwc_entries[5];
	/* [walk], [cache] */
	int walk_refs;                 /* enum walk_refs */
	uint32_t cache_line;           /* bytes, a power of two */
	struct cache_size_cfg cache_l1d, cache_l1i, cache_l2, cache_llc;
	uint32_t cache_llc_slices;
	/* [costs] */
	struct costs_cfg costs;
	/* [mmu] */
	int zap_all;                   /* enum zap_all_variant */
	uint32_t batch_zap_pages;
	int max_mapping;               /* enum map_size */
	int mmio_invalidate;           /* enum mmio_invalidate */
	uint32_t mmio_gen_bits;
	int collapse;                  /* enum collapse_variant */
	int mmu_hash;                  /* enum mmu_hash_variant: kvm_page_table_hashfn() */
	uint64_t mmio_gen_start;
	/* [host] */
	int preempt;                   /* enum preempt_model */
	uint32_t hz;
	double sched_slice_us;
	uint32_t bg_hogs;
	double bg_wakeup_hz;
	double bg_run_us;
	/* [workload] */
	char generator[CONFIG_NAME_MAX];
	char trace[CONFIG_PATH_MAX];
	int trace_end;                 /* enum trace_end */
	char elf[CONFIG_PATH_MAX];
	double wss_mb, zipf_s;
	uint32_t mmio_devices;
	double mmio_rate, slot_access_rate;
	double duration_ms;
	double insns_per_access;
	double fetch_fraction, write_fraction, kernel_fraction;
	double new_page_fraction;
	double reuse_skew;
	double proc_mem_mb;
	double proc_life_ms;
	double text_mb;
	double helper_fraction, helper_mem_mb;   /* kbuild: make/sh/as between compile jobs */
	double cache_new_page_fraction;          /* kbuild: page-cache writes to a fresh page */
	/* [events] */
	char toggle_slot[CONFIG_NAME_MAX];
	double toggle_start_ms, toggle_period_ms;
	uint32_t toggle_count;
	double toggle_hold_ms;         /* > 0: toggles come in pairs (a ROM read), this far apart */
	double toggle_jitter;          /* each period x (1 + U(-j, j)) */
	bool stop_after_last;          /* the run ends with the VMM's last event */
	char dirty_slot[CONFIG_NAME_MAX];   /* a slot's name, CONFIG_DIRTY_ALL, or empty */
	double dirty_start_ms, dirty_round_ms;
	uint32_t dirty_rounds;
	/* [output] */
	bool series;
	double sample_us;
	bool lock_timeline;            /* series/lock_timeline.dat: who held mmu_lock when */
	uint32_t lock_timeline_max;    /* intervals kept; later ones only counted */

	struct memslot_cfg slots[CONFIG_MAX_MEMSLOTS];
	uint32_t nr_slots;             /* slots[0] is "ram" from [guest] */

	/* [run] */
	uint64_t seed;                 /* run.seed; --seed overrides it */

	struct validate_cfg validate;  /* [validate] */

	/* not a key: the file the config came from */
	char source[4096];
	int32_t key_line[CONFIG_MAX_KEYS];   /* per schema row (not [memslot.*]): CONFIG_LINE_SET above */
};

struct config_error {
	char msg[CONFIG_ERR_MAX];     /* "file:line: key: what is wrong" */
};

/* Defaults for every key.  Cannot fail. */
void config_defaults(struct scenario *sc);
/* Load an INI file over the current values.  0, or -EINVAL / -ENOENT / ... with err set. */
int config_load(struct scenario *sc, const char *path, struct config_error *err);
/* Apply "section.key=value" (from --set).  0 or -EINVAL with err set. */
int config_set(struct scenario *sc, const char *assignment, struct config_error *err);
/* Cross-key checks after everything is loaded (memslot overlap, sizes, toggle slot exists). */
int config_validate(struct scenario *sc, struct config_error *err);

/* The effective configuration as INI text (--dump-config) and as JSON (stats.json). */
void config_dump(const struct scenario *sc, FILE *out);
json_t *config_to_json(const struct scenario *sc);
/* A fingerprint of the effective configuration: FNV-1a (64 bits) of config_dump()'s text,
 * so it covers every key, every memslot and the seed, and nothing else (not the file the
 * config came from).  Written as 16 lowercase hex digits into out[CONFIG_HASH_LEN + 1].
 * Sweeps compare it to decide whether a finished run is still current (sim/sweep.h). */
#define CONFIG_HASH_LEN 16
void config_hash(const struct scenario *sc, char out[CONFIG_HASH_LEN + 1]);
/* The key reference as a Markdown table (README). */
void config_markdown(FILE *out);

const char *config_enum_name(const char *section, const char *key, int value);
int config_slot_index(const struct scenario *sc, const char *name);   /* -1 if none */
/* The line reader the INI loaders give inih (ini_parse_stream): counts lines in *line as
 * inih does, drops leading blanks (inih would take an indented line as a continuation),
 * and turns a bad line into a syntax error for inih with *problem saying why: longer than
 * num - 2 characters, a NUL byte in it, or junk after a section header's ']'. */
enum config_line_problem { CONFIG_LINE_OK, CONFIG_LINE_TOO_LONG, CONFIG_LINE_NUL, CONFIG_LINE_SECTION_JUNK };
char *config_ini_fgets(char *str, int num, FILE *f, int *line, enum config_line_problem *problem);
const char *config_line_problem_text(enum config_line_problem p);
/* events.dirty_slot's word for every RAM slot (no memslot may take the name) */
#define CONFIG_DIRTY_ALL "all"

/* Slots made by guest.mem: "ram", and "ram-high" when guest.mem exceeds GUEST_LOWMEM. */
static inline uint32_t config_nr_ram_slots(const struct scenario *sc)
{
	return sc->nr_slots > 1 && !strcmp(sc->slots[1].name, "ram-high") ? 2 : 1;
}

/* The times (ms) of the [events] toggles, toggle_count of them, into ms[]: one every
 * toggle_period_ms from toggle_start_ms, or with toggle_hold_ms > 0 in pairs (a ROM read:
 * the BAR mapped, then unmapped hold ms later), one pair every period; with toggle_jitter
 * each period is drawn from [period x (1 - jitter), period x (1 + jitter)] (stream
 * CONFIG_TOGGLE_RNG_STREAM of run.seed). */
#define CONFIG_TOGGLE_RNG_STREAM 0x70000ULL
void config_toggle_times(const struct scenario *sc, double *ms);

/* Cycles of a time, saturated at UINT64_MAX ("never"): an [events] time can reach 1e15 ms
 * (toggle_start_ms + toggle_count x toggle_period_ms), 1e22 cycles, which a plain cast
 * would turn into an undefined value (0 on x86-64: every toggle at time 0). */
/* log2 of cache.line */
static inline unsigned config_cache_line_shift(const struct scenario *sc)
{
	return (unsigned)__builtin_ctz(sc->cache_line);
}

static inline uint64_t config_cycles_sat(double c)
{
	return c < 18446744073709551615.0 ? (uint64_t)c : UINT64_MAX;
}
static inline uint64_t config_ms_to_cycles(const struct scenario *sc, double ms)
{
	return config_cycles_sat(ms * sc->freq_mhz * 1000.0 + 0.5);
}
static inline uint64_t config_us_to_cycles(const struct scenario *sc, double us)
{
	return config_cycles_sat(us * sc->freq_mhz + 0.5);
}

#endif
