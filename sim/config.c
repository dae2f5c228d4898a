#include "sim/config.h"
#include "cpu/cache.h"
#include "cpu/guest.h"
#include "cpu/tlb.h"
#include "sim/numparse.h"
#include "sim/rng.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <ini.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum ktype { K_U32, K_U64, K_SIZE, K_DOUBLE, K_BOOL, K_ENUM, K_STR, K_PATH, K_TEXT };

struct key_def {
	const char *section;          /* "memslot.*" rows apply to every [memslot.NAME] */
	const char *key;
	enum ktype type;
	size_t off;                   /* into struct scenario, or struct memslot_cfg */
	const char *def;
	double min, max;
	const char *const *names;     /* K_ENUM: NULL-terminated */
	const char *help;
};

/* The longest line inih hands over: libinih's INI_MAX_LINE (200) less the newline and the
 * NUL.  config_ini_fgets() rejects longer lines; the dump must not write any. */
#define CONFIG_LINE_MAX 198

/* inih's inline comment: ';' after a blank.  A value that starts with one is written right
 * after the '=' (found by fuzz_config: "elf=;" dumped as "elf = ;" read back empty). */
#define INLINE_COMMENT ';'

static const char *const backing_names[] = { "4k", "thp", "hugetlb-2m", "hugetlb-1g", NULL };
static const char *const preempt_names[] = { "none", "voluntary", "full", NULL };
static const char *const zap_names[] = { "legacy", "fast-flush-at-break", "fast-v7", NULL };
static const char *const paging_names[] = { "4-level", "none", NULL };
static const char *const size_names[] = { "4k", "2m", "1g", NULL };
static const char *const gen_names[] = { "kbuild", "random", "stream", "zipf-kv", "touch-all", NULL };
static const char *const trace_end_names[] = { "loop", "stop", NULL };
static const char *const mmio_inv_names[] = { "zap-walk", "generation", NULL };
static const char *const collapse_names[] = { "none", "lazy-zap", "in-place", NULL };
static const char *const tlb_preset_names[] = { "skylake", "custom", NULL };
static const char *const tlb_shared_names[] = { "none", "4k+2m", "2m+1g", "4k+2m+1g", NULL };
static const char *const walk_refs_names[] = { "probabilistic", "cache", NULL };
static const char *const mmu_hash_names[] = { "linux-3.10", "hash64", NULL };
static const char *const free_frames_names[] = { "scatter", "lifo", NULL };
static const char *const reduce_names[] = { "mean", "median", "max", "per-event", NULL };
static const char *const unit_names[] = { "count", "us", "ms", "percent", "factor", NULL };

#define S(f) offsetof(struct scenario, f)
#define C(f) offsetof(struct scenario, costs.f)
#define M(f) offsetof(struct memslot_cfg, f)
#define V(f) offsetof(struct scenario, validate.f)
#define NOLIM 0, 0
#define U32MAX 4294967295.0
#define BIG 1e18

/* The schema.  Defaults carry their source where there is one (README, Design: configs and results). */
static const struct key_def config_schema[] = {
	/* [run] */
	{ "run", "seed", K_U64, S(seed), "1", NOLIM, NULL,
	  "random seed of every generator and of the host model (--seed overrides it); a run's DIR/config.ini carries it, so it reproduces the run" },
	/* [guest] */
	{ "guest", "vcpus", K_U32, S(vcpus), "4", 1, 1024, NULL, "number of vCPUs" },
	{ "guest", "mem", K_SIZE, S(mem), "1G", 16 << 20, 1ULL << 42, NULL,
	  "guest RAM (bytes; K/M/G/T suffixes): memslot \"ram\" at GPA 0; above 3 GiB the rest is memslot \"ram-high\" from GPA 4 GiB, past the PCI hole (QEMU pc)" },
	{ "guest", "backing", K_ENUM, S(backing), "thp", NOLIM, backing_names,
	  "host backing of guest RAM: bounds the EPT mapping level like host_mapping_level() / PageTransCompound()" },
	{ "guest", "thp_fraction", K_DOUBLE, S(thp_fraction), "1.0", 0, 1, NULL,
	  "with backing=thp, share of 2M regions the host could back with a huge page (the rest is 4K: fragmentation)" },
	{ "guest", "paging", K_ENUM, S(paging), "4-level", NOLIM, paging_names,
	  "guest paging: 4-level page tables built on first touch, or none (addresses are GPAs)" },
	{ "guest", "page_size", K_ENUM, S(page_size), "4k", 0, 1, size_names,
	  "guest page size of process memory (4k or 2m)" },
	{ "guest", "kernel_page_size", K_ENUM, S(kernel_page_size), "2m", 0, 1, size_names,
	  "guest page size of the kernel direct map over kernel_mem (Linux maps it with 2M pages)" },
	{ "guest", "kernel_mem", K_SIZE, S(kernel_mem), "256M", 4 << 20, 1ULL << 42, NULL,
	  "GPA bytes at the bottom of RAM used by the guest kernel and its page cache (shared by all vCPUs)" },
	{ "guest", "prefault", K_BOOL, S(prefault), "false", NOLIM, NULL,
	  "map every page of every present memslot in the EPT before the run, without simulating the faults (the state an ascending fault-in leaves)" },
	{ "guest", "free_run", K_SIZE, S(free_run), "0", 0, 1ULL << 30, NULL,
	  "with free_frames = lifo: the page cache first holds the never-used frames, in runs of this many bytes in random LRU order, and an allocation with no free frame reclaims its oldest; 0: no page cache, fresh frames in address order" },
	{ "guest", "cache_growth_share", K_DOUBLE, S(cache_growth_share), "0", 0, 1, NULL,
	  "with free_frames = lifo and free_run: share of the frames a process frees that the growing page cache takes (to the LRU's newest end) before another process can reuse them" },
	{ "guest", "free_frames", K_ENUM, S(free_frames), "scatter", NOLIM, free_frames_names,
	  "with 4K guest pages, which free frame a vCPU's pool hands out: scatter (any, at random: a guest whose page cache filled its memory) or lifo (the last freed, then fresh ones in address order: Linux's free lists)" },
	/* [cpu] */
	{ "cpu", "freq_mhz", K_DOUBLE, S(freq_mhz), "2600", 100, 10000, NULL,
	  "core clock; converts cycles to time in reports and *_ms/*_us keys" },
	{ "cpu", "cpi", K_DOUBLE, S(cpi), "0.8", 0.05, 100, NULL,
	  "cycles per instruction of guest work between memory records" },
	/* [tlb] — the defaults are Skylake's (tlb_presets[]; README, TLB geometry presets) */
	{ "tlb", "preset", K_ENUM, S(tlb_preset), "skylake", NOLIM, tlb_preset_names,
	  "TLB geometry preset: sets every tlb.l1d_*, l1i_*, stlb_* entries/ways/shared key not set explicitly (explicit keys win); custom: none (the keys' defaults are Skylake's)" },
	{ "tlb", "l1d_shared", K_ENUM, S(tlb_shared[0]), "none", NOLIM, tlb_shared_names,
	  "page sizes whose L1 DTLB entries share one array (geometry: the smallest size's keys; the others' keys follow them)" },
	{ "tlb", "l1i_shared", K_ENUM, S(tlb_shared[1]), "none", NOLIM, tlb_shared_names, "the same for the L1 ITLB" },
	{ "tlb", "stlb_shared", K_ENUM, S(tlb_shared[2]), "4k+2m", NOLIM, tlb_shared_names,
	  "the same for the STLB (Skylake: one 1,536-entry 12-way array for 4K and 2M)" },
	{ "tlb", "l1d_4k_entries", K_U32, S(l1d_entries[0]), "64", 0, 65536, NULL, "L1 DTLB 4K entries" },
	{ "tlb", "l1d_4k_ways", K_U32, S(l1d_ways[0]), "4", 1, 64, NULL, "L1 DTLB 4K ways" },
	{ "tlb", "l1d_2m_entries", K_U32, S(l1d_entries[1]), "32", 0, 65536, NULL, "L1 DTLB 2M entries" },
	{ "tlb", "l1d_2m_ways", K_U32, S(l1d_ways[1]), "4", 1, 64, NULL, "L1 DTLB 2M ways" },
	{ "tlb", "l1d_1g_entries", K_U32, S(l1d_entries[2]), "4", 0, 65536, NULL, "L1 DTLB 1G entries" },
	{ "tlb", "l1d_1g_ways", K_U32, S(l1d_ways[2]), "4", 1, 64, NULL, "L1 DTLB 1G ways" },
	{ "tlb", "l1i_4k_entries", K_U32, S(l1i_entries[0]), "128", 0, 65536, NULL, "L1 ITLB 4K entries" },
	{ "tlb", "l1i_4k_ways", K_U32, S(l1i_ways[0]), "8", 1, 64, NULL, "L1 ITLB 4K ways" },
	{ "tlb", "l1i_2m_entries", K_U32, S(l1i_entries[1]), "8", 0, 65536, NULL, "L1 ITLB 2M entries" },
	{ "tlb", "l1i_2m_ways", K_U32, S(l1i_ways[1]), "8", 1, 64, NULL, "L1 ITLB 2M ways" },
	{ "tlb", "l1i_1g_entries", K_U32, S(l1i_entries[2]), "0", 0, 65536, NULL, "L1 ITLB 1G entries" },
	{ "tlb", "l1i_1g_ways", K_U32, S(l1i_ways[2]), "1", 1, 64, NULL, "L1 ITLB 1G ways" },
	{ "tlb", "stlb_4k_entries", K_U32, S(stlb_entries[0]), "1536", 0, 1 << 20, NULL, "STLB 4K entries" },
	{ "tlb", "stlb_4k_ways", K_U32, S(stlb_ways[0]), "12", 1, 64, NULL, "STLB 4K ways" },
	{ "tlb", "stlb_2m_entries", K_U32, S(stlb_entries[1]), "1536", 0, 1 << 20, NULL, "STLB 2M entries" },
	{ "tlb", "stlb_2m_ways", K_U32, S(stlb_ways[1]), "12", 1, 64, NULL, "STLB 2M ways" },
	{ "tlb", "stlb_1g_entries", K_U32, S(stlb_entries[2]), "16", 0, 1 << 20, NULL, "STLB 1G entries" },
	{ "tlb", "stlb_1g_ways", K_U32, S(stlb_ways[2]), "4", 1, 64, NULL, "STLB 1G ways" },
	{ "tlb", "guest_pwc_pde", K_U32, S(gpwc_entries[2]), "32", 0, 4096, NULL, "guest paging-structure cache: PDE entries (fully associative)" },
	{ "tlb", "guest_pwc_pdpte", K_U32, S(gpwc_entries[3]), "4", 0, 4096, NULL, "guest PWC: PDPTE entries" },
	{ "tlb", "guest_pwc_pml4e", K_U32, S(gpwc_entries[4]), "2", 0, 4096, NULL, "guest PWC: PML4E entries" },
	{ "tlb", "ept_pwc_pde", K_U32, S(epwc_entries[2]), "32", 0, 4096, NULL, "EPT paging-structure cache: PDE entries" },
	{ "tlb", "ept_pwc_pdpte", K_U32, S(epwc_entries[3]), "4", 0, 4096, NULL, "EPT PWC: PDPTE entries" },
	{ "tlb", "ept_pwc_pml4e", K_U32, S(epwc_entries[4]), "2", 0, 4096, NULL, "EPT PWC: PML4E entries" },
	/* [walk], [cache] — Skylake-SP (Xeon Platinum 8180: 28 cores) per the Intel 64 and IA-32
	 * Architectures Optimization Reference Manual, "Skylake Server microarchitecture" */
	{ "walk", "refs", K_ENUM, S(walk_refs), "probabilistic", NOLIM, walk_refs_names,
	  "what a 2D walk's memory reference costs: probabilistic (a latency drawn from costs.ref_p_*, the published tables' model) or cache (the reference's line through the [cache] hierarchy, with the vCPU's data accesses; costs.ref_l1..ref_dram by the level that served it)" },
	{ "cache", "line", K_U32, S(cache_line), "64", 64, 4096, NULL, "cache line bytes (a power of two), every level" },
	{ "cache", "l1d_size", K_SIZE, S(cache_l1d.size), "32K", 64, 1ULL << 30, NULL, "L1D bytes, per vCPU (Skylake-SP: 32 KiB)" },
	{ "cache", "l1d_ways", K_U32, S(cache_l1d.ways), "8", 1, 64, NULL, "L1D ways (Skylake-SP: 8)" },
	{ "cache", "l1i_size", K_SIZE, S(cache_l1i.size), "32K", 64, 1ULL << 30, NULL, "L1I bytes, per vCPU (Skylake-SP: 32 KiB)" },
	{ "cache", "l1i_ways", K_U32, S(cache_l1i.ways), "8", 1, 64, NULL, "L1I ways (Skylake-SP: 8)" },
	{ "cache", "l2_size", K_SIZE, S(cache_l2.size), "1M", 64, 1ULL << 30, NULL, "L2 bytes, per vCPU (Skylake-SP: 1 MiB, non-inclusive)" },
	{ "cache", "l2_ways", K_U32, S(cache_l2.ways), "16", 1, 64, NULL, "L2 ways (Skylake-SP: 16)" },
	{ "cache", "llc_size", K_SIZE, S(cache_llc.size), "39424K", 64, 1ULL << 32, NULL,
	  "LLC bytes, all slices, shared by the vCPUs (Skylake-SP: 1.375 MiB a core, non-inclusive; 38.5 MiB on the 28 cores of a Xeon Platinum 8180)" },
	{ "cache", "llc_ways", K_U32, S(cache_llc.ways), "11", 1, 64, NULL, "LLC ways (Skylake-SP: 11)" },
	{ "cache", "llc_slices", K_U32, S(cache_llc_slices), "28", 1, 4096, NULL,
	  "LLC slices (Skylake-SP: one a core); a hash of the line picks the slice, its low bits the set" },
	/* [costs] — cycles */
	{ "costs", "l1_tlb_hit", K_U64, C(l1_tlb_hit), "1", 0, 1e6, NULL, "L1 TLB hit" },
	{ "costs", "stlb_hit", K_U64, C(stlb_hit), "9", 0, 1e6, NULL, "STLB hit (Skylake: 9 cycles)" },
	{ "costs", "ref_l1", K_U64, C(ref_l1), "4", 0, 1e6, NULL, "a walk reference served by L1D (either walk.refs model)" },
	{ "costs", "ref_l2", K_U64, C(ref_l2), "14", 0, 1e6, NULL, "a walk reference served by L2" },
	{ "costs", "ref_l3", K_U64, C(ref_l3), "42", 0, 1e6, NULL, "a walk reference served by the LLC" },
	{ "costs", "ref_dram", K_U64, C(ref_dram), "220", 0, 1e6, NULL, "a walk reference served by DRAM" },
	{ "costs", "ref_p_l1", K_DOUBLE, C(ref_p_l1), "0.55", 0, 1, NULL, "walk.refs = probabilistic: share of walk references that hit L1D" },
	{ "costs", "ref_p_l2", K_DOUBLE, C(ref_p_l2), "0.25", 0, 1, NULL, "share that hit L2" },
	{ "costs", "ref_p_l3", K_DOUBLE, C(ref_p_l3), "0.15", 0, 1, NULL, "share that hit the LLC (the rest: DRAM)" },
	{ "costs", "vmexit", K_U64, C(vmexit), "550", 0, 1e9, NULL, "VM exit (exit + entry ~1,050-1,100: kvm-unit-tests vmexit cpuid)" },
	{ "costs", "vmentry", K_U64, C(vmentry), "500", 0, 1e9, NULL, "VM entry" },
	{ "costs", "ipi_send", K_U64, C(ipi_send), "400", 0, 1e9, NULL, "sender's cost to send IPIs (smp_call_function_many)" },
	{ "costs", "ipi_deliver", K_U64, C(ipi_deliver), "1200", 0, 1e9, NULL, "IPI send to interrupt on the target CPU" },
	{ "costs", "ipi_handler", K_U64, C(ipi_handler), "2000", 0, 1e9, NULL,
	  "target's host-side IPI path after the exit until the ack (exit+handler+entry ~3,300-4,200: kvm-unit-tests ipi, Skylake-SP)" },
	{ "costs", "tlb_flush_local", K_U64, C(tlb_flush_local), "300", 0, 1e9, NULL, "INVEPT single-context on KVM_REQ_TLB_FLUSH / root load" },
	{ "costs", "guest_pf", K_U64, C(guest_pf), "2500", 0, 1e9, NULL, "guest kernel page fault on first touch (allocate + zero + map)" },
	{ "costs", "ept_fault_base", K_U64, C(ept_fault_base), "1500", 0, 1e9, NULL,
	  "EPT violation handling outside mmu_lock (gfn_to_pfn, memory caches)" },
	{ "costs", "lock_acquire", K_U64, C(lock_acquire), "25", 0, 1e9, NULL, "uncontended spin_lock" },
	{ "costs", "lock_handover", K_U64, C(lock_handover), "150", 0, 1e9, NULL, "ticket handover to the next waiter (cache-line transfer)" },
	{ "costs", "cpu_relax", K_U64, C(cpu_relax), "40", 0, 1e9, NULL, "cpu_relax() in cond_resched_lock without resched" },
	{ "costs", "fault_walk_level", K_U64, C(fault_walk_level), "30", 0, 1e9, NULL, "per level of __direct_map's shadow walk" },
	{ "costs", "sp_alloc", K_U64, C(sp_alloc), "900", 0, 1e9, NULL, "kvm_mmu_get_page allocating a shadow page (clear_page included)" },
	{ "costs", "spte_set", K_U64, C(spte_set), "150", 0, 1e9, NULL, "mmu_set_spte + rmap_add" },
	{ "costs", "hash_chain_entry", K_U64, C(hash_chain_entry), "45", 0, 1e9, NULL,
	  "per mmu_page_hash entry a for_each_gfn_sp() walk compares: a dependent load of a cold kvm_mmu_page header, an LLC hit (~40 cycles: Levinthal, Intel Core i7/Xeon 5500 Performance Analysis Guide; costs.ref_l3 = 42) + the compare" },
	{ "costs", "sp_list_entry", K_U64, C(sp_list_entry), "45", 0, 1e9, NULL,
	  "per kvm_mmu_page a zap-walk visits on active_mmu_pages (each restart walks from the head again): the next pointer and the mmio_cached flag, a dependent load of the page's header, an LLC hit as costs.hash_chain_entry" },
	{ "costs", "zap_page", K_U64, C(zap_page), "300", 0, 1e9, NULL, "kvm_mmu_prepare_zap_page, per page" },
	{ "costs", "zap_spte", K_U64, C(zap_spte), "250", 0, 1e9, NULL,
	  "per present spte zapped: drop_spte() = mmu_spte_clear_track_bits() (kvm_set_pfn_accessed/dirty on the struct page) + rmap_remove() (gfn_to_memslot)" },
	{ "costs", "free_page", K_U64, C(free_page), "250", 0, 1e9, NULL, "kvm_mmu_commit_zap_page freeing one page" },
	{ "costs", "mmu_unload", K_U64, C(mmu_unload), "200", 0, 1e9, NULL, "kvm_mmu_unload bookkeeping" },
	{ "costs", "mmu_sync_roots", K_U64, C(mmu_sync_roots), "10", 0, 1e9, NULL,
	  "kvm_mmu_load()'s kvm_mmu_sync_roots() hold of mmu_lock: mmu_sync_roots() returns at once for a direct map (3.10)" },
	{ "costs", "gen_bump", K_U64, C(gen_bump), "100", 0, 1e9, NULL, "a generation increment (mmu_valid_gen, memslots)" },
	{ "costs", "mmio_walk_level", K_U64, C(mmio_walk_level), "40", 0, 1e9, NULL,
	  "per level of the lockless walk of handle_mmio_page_fault()" },
	{ "costs", "mmio_emulate", K_U64, C(mmio_emulate), "2500", 0, 1e9, NULL,
	  "emulating an MMIO access (instruction decode + in-kernel device, e.g. an ioeventfd doorbell)" },
	{ "costs", "ioctl_base", K_U64, C(ioctl_base), "20000", 0, 1e12, NULL, "a memslot ioctl's work outside mmu_lock" },
	/* [mmu] */
	{ "mmu", "zap_all", K_ENUM, S(zap_all), "fast-v7", NOLIM, zap_names,
	  "zap-all algorithm: legacy (3.9 kvm_mmu_zap_all), fast-flush-at-break (v6), fast-v7 (Linux 3.11)" },
	{ "mmu", "batch_zap_pages", K_U32, S(batch_zap_pages), "10", 1, 1 << 20, NULL,
	  "BATCH_ZAP_PAGES: pages zapped between lock-break checks" },
	{ "mmu", "max_mapping", K_ENUM, S(max_mapping), "1g", NOLIM, size_names, "largest EPT mapping the CPU supports" },
	{ "mmu", "mmio_invalidate", K_ENUM, S(mmio_invalidate), "generation", NOLIM, mmio_inv_names,
	  "MMIO spte invalidation on memslot changes: zap-walk (Linux 3.10) or generation (3.11, the fast MMIO invalidation series)" },
	{ "mmu", "collapse", K_ENUM, S(collapse), "lazy-zap", NOLIM, collapse_names,
	  "when dirty logging stops: none (sptes stay 4K; Linux 3.10's fast_page_fault() keeps fixing writes to them under THP), lazy-zap (the lazy-collapse patch, Linux 4.1), in-place (for comparison: the idealised bound of later in-place recovery, which yields mmu_lock as lazy-zap does)" },
	{ "mmu", "hash", K_ENUM, S(mmu_hash), "linux-3.10", NOLIM, mmu_hash_names,
	  "kvm_page_table_hashfn(): linux-3.10 (gfn & 1023, 1,024 buckets; the kernel every variant models) or hash64 (hash_64(gfn, 12), 4,096 buckets: Linux 4.11, commit 114df303a7ee)" },
	{ "mmu", "mmio_gen_bits", K_U32, S(mmio_gen_bits), "19", 1, 32, NULL, "generation bits an MMIO spte carries (3.11: 19)" },
	{ "mmu", "mmio_gen_start", K_U64, S(mmio_gen_start), "524137", 0, 4294967295.0, NULL,
	  "the memslots generation at start; 3.11's kvm_current_mmio_generation() starts at MMIO_MAX_GEN - 150 = 2^19 - 151 = 524137" },
	/* [host] */
	{ "host", "preempt", K_ENUM, S(preempt), "voluntary", NOLIM, preempt_names,
	  "host kernel preemption model: spin_needbreak() is spin_is_contended() only under full (CONFIG_PREEMPT)" },
	{ "host", "hz", K_U32, S(hz), "1000", 1, 100000, NULL, "host timer tick (CONFIG_HZ)" },
	{ "host", "sched_slice_us", K_DOUBLE, S(sched_slice_us), "3000", 1, 1e9, NULL,
	  "CFS slice: with a hog runnable, the tick sets need_resched once the VMM thread ran this long" },
	{ "host", "bg_hogs", K_U32, S(bg_hogs), "0", 0, 1024, NULL, "always-runnable tasks sharing the VMM thread's CPU" },
	{ "host", "bg_wakeup_hz", K_DOUBLE, S(bg_wakeup_hz), "0", 0, 1e7, NULL,
	  "wake-ups per second of short tasks on the VMM thread's CPU (Poisson); each preempts (need_resched)" },
	{ "host", "bg_run_us", K_DOUBLE, S(bg_run_us), "30", 0, 1e9, NULL, "mean run time of a woken task before the VMM thread gets the CPU back" },
	/* [workload] */
	{ "workload", "generator", K_STR, S(generator), "kbuild", NOLIM, gen_names,
	  "synthetic generator (README, Workloads), used when workload.trace is empty" },
	{ "workload", "trace", K_PATH, S(trace), "", NOLIM, NULL,
	  "replay this trace: one multi-vCPU file, or FILE,FILE,... one single-vCPU trace per vCPU" },
	{ "workload", "trace_end", K_ENUM, S(trace_end), "loop", NOLIM, trace_end_names,
	  "when a vCPU's trace ends before workload.duration_ms: start it again, or halt the vCPU (once every vCPU has halted and no [events] are left, the run ends at the next sample)" },
	{ "workload", "elf", K_PATH, S(elf), "", NOLIM, NULL,
	  "ELF files for attribution: PATH[@LOADBIAS],... (the traced binary, shared objects)" },
	{ "workload", "wss_mb", K_DOUBLE, S(wss_mb), "64", 0.004, 1e7, NULL,
	  "working set of the random, stream, zipf-kv and touch-all generators (per vCPU)" },
	{ "workload", "zipf_s", K_DOUBLE, S(zipf_s), "0.99", 0.01, 10, NULL, "zipf-kv: exponent of key popularity" },
	{ "workload", "mmio_devices", K_U32, S(mmio_devices), "0", 0, 256, NULL,
	  "virtio-like devices, each a register page and a doorbell page of MMIO at 0xfe000000 + 16K*i" },
	{ "workload", "mmio_rate", K_DOUBLE, S(mmio_rate), "0.0001", 0, 1, NULL,
	  "share of a vCPU's records that are MMIO accesses (a register read or a doorbell write)" },
	{ "workload", "slot_access_rate", K_DOUBLE, S(slot_access_rate), "0", 0, 1, NULL,
	  "share of records that read events.toggle_slot's range (a ROM or VGA window: memory or MMIO as it toggles)" },
	{ "workload", "duration_ms", K_DOUBLE, S(duration_ms), "1000", 0.001, 1e9, NULL, "simulated time to run" },
	{ "workload", "insns_per_access", K_DOUBLE, S(insns_per_access), "40", 1, 1e9, NULL,
	  "mean instructions between records (accesses within the same page are folded into it)" },
	{ "workload", "fetch_fraction", K_DOUBLE, S(fetch_fraction), "0.2", 0, 1, NULL, "share of records that are instruction fetches" },
	{ "workload", "write_fraction", K_DOUBLE, S(write_fraction), "0.3", 0, 1, NULL, "share of data records that are writes" },
	{ "workload", "kernel_fraction", K_DOUBLE, S(kernel_fraction), "0.15", 0, 1, NULL,
	  "share of data records that go to the shared kernel / page cache" },
	{ "workload", "new_page_fraction", K_DOUBLE, S(new_page_fraction), "0.002", 0, 1, NULL,
	  "share of data records that touch a page of the process not touched before" },
	{ "workload", "reuse_skew", K_DOUBLE, S(reuse_skew), "4", 1, 64, NULL,
	  "recency skew of reuse: page = newest - n*u^skew (higher: shorter reuse distances)" },
	{ "workload", "proc_mem_mb", K_DOUBLE, S(proc_mem_mb), "24", 0.01, 1e6, NULL, "mean private memory a process grows to" },
	{ "workload", "proc_life_ms", K_DOUBLE, S(proc_life_ms), "40", 0.001, 1e9, NULL, "mean process lifetime (exponential)" },
	{ "workload", "text_mb", K_DOUBLE, S(text_mb), "24", 0.01, 1e6, NULL, "program text shared by the processes (page cache)" },
	{ "workload", "helper_fraction", K_DOUBLE, S(helper_fraction), "0", 0, 1, NULL,
	  "kbuild: share of processes that are small helpers (make, sh, as) rather than compile jobs: the number of compile jobs running varies" },
	{ "workload", "helper_mem_mb", K_DOUBLE, S(helper_mem_mb), "2", 0.01, 1e6, NULL,
	  "kbuild: mean private memory of a helper process" },
	{ "workload", "cache_new_page_fraction", K_DOUBLE, S(cache_new_page_fraction), "0.05", 0, 1, NULL,
	  "kbuild: share of page-cache writes that move on to a fresh page (how fast the page cache grows through each vCPU's write area)" },
	/* [events] */
	{ "events", "toggle_slot", K_STR, S(toggle_slot), "", NOLIM, NULL,
	  "memslot toggled (deleted / re-created) by the schedule; empty: none" },
	{ "events", "toggle_start_ms", K_DOUBLE, S(toggle_start_ms), "100", 0, 1e9, NULL, "time of the first toggle" },
	{ "events", "toggle_period_ms", K_DOUBLE, S(toggle_period_ms), "100", 0.001, 1e9, NULL, "time between toggles" },
	{ "events", "toggle_count", K_U32, S(toggle_count), "0", 0, 1e6, NULL,
	  "number of toggles (a delete zaps all; a create invalidates MMIO sptes)" },
	{ "events", "toggle_hold_ms", K_DOUBLE, S(toggle_hold_ms), "0", 0, 1e9, NULL,
	  "0: a toggle every period; > 0: toggles in pairs, one every period and the next this much later (a ROM read: map the BAR, copy, unmap)" },
	{ "events", "toggle_jitter", K_DOUBLE, S(toggle_jitter), "0", 0, 0.99, NULL,
	  "each period between toggles (pairs) is toggle_period_ms x (1 + u), u uniform in [-jitter, jitter], drawn from run.seed" },
	{ "events", "stop_after_last", K_BOOL, S(stop_after_last), "false", NOLIM, NULL,
	  "end the run when the VMM thread has finished its last event (its ioctl returned), before workload.duration_ms if that is later" },
	{ "events", "dirty_slot", K_STR, S(dirty_slot), "", NOLIM, NULL,
	  "memslot to dirty-log (\"ram\" is guest RAM below 3 GiB, \"ram-high\" the rest), or \"all\": every RAM slot, as QEMU's migration logs them (each ioctl once per slot, in slot order); empty: no dirty logging" },
	{ "events", "dirty_start_ms", K_DOUBLE, S(dirty_start_ms), "100", 0, 1e9, NULL, "when dirty logging is enabled" },
	{ "events", "dirty_round_ms", K_DOUBLE, S(dirty_round_ms), "20", 0.001, 1e9, NULL,
	  "time between KVM_GET_DIRTY_LOG rounds (a migration's copy passes)" },
	{ "events", "dirty_rounds", K_U32, S(dirty_rounds), "5", 0, 1e6, NULL,
	  "rounds before logging is disabled (the migration is cancelled)" },
	/* [output] */
	{ "output", "series", K_BOOL, S(series), "true", NOLIM, NULL, "write time series under series/" },
	{ "output", "sample_us", K_DOUBLE, S(sample_us), "1000", 1, 1e9, NULL, "sampling period of the time series" },
	{ "output", "lock_timeline", K_BOOL, S(lock_timeline), "false", NOLIM, NULL,
	  "write series/lock_timeline.dat: every mmu_lock hold (start, end, holder, its wait), for plot --kind timeline" },
	{ "output", "lock_timeline_max", K_U32, S(lock_timeline_max), "100000", 1, 50000000, NULL,
	  "holds kept in lock_timeline.dat (32 bytes each in memory); later ones are only counted, and the file's header says so" },
	/* [validate] — what a validation config (configs/validation/, `eptsim validate`) compares
	 * with a published measurement; the simulation ignores it, and the dump, config_hash()
	 * and stats.json leave it out (editing the band does not make a run stale). */
	{ "validate", "source", K_TEXT, V(source), "", NOLIM, NULL,
	  "the published measurement's source: title, author, date" },
	{ "validate", "commit", K_TEXT, V(commit), "", NOLIM, NULL, "its commit id or Message-ID" },
	{ "validate", "quote", K_TEXT, V(quote), "", NOLIM, NULL, "the source's own words for the figure" },
	{ "validate", "published", K_TEXT, V(published), "", NOLIM, NULL,
	  "the published figure in validate.unit: a number, or with reduce = per-event one number per event (blank-separated)" },
	{ "validate", "stat", K_TEXT, V(stat), "", NOLIM, NULL,
	  "the stats.json stat compared (a *_cycles stat with unit us or ms, converted at cpu.freq_mhz)" },
	{ "validate", "reduce", K_ENUM, V(reduce), "mean", NOLIM, reduce_names,
	  "how a run's stat (an array: one value per event) becomes its value: mean, median or max over the events, or per-event (event i against published number i)" },
	{ "validate", "unit", K_ENUM, V(unit), "count", NOLIM, unit_names, "unit of validate.published and of the band (us and ms convert a *cycles* stat; percent and factor are labels)" },
	{ "validate", "band_lo", K_DOUBLE, V(band_lo), "0", NOLIM, NULL,
	  "agreement: the simulated mean (per-event: every event's) within [band_lo, band_hi], in validate.unit" },
	{ "validate", "band_hi", K_DOUBLE, V(band_hi), "0", NOLIM, NULL, "upper end of the band" },
	{ "validate", "unreachable", K_TEXT, V(unreachable), "", NOLIM, NULL,
	  "why the model cannot reach this measurement: the row is listed, marked, and not run" },
	/* [memslot.NAME] */
	{ "memslot.*", "base", K_SIZE, M(base), "0", NOLIM, NULL,
	  "guest-physical base (4K aligned; the slot must end at or below 2^48: a 4-level EPT)" },
	{ "memslot.*", "size", K_SIZE, M(size), "0", 0, 1ULL << 46, NULL, "size in bytes (4K multiple, > 0)" },
	{ "memslot.*", "backing", K_ENUM, M(backing), "4k", NOLIM, backing_names, "host backing" },
	{ "memslot.*", "thp_fraction", K_DOUBLE, M(thp_fraction), "1.0", 0, 1, NULL, "as guest.thp_fraction" },
	{ "memslot.*", "readonly", K_BOOL, M(readonly), "false", NOLIM, NULL, "read-only slot (a ROM)" },
	{ "memslot.*", "present", K_BOOL, M(present), "true", NOLIM, NULL, "the slot exists at time 0" },
};
#define NR_KEYS (sizeof(config_schema) / sizeof(config_schema[0]))
_Static_assert(NR_KEYS <= CONFIG_MAX_KEYS, "raise CONFIG_MAX_KEYS");

static const char *const type_names[] = { "u32", "u64", "size", "real", "bool", "enum", "string", "path", "text" };

static bool is_slot_row(const struct key_def *k) { return strcmp(k->section, "memslot.*") == 0; }

static void *field(void *base, const struct key_def *k) { return (char *)base + k->off; }
static const void *cfield(const void *base, const struct key_def *k) { return (const char *)base + k->off; }

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int set_trimmed(void *base, const struct key_def *k, const char *v, char *msg, size_t msz);

/* dump_key() writes a list longer than a config line over several lines, cut between two
 * non-blank characters (inih strips blanks at a value's ends); a list value must have such a
 * place at least every CONFIG_CUT_GAP characters, which a line holds with room to spare. */
#define CONFIG_CUT_GAP 100

static bool cuttable(const char *v)
{
	size_t last = 0, i;

	for (i = 1; v[0] && v[i]; i++) {
		if (isspace((unsigned char)v[i - 1]) || isspace((unsigned char)v[i]))
			continue;
		if (i - last > CONFIG_CUT_GAP)
			return false;
		last = i;
	}
	return strlen(v) - last <= CONFIG_CUT_GAP;
}

/* The range a numeric key accepts: its row's [min, max], or the whole type when the row has
 * none (min == max). */
/* A key's largest value.  Without a limit of its own a K_U64 key stops at INT64_MAX:
 * stats.json holds the config as JSON integers, which jansson keeps signed (a seed of
 * 2^63 printed negative there).  The one K_SIZE key without a limit, memslot.NAME.base,
 * is bounded by the 48-bit guest-physical space (slot_space_problem()), whose message
 * says why. */
static uint64_t key_umax(const struct key_def *k)
{
	if (k->min != k->max)
		return (uint64_t)k->max;
	return k->type == K_U32 ? UINT32_MAX : k->type == K_U64 ? (uint64_t)INT64_MAX : UINT64_MAX;
}

/* Parse value for key k into base.  On error writes a message (without location) to msg.
 * The value is copied whole (no fixed buffer: a long list is never cut short); a value too
 * long for its key is an error. */
static int set_value(void *base, const struct key_def *k, const char *raw, char *msg, size_t msz)
{
	char *buf = strdup(raw);
	int r;

	if (!buf) {
		snprintf(msg, msz, "out of memory");
		return -ENOMEM;
	}
	r = set_trimmed(base, k, trim(buf), msg, msz);
	free(buf);
	return r;
}

static int set_trimmed(void *base, const struct key_def *k, const char *v, char *msg, size_t msz)
{
	uint64_t u;
	double d, lo, hi;
	int r;

	switch (k->type) {
	case K_U32:
	case K_U64:
	case K_SIZE:
		r = parse_u64(v, k->type == K_SIZE ? NUMPARSE_SIZE : 0, k->min != k->max ? (uint64_t)k->min : 0,
			      key_umax(k), &u);
		if (r == -EINVAL) {
			snprintf(msg, msz, "'%s' is not %s", v,
				 k->type == K_SIZE ? "a size (e.g. 4096, 0x1000, 64K, 1G)" :
				 "a non-negative integer");
			return -EINVAL;
		}
		if (r) {
			snprintf(msg, msz, "%s is out of range [%llu, %llu]", v,
				 (unsigned long long)(k->min != k->max ? k->min : 0), (unsigned long long)key_umax(k));
			return -ERANGE;
		}
		if (k->type == K_U32)
			*(uint32_t *)field(base, k) = (uint32_t)u;
		else
			*(uint64_t *)field(base, k) = u;
		return 0;
	case K_DOUBLE:
		lo = k->min != k->max ? k->min : -DBL_MAX;
		hi = k->min != k->max ? k->max : DBL_MAX;
		r = parse_real(v, lo, hi, &d);
		if (r == -EINVAL) {
			snprintf(msg, msz, "'%s' is not a number", v);
			return -EINVAL;
		}
		if (r) {
			/* %g: the schema's bounds are short decimals (0.05, not 0.050000000000000003) */
			snprintf(msg, msz, "%s is out of range [%g, %g]", v, lo, hi);
			return -ERANGE;
		}
		*(double *)field(base, k) = d;
		return 0;
	case K_BOOL:
		if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1") || !strcasecmp(v, "on"))
			*(bool *)field(base, k) = true;
		else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0") || !strcasecmp(v, "off"))
			*(bool *)field(base, k) = false;
		else {
			snprintf(msg, msz, "'%s' is not a boolean (true/false)", v);
			return -EINVAL;
		}
		return 0;
	case K_ENUM:
		for (int i = 0; k->names[i]; i++) {
			if (strcmp(v, k->names[i]))
				continue;
			if (k->min != k->max && (i < k->min || i > k->max)) {
				snprintf(msg, msz, "'%s' is not allowed here", v);
				return -ERANGE;
			}
			*(int *)field(base, k) = i;
			return 0;
		}
		{
			int n = snprintf(msg, msz, "'%s' is not one of:", v);
			for (int i = 0; k->names[i] && n > 0 && (size_t)n < msz; i++)
				if (k->min == k->max || (i >= k->min && i <= k->max))
					n += snprintf(msg + n, msz - (size_t)n, " %s", k->names[i]);
		}
		return -EINVAL;
	case K_PATH:
		if (strlen(v) >= CONFIG_PATH_MAX) {
			snprintf(msg, msz, "a value of %zu characters is longer than the %d this key holds", strlen(v),
				 CONFIG_PATH_MAX - 1);
			return -EINVAL;
		}
		if (!cuttable(v)) {
			/* dump_key() could not break it into lines: DIR/config.ini would not load */
			snprintf(msg, msz, "no two non-blank characters side by side in %d characters (the "
				 "config written with the results could not hold the value)", CONFIG_CUT_GAP);
			return -EINVAL;
		}
		snprintf((char *)field(base, k), CONFIG_PATH_MAX, "%s", v);
		return 0;
	case K_TEXT:
		if (strlen(v) >= CONFIG_TEXT_MAX) {
			snprintf(msg, msz, "a text of %zu characters is longer than the %d this key holds", strlen(v),
				 CONFIG_TEXT_MAX - 1);
			return -EINVAL;
		}
		snprintf((char *)field(base, k), CONFIG_TEXT_MAX, "%s", v);
		return 0;
	case K_STR:
		if (strlen(v) >= CONFIG_NAME_MAX) {
			snprintf(msg, msz, "'%.*s...' is longer than %d characters", CONFIG_NAME_MAX, v,
				 CONFIG_NAME_MAX - 1);
			return -EINVAL;
		}
		if (k->names) {
			bool ok = false;
			for (int i = 0; k->names[i]; i++)
				ok |= !strcmp(v, k->names[i]);
			if (!ok) {
				snprintf(msg, msz, "'%s' is not a known %s", v, k->key);
				return -EINVAL;
			}
		}
		snprintf((char *)field(base, k), CONFIG_NAME_MAX, "%s", v);
		return 0;
	}
	return -EINVAL;
}

static void slot_defaults(struct memslot_cfg *m, const char *name)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	for (size_t i = 0; i < NR_KEYS; i++) {
		char msg[CONFIG_ERR_MAX];
		if (is_slot_row(&config_schema[i]) &&
		    set_value(m, &config_schema[i], config_schema[i].def, msg, sizeof(msg)))
			abort();   /* a bad default is a bug in the schema */
	}
}

void config_defaults(struct scenario *sc)
{
	memset(sc, 0, sizeof(*sc));
	for (size_t i = 0; i < NR_KEYS; i++) {
		char msg[CONFIG_ERR_MAX];
		if (!is_slot_row(&config_schema[i]) &&
		    set_value(sc, &config_schema[i], config_schema[i].def, msg, sizeof(msg)))
			abort();
	}
	slot_defaults(&sc->slots[0], "ram");
	sc->nr_slots = 1;
}

static const struct key_def *find_key(const char *section, const char *key)
{
	bool slot = !strncmp(section, "memslot.", 8);
	for (size_t i = 0; i < NR_KEYS; i++) {
		const struct key_def *k = &config_schema[i];
		if (strcmp(k->key, key))
			continue;
		if (slot ? is_slot_row(k) : !strcmp(k->section, section))
			return k;
	}
	return NULL;
}

/* Remember that section.key (not a [memslot.*] key) got its value on line (CONFIG_LINE_SET:
 * from --set), for config_validate()'s messages. */
static void config_note_line(struct scenario *sc, const char *section, const char *key, int32_t line)
{
	const struct key_def *k = strncmp(section, "memslot.", 8) ? find_key(section, key) : NULL;

	if (k)
		sc->key_line[k - config_schema] = line;
}

static int32_t key_line(const struct scenario *sc, const char *section, const char *key)
{
	const struct key_def *k = find_key(section, key);
	return k ? sc->key_line[k - config_schema] : 0;
}

/* "FILE:LINE: section.key" where the key was set in the config file, "--set: section.key"
 * where a --set gave it, "FILE: section.key" for a default: the start of an error message
 * about that key's value. */
static void key_where(const struct scenario *sc, const char *section, const char *key, char *out, size_t n)
{
	const char *src = sc->source[0] ? sc->source : "(defaults)";
	int32_t line = key_line(sc, section, key);

	if (line == CONFIG_LINE_SET)
		snprintf(out, n, "--set: %s.%s", section, key);
	else if (line > 0)
		snprintf(out, n, "%s:%d: %s.%s", src, line, section, key);
	else
		snprintf(out, n, "%s: %s.%s", src, section, key);
}

static bool section_known(const char *section)
{
	if (!strncmp(section, "memslot.", 8))
		return true;
	for (size_t i = 0; i < NR_KEYS; i++)
		if (!strcmp(config_schema[i].section, section))
			return true;
	return false;
}

int config_slot_index(const struct scenario *sc, const char *name)
{
	for (uint32_t i = 0; i < sc->nr_slots; i++)
		if (!strcmp(sc->slots[i].name, name))
			return (int)i;
	return -1;
}

/* Why memslot m does not fit in the 48-bit guest-physical space (GUEST_GPA_SPACE), naming
 * key (its base or size: the one just set), or NULL.  A slot beyond it cannot be translated
 * by the 4-level EPT: ept_walk() and prefault would alias it onto low GPAs. */
static const char *slot_space_problem(const struct memslot_cfg *m, const char *key, char *buf, size_t n)
{
	if (m->base >= GUEST_GPA_SPACE)
		snprintf(buf, n, "memslot.%s.base: beyond the 48-bit guest-physical space", m->name);
	else if (m->size > GUEST_GPA_SPACE - m->base)
		snprintf(buf, n, "memslot.%s.%s: beyond the 48-bit guest-physical space (the slot would end at 0x%llx)",
			 m->name, key, (unsigned long long)(m->base + m->size));
	else
		return NULL;
	return buf;
}

/* Why a config file line could not hold text s (NULL if it can): what --set and slot names
 * may not contain, so that DIR/config.ini, the dump of the effective config, loads again to
 * the same config (found by fuzz_set). */
static const char *ini_unsafe(const char *s, bool section_name)
{
	for (const char *p = s; *p; p++) {
		if (*p == '\n')
			return "a line break";
		if (*p == INLINE_COMMENT && p > s && isspace((unsigned char)p[-1]))
			return "a ';' after a blank (a config file reads a comment there)";
		if (section_name && *p == ']')
			return "a ']'";
	}
	return NULL;
}

/* Assign one key; msg gets "key: problem" on failure. */
static int assign(struct scenario *sc, const char *section, const char *key, const char *value,
		  char *msg, size_t msz)
{
	if (!section_known(section)) {
		snprintf(msg, msz, "[%s]: unknown section", section);
		return -EINVAL;
	}
	const struct key_def *k = find_key(section, key);
	if (!k) {
		snprintf(msg, msz, "%s.%s: unknown key", section, key);
		return -EINVAL;
	}
	void *base = sc;
	if (is_slot_row(k)) {
		const char *name = section + 8;
		if (!*name || strlen(name) >= CONFIG_NAME_MAX) {
			snprintf(msg, msz, "[%s]: a memslot needs a name of 1-%d characters", section,
				 CONFIG_NAME_MAX - 1);
			return -EINVAL;
		}
		const char *why = ini_unsafe(name, true);
		if (why) {
			snprintf(msg, msz, "[%s]: a memslot name cannot hold %s", section, why);
			return -EINVAL;
		}
		if (!strcmp(name, "ram") || !strcmp(name, "ram-high")) {
			snprintf(msg, msz, "[%s]: \"%s\" is a slot made by guest.mem; use another name", section, name);
			return -EINVAL;
		}
		if (!strcmp(name, CONFIG_DIRTY_ALL)) {
			snprintf(msg, msz, "[%s]: \"%s\" means every RAM slot to events.dirty_slot; use another name",
				 section, name);
			return -EINVAL;
		}
		int idx = config_slot_index(sc, name);
		if (idx < 0) {
			if (sc->nr_slots == CONFIG_MAX_MEMSLOTS) {
				snprintf(msg, msz, "[%s]: more than %d memslots", section, CONFIG_MAX_MEMSLOTS);
				return -EINVAL;
			}
			idx = (int)sc->nr_slots++;
			slot_defaults(&sc->slots[idx], name);
		}
		base = &sc->slots[idx];
	}
	char what[CONFIG_ERR_MAX];
	uint64_t old = k->type == K_SIZE ? *(uint64_t *)field(base, k) : 0;
	int r = set_value(base, k, value, what, sizeof(what));
	if (r)
		snprintf(msg, msz, "%s.%s: %s", section, key, what);
	else if (base != sc && slot_space_problem(base, key, msg, msz)) {
		*(uint64_t *)field(base, k) = old;   /* as a value set_value() refuses */
		r = -ERANGE;
	}
	return r;
}

/* Append ",value" (item) or "value" (the last item goes on: what the dump writes for an item
 * longer than a line) to a list key (a path list such as workload.elf or workload.trace). */
static int config_append(struct scenario *sc, const char *section, const char *key, const char *value,
			 bool item, char *msg, size_t msz)
{
	const struct key_def *k = section_known(section) ? find_key(section, key) : NULL;
	if (!k || k->type != K_PATH || is_slot_row(k)) {
		snprintf(msg, msz, "%s.%s: %s works on list keys only (workload.trace, workload.elf)", section, key,
			 item ? "+=" : ".=");
		return -EINVAL;
	}
	char *cur = (char *)field(sc, k);
	char buf[CONFIG_PATH_MAX];
	const char *v = value;
	while (*v == ' ' || *v == '\t')
		v++;
	int n = snprintf(buf, sizeof(buf), "%s%s%s", cur, cur[0] && item ? "," : "", v);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		snprintf(msg, msz, "%s.%s: the list grows past %d characters", section, key, CONFIG_PATH_MAX - 1);
		return -EINVAL;
	}
	char what[CONFIG_ERR_MAX];
	if (set_value(sc, k, buf, what, sizeof(what))) {
		snprintf(msg, msz, "%s.%s: %s", section, key, what);
		return -EINVAL;
	}
	return 0;
}

struct load_ctx {
	struct scenario *sc;
	FILE *f;
	int line;                     /* lines read so far: inih's line number of the current line */
	int msg_line;                 /* line of the first handler error (msg), 0 if none */
	char msg[CONFIG_ERR_MAX];
	char **seen;                  /* "section.key" of every key so far (any length) */
	size_t nr_seen, cap_seen;
};

static int config_ini_handler(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *c = user;
	char *full;

	/* inih goes on after an error and returns the first error's line: keep the first message. */
	if (c->msg_line)
		return 0;
	/* "key += value" appends an item to a list key (inih hands us the name "key +"), "key .=
	 * value" goes on with its last item (the name "key .") */
	size_t nl = strlen(name);
	if (nl > 1 && (name[nl - 1] == '+' || name[nl - 1] == '.')) {
		bool item = name[nl - 1] == '+';
		char *key = strndup(name, nl - 1);
		if (!key)
			abort();   /* out of memory */
		char *e = key + strlen(key);
		while (e > key && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		int r = config_append(c->sc, section, key, value, item, c->msg, sizeof(c->msg));
		if (!r)
			config_note_line(c->sc, section, key, c->line);
		free(key);
		if (r) {
			c->msg_line = c->line;
			return 0;
		}
		return 1;
	}
	if (asprintf(&full, "%s.%s", section, name) < 0)
		abort();
	for (size_t i = 0; i < c->nr_seen; i++) {
		if (!strcmp(c->seen[i], full)) {
			snprintf(c->msg, sizeof(c->msg), "%s: duplicate key", full);
			c->msg_line = c->line;
			free(full);
			return 0;
		}
	}
	if (c->nr_seen == c->cap_seen) {
		c->cap_seen = c->cap_seen ? 2 * c->cap_seen : 64;
		c->seen = realloc(c->seen, c->cap_seen * sizeof(*c->seen));
		if (!c->seen)
			abort();
	}
	c->seen[c->nr_seen++] = full;
	if (assign(c->sc, section, name, value, c->msg, sizeof(c->msg))) {
		c->msg_line = c->line;
		return 0;
	}
	config_note_line(c->sc, section, name, c->line);
	return 1;
}

/* fgets for inih, counting its calls as inih counts lines.  Leading blanks are dropped: inih
 * would take an indented line after a key as a continuation of that key's value. */
static char *config_ini_reader(char *str, int num, void *stream)
{
	struct load_ctx *c = stream;
	enum config_line_problem problem;
	char *r = config_ini_fgets(str, num, c->f, &c->line, &problem);

	if (problem && !c->msg_line) {
		if (problem == CONFIG_LINE_TOO_LONG)
			snprintf(c->msg, sizeof(c->msg), "line longer than %d characters; split a list over "
				 "several 'key += value' lines", num - 2);
		else
			snprintf(c->msg, sizeof(c->msg), "%s", config_line_problem_text(problem));
		c->msg_line = c->line;
	}
	return r;
}

const char *config_line_problem_text(enum config_line_problem p)
{
	switch (p) {
	case CONFIG_LINE_NUL: return "a NUL byte in the line (a binary file?)";
	case CONFIG_LINE_SECTION_JUNK: return "junk after the section header's ']'";
	case CONFIG_LINE_TOO_LONG: return "line too long";
	case CONFIG_LINE_OK: break;
	}
	return "";
}

/* After "[name]": only blanks, then the end or a comment (';' or '#').  inih takes the name
 * up to the first ']' and drops the rest of the line without a word. */
static bool section_junk(const char *line)
{
	const char *p = strchr(line, ']');

	if (line[0] != '[' || !p)
		return false;   /* not a header, or one inih reports itself */
	p += 1 + strspn(p + 1, " \t\r\n");
	return *p && *p != ';' && *p != '#';
}

char *config_ini_fgets(char *str, int num, FILE *f, int *line, enum config_line_problem *problem)
{
	size_t len = 0, max = (size_t)num - 1;
	bool nul = false;
	int ch = EOF;

	*problem = CONFIG_LINE_OK;
	/* getc, not fgets: fgets cannot tell a NUL byte from the end of the line, and inih
	 * would read "vcpus = 1<NUL>2" as 1 */
	while (len < max && (ch = getc(f)) != EOF) {
		nul |= ch == '\0';
		str[len++] = (char)ch;
		if (ch == '\n')
			break;
	}
	if (!len)
		return NULL;
	str[len] = '\0';
	(*line)++;
	if (len == max && str[len - 1] != '\n' && (ch = getc(f)) != EOF) {
		/* inih's line limit: skip the rest of the line */
		while (ch != EOF && ch != '\n')
			ch = getc(f);
		*problem = CONFIG_LINE_TOO_LONG;
	} else if (nul) {
		*problem = CONFIG_LINE_NUL;
	} else {
		size_t n = strspn(str, " \t");
		if (n)
			memmove(str, str + n, strlen(str + n) + 1);
		if (section_junk(str))
			*problem = CONFIG_LINE_SECTION_JUNK;
	}
	if (*problem)   /* make inih report this line: a lone "[" is a syntax error */
		snprintf(str, (size_t)num, "[\n");
	return str;
}

int config_load(struct scenario *sc, const char *path, struct config_error *err)
{
	struct stat st;
	if (stat(path, &st)) {
		int e = errno;
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(e));
		return -e;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(err->msg, sizeof(err->msg), "%s: is a directory, not a config file", path);
		return -EISDIR;
	}
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(e));
		return -e;
	}
	struct load_ctx c = { .sc = sc, .f = f };
	int line = ini_parse_stream(config_ini_reader, &c, config_ini_handler, &c);
	fclose(f);
	for (size_t i = 0; i < c.nr_seen; i++)
		free(c.seen[i]);
	free(c.seen);
	if (line) {
		if (c.msg_line == line)   /* else a syntax error came first */
			snprintf(err->msg, sizeof(err->msg), "%s:%d: %s", path, line, c.msg);
		else
			snprintf(err->msg, sizeof(err->msg), "%s:%d: syntax error (expected [section] or key = value)",
				 path, line);
		return -EINVAL;
	}
	snprintf(sc->source, sizeof(sc->source), "%s", path);
	return 0;
}

int config_set(struct scenario *sc, const char *assignment, struct config_error *err)
{
	/* a copy of any length: a fixed buffer cut long values short without a word */
	char *buf = strdup(assignment);
	if (!buf) {
		snprintf(err->msg, sizeof(err->msg), "--set: out of memory");
		return -ENOMEM;
	}
	char *eq = strchr(buf, '=');
	char *dot = strrchr(eq ? (*eq = '\0', buf) : buf, '.');
	int r;
	if (!eq || !dot || dot == buf) {
		snprintf(err->msg, sizeof(err->msg), "--set %.*s%s: expected section.key=value",
			 CONFIG_ERR_MAX / 2, assignment, strlen(assignment) > CONFIG_ERR_MAX / 2 ? "..." : "");
		free(buf);
		return -EINVAL;
	}
	*dot = '\0';
	char msg[CONFIG_ERR_MAX];
	const char *why = ini_unsafe(eq + 1, false);
	if (why) {
		snprintf(err->msg, sizeof(err->msg), "--set: %s.%s: a value cannot hold %s", trim(buf), trim(dot + 1),
			 why);
		free(buf);
		return -EINVAL;
	}
	r = assign(sc, trim(buf), trim(dot + 1), eq + 1, msg, sizeof(msg));
	if (r)
		snprintf(err->msg, sizeof(err->msg), "--set: %s", msg);
	else
		config_note_line(sc, trim(buf), trim(dot + 1), CONFIG_LINE_SET);
	free(buf);
	return r;
}

/* set_value() for a key that has its default still (no config line or --set gave it one). */
static int set_value_if_default(struct scenario *sc, const struct key_def *k, const char *v, char *msg,
				size_t msz)
{
	return sc->key_line[k - config_schema] ? 0 : set_value(sc, k, v, msg, msz);
}

/* tlb.preset: the [tlb] keys each preset sets, unless a key was set explicitly (a config
 * line or a --set; README, TLB geometry presets, has the sources).  custom sets none. */
static const char *const tlb_preset_skylake[] = {
	/* Intel 64 and IA-32 Architectures Optimization Reference Manual (248966-045), Table
	 * 2-15, Skylake client (the server core's TLBs are the same): DTLB 4K 64 4-way, 2M/4M 32
	 * 4-way, 1G 4 4-way; ITLB 4K 128 8-way, 2M/4M 8 per thread (fully associative); STLB
	 * 4K+2M shared 1,536 12-way, 1G 16 4-way. */
	"l1d_4k_entries=64", "l1d_4k_ways=4", "l1d_2m_entries=32", "l1d_2m_ways=4",
	"l1d_1g_entries=4", "l1d_1g_ways=4", "l1d_shared=none",
	"l1i_4k_entries=128", "l1i_4k_ways=8", "l1i_2m_entries=8", "l1i_2m_ways=8",
	"l1i_1g_entries=0", "l1i_1g_ways=1", "l1i_shared=none",
	"stlb_4k_entries=1536", "stlb_4k_ways=12", "stlb_2m_entries=1536", "stlb_2m_ways=12",
	"stlb_1g_entries=16", "stlb_1g_ways=4", "stlb_shared=4k+2m",
	NULL
};
static const char *const *const tlb_presets[] = {
	[TLB_PRESET_SKYLAKE] = tlb_preset_skylake,
	[TLB_PRESET_CUSTOM] = NULL,
};

/* Apply tlb.preset to the [tlb] keys not set explicitly, then make the keys of each size that
 * shares an array (tlb.*_shared) follow the smallest size's, which the array uses: what
 * --dump-config prints is then the geometry the TLB has.  A shared size's key set explicitly
 * to another value is an error (it would be ignored). */
static int resolve_tlb(struct scenario *sc, struct config_error *err)
{
	static const char *const tlbs[] = { "l1d", "l1i", "stlb" };
	static const char *const sizes[] = { "4k", "2m", "1g" };
	uint32_t (*const entries[])[3] = { &sc->l1d_entries, &sc->l1i_entries, &sc->stlb_entries };
	uint32_t (*const ways[])[3] = { &sc->l1d_ways, &sc->l1i_ways, &sc->stlb_ways };
	const char *const *row = tlb_presets[sc->tlb_preset];

	for (; row && *row; row++) {
		char key[32], msg[CONFIG_ERR_MAX];
		const char *eq = strchr(*row, '=');

		snprintf(key, sizeof(key), "%.*s", (int)(eq - *row), *row);
		const struct key_def *k = find_key("tlb", key);
		if (!k || set_value_if_default(sc, k, eq + 1, msg, sizeof(msg)))
			abort();   /* a bad preset row is a bug in the table */
	}
	for (int t = 0; t < 3; t++) {
		unsigned mask = config_tlb_shared_mask(sc->tlb_shared[t]);
		int own = mask ? __builtin_ctz(mask) : 0;

		for (int ps = own + 1; ps < 3; ps++) {
			uint32_t *f[2] = { &(*entries[t])[ps], &(*ways[t])[ps] };
			const uint32_t v[2] = { (*entries[t])[own], (*ways[t])[own] };
			static const char *const what[2] = { "entries", "ways" };

			if (!(mask >> ps & 1))
				continue;
			for (int i = 0; i < 2; i++) {
				char key[32], where[CONFIG_ERR_MAX / 2];

				snprintf(key, sizeof(key), "%s_%s_%s", tlbs[t], sizes[ps], what[i]);
				if (*f[i] != v[i] && key_line(sc, "tlb", key)) {
					key_where(sc, "tlb", key, where, sizeof(where));
					snprintf(err->msg, sizeof(err->msg), "%s: %u, but tlb.%s_shared = %s puts %s "
						 "pages in the %s array: set tlb.%s_%s_%s (%u) instead",
						 where, *f[i], tlbs[t], tlb_shared_names[sc->tlb_shared[t]],
						 sizes[ps], sizes[own], tlbs[t], sizes[own], what[i], v[i]);
					return -EINVAL;
				}
				*f[i] = v[i];
			}
		}
	}
	return 0;
}

/* The TLB geometry (tlb_geom_valid(): what tlb_new() accepts), checked here so that a bad
 * one is reported with the key that made it, not when vCPU 0 is created.  The key blamed is
 * the later set of the pair (entries, ways). */
static int check_tlb_geometry(const struct scenario *sc, struct config_error *err)
{
	static const char *const tlbs[] = { "l1d", "l1i", "stlb" };
	static const char *const sizes[] = { "4k", "2m", "1g" };
	const uint32_t (*entries[])[3] = { &sc->l1d_entries, &sc->l1i_entries, &sc->stlb_entries };
	const uint32_t (*ways[])[3] = { &sc->l1d_ways, &sc->l1i_ways, &sc->stlb_ways };

	for (int t = 0; t < 3; t++) {
		for (int ps = 0; ps < 3; ps++) {
			struct tlb_geom g = { (*entries[t])[ps], (*ways[t])[ps] };
			char ek[32], wk[32], where[CONFIG_ERR_MAX / 2];

			if (tlb_geom_valid(&g))
				continue;
			snprintf(ek, sizeof(ek), "%s_%s_entries", tlbs[t], sizes[ps]);
			snprintf(wk, sizeof(wk), "%s_%s_ways", tlbs[t], sizes[ps]);
			key_where(sc, "tlb", key_line(sc, "tlb", ek) > key_line(sc, "tlb", wk) ? ek : wk, where,
				  sizeof(where));
			snprintf(err->msg, sizeof(err->msg), "%s: %u entries in %u ways: the entries must be a "
				 "multiple of the ways, and entries / ways (the sets) a power of two",
				 where, g.entries, g.ways);
			return -EINVAL;
		}
	}
	return 0;
}

/* [cache]: the line a power of two, each level a power of two of sets (per LLC slice) of
 * whole lines: the set is the line's low bits (cpu/cache.h). */
static int check_cache_geometry(const struct scenario *sc, struct config_error *err)
{
	static const char *const names[] = { "l1d", "l1i", "l2", "llc" };
	const struct cache_size_cfg *lv[] = { &sc->cache_l1d, &sc->cache_l1i, &sc->cache_l2, &sc->cache_llc };
	char key[32], where[CONFIG_ERR_MAX / 2];

	if (sc->cache_line & (sc->cache_line - 1)) {
		key_where(sc, "cache", "line", where, sizeof(where));
		snprintf(err->msg, sizeof(err->msg), "%s: %u is not a power of two", where, sc->cache_line);
		return -EINVAL;
	}
	for (int i = 0; i < 4; i++) {
		struct cache_geom g = { lv[i]->size, lv[i]->ways, i == 3 ? sc->cache_llc_slices : 1 };
		if (cache_geom_valid(&g, config_cache_line_shift(sc)))
			continue;
		snprintf(key, sizeof(key), "%s_size", names[i]);
		key_where(sc, "cache", key, where, sizeof(where));
		snprintf(err->msg, sizeof(err->msg), "%s: %llu bytes in %u ways of %u-byte lines%s: the sets "
			 "(size / line / ways%s) must be a power of two", where, (unsigned long long)g.size, g.ways,
			 sc->cache_line, i == 3 ? " and cache.llc_slices slices" : "", i == 3 ? " / slices" : "");
		return -EINVAL;
	}
	return 0;
}

int config_validate(struct scenario *sc, struct config_error *err)
{
	const char *src = sc->source[0] ? sc->source : "(defaults)";
	/* RAM above GUEST_LOWMEM goes above 4 GiB, past the PCI hole, in a second slot: QEMU's pc
	 * machine splits guest RAM the same way (below-4g and above-4g memory regions). */
	bool has_high = sc->nr_slots > 1 && !strcmp(sc->slots[1].name, "ram-high");
	bool want_high = sc->mem > GUEST_LOWMEM;
	if (want_high && !has_high) {
		if (sc->nr_slots == CONFIG_MAX_MEMSLOTS) {
			snprintf(err->msg, sizeof(err->msg), "%s: more than %d memslots with \"ram-high\"", src,
				 CONFIG_MAX_MEMSLOTS);
			return -EINVAL;
		}
		memmove(&sc->slots[2], &sc->slots[1], (sc->nr_slots - 1) * sizeof(sc->slots[0]));
		sc->nr_slots++;
		slot_defaults(&sc->slots[1], "ram-high");
	} else if (!want_high && has_high) {
		memmove(&sc->slots[1], &sc->slots[2], (sc->nr_slots - 2) * sizeof(sc->slots[0]));
		sc->nr_slots--;
	}
	for (uint32_t i = 0; i < config_nr_ram_slots(sc); i++) {
		struct memslot_cfg *r = &sc->slots[i];
		r->base = i ? GUEST_HIGHMEM_GPA : 0;
		r->size = i ? sc->mem - GUEST_LOWMEM : (want_high ? GUEST_LOWMEM : sc->mem);
		r->backing = sc->backing;
		r->thp_fraction = sc->thp_fraction;
		r->readonly = false;
		r->present = true;
	}
	for (uint32_t i = 0; i < sc->nr_slots; i++) {
		struct memslot_cfg *m = &sc->slots[i];
		if (!m->size || (m->size | m->base) & 4095) {
			snprintf(err->msg, sizeof(err->msg),
				 "%s: [memslot.%s]: base and size must be 4K aligned and size > 0", src, m->name);
			return -EINVAL;
		}
		/* assign() checked the configured slots at their line; this covers every slot,
		 * "ram-high" too (which guest.mem's range keeps below 2^43) */
		char why[CONFIG_ERR_MAX];
		if (slot_space_problem(m, "size", why, sizeof(why))) {
			snprintf(err->msg, sizeof(err->msg), "%s: %s", src, why);
			return -EINVAL;
		}
		for (uint32_t j = 0; j < i; j++) {
			struct memslot_cfg *o = &sc->slots[j];
			if (m->base < o->base + o->size && o->base < m->base + m->size) {
				snprintf(err->msg, sizeof(err->msg), "%s: memslots %s and %s overlap", src,
					 o->name, m->name);
				return -EINVAL;
			}
		}
	}
	if (want_high && sc->kernel_mem > GUEST_LOWMEM) {
		snprintf(err->msg, sizeof(err->msg), "%s: guest.kernel_mem (%llu) must fit below the PCI hole "
			 "(%llu MiB) when guest.mem is larger", src, (unsigned long long)sc->kernel_mem,
			 GUEST_LOWMEM >> 20);
		return -EINVAL;
	}
	if (sc->kernel_mem >= sc->mem) {
		snprintf(err->msg, sizeof(err->msg), "%s: guest.kernel_mem (%llu) must be below guest.mem (%llu)",
			 src, (unsigned long long)sc->kernel_mem, (unsigned long long)sc->mem);
		return -EINVAL;
	}
	if ((sc->mem - sc->kernel_mem) / sc->vcpus < (4ULL << 20)) {
		snprintf(err->msg, sizeof(err->msg),
			 "%s: guest.mem - guest.kernel_mem leaves under 4 MiB of process memory per vCPU", src);
		return -EINVAL;
	}
	if (sc->costs.ref_p_l1 + sc->costs.ref_p_l2 + sc->costs.ref_p_l3 > 1.0 + 1e-9) {
		snprintf(err->msg, sizeof(err->msg), "%s: costs.ref_p_l1 + ref_p_l2 + ref_p_l3 exceed 1", src);
		return -EINVAL;
	}
	if (sc->fetch_fraction + sc->kernel_fraction > 1.0) {
		snprintf(err->msg, sizeof(err->msg), "%s: workload.fetch_fraction + kernel_fraction exceed 1", src);
		return -EINVAL;
	}
	if (sc->mmio_gen_bits < 32 && sc->mmio_gen_start >> sc->mmio_gen_bits) {
		snprintf(err->msg, sizeof(err->msg), "%s: mmu.mmio_gen_start (%llu) does not fit in mmu.mmio_gen_bits (%u) bits",
			 src, (unsigned long long)sc->mmio_gen_start, sc->mmio_gen_bits);
		return -EINVAL;
	}
	if (resolve_tlb(sc, err) || check_tlb_geometry(sc, err) || check_cache_geometry(sc, err))
		return -EINVAL;
	if (sc->dirty_slot[0] && strcmp(sc->dirty_slot, CONFIG_DIRTY_ALL) && config_slot_index(sc, sc->dirty_slot) < 0) {
		snprintf(err->msg, sizeof(err->msg), "%s: events.dirty_slot: no memslot named '%s'", src, sc->dirty_slot);
		return -EINVAL;
	}
	if (sc->toggle_slot[0]) {
		int idx = config_slot_index(sc, sc->toggle_slot);
		if (idx < 0) {
			snprintf(err->msg, sizeof(err->msg), "%s: events.toggle_slot: no memslot named '%s'",
				 src, sc->toggle_slot);
			return -EINVAL;
		}
		if (idx == 0) {
			snprintf(err->msg, sizeof(err->msg), "%s: events.toggle_slot: the RAM slot cannot be toggled", src);
			return -EINVAL;
		}
	}
	if (sc->toggle_hold_ms > 0 && sc->toggle_hold_ms >= sc->toggle_period_ms * (1 - sc->toggle_jitter)) {
		snprintf(err->msg, sizeof(err->msg),
			 "%s: events.toggle_hold_ms (%g) must be shorter than the shortest period, toggle_period_ms x (1 - toggle_jitter) (%g)",
			 src, sc->toggle_hold_ms, sc->toggle_period_ms * (1 - sc->toggle_jitter));
		return -EINVAL;
	}
	return 0;
}

static void format_value(const void *base, const struct key_def *k, char *out, size_t n)
{
	const void *p = cfield(base, k);
	switch (k->type) {
	case K_U32: snprintf(out, n, "%u", *(const uint32_t *)p); break;
	case K_U64: snprintf(out, n, "%llu", (unsigned long long)*(const uint64_t *)p); break;
	case K_SIZE: {
		uint64_t v = *(const uint64_t *)p;
		if (v && !(v & ((1ULL << 30) - 1)))
			snprintf(out, n, "%lluG", (unsigned long long)(v >> 30));
		else if (v && !(v & ((1ULL << 20) - 1)))
			snprintf(out, n, "%lluM", (unsigned long long)(v >> 20));
		else
			snprintf(out, n, "0x%llx", (unsigned long long)v);
		break;
	}
	case K_DOUBLE: snprintf(out, n, "%.17g", *(const double *)p); break;
	case K_BOOL: snprintf(out, n, "%s", *(const bool *)p ? "true" : "false"); break;
	case K_ENUM: snprintf(out, n, "%s", k->names[*(const int *)p]); break;
	case K_STR:
	case K_PATH:
	case K_TEXT: snprintf(out, n, "%s", (const char *)p); break;
	}
	/* %.17g gives the shortest exact form only sometimes; prefer a short one that parses back equal. */
	if (k->type == K_DOUBLE) {
		double d = *(const double *)p;
		if (d == (double)(int64_t)d && d < 1e15 && d > -1e15) {
			snprintf(out, n, "%.0f", d);
			return;
		}
		for (int prec = 1; prec <= 17; prec++) {
			char t[64];
			snprintf(t, sizeof(t), "%.*g", prec, d);
			if (strtod(t, NULL) == d) {
				snprintf(out, n, "%s", t);
				break;
			}
		}
	}
}

/* The sections of the dump, the hash and stats.json's config: every one but [validate],
 * which describes a comparison, not the run. */
static const char *const section_order[] = { "run", "guest", "cpu", "tlb", "walk", "cache", "costs", "mmu",
					      "host", "workload", "events", "output" };
#define NR_SECTIONS (sizeof(section_order) / sizeof(section_order[0]))


/* May a folded list break at the comma v[n]?  inih strips the blanks (isspace()) around a
 * value, so the items on either side must not end or start with one (found by fuzz_config). */
static bool fold_ok(const char *v, size_t n, bool first)
{
	/* inih's blanks are isspace(): a '\v' or '\f' at an edge is lost too (fuzz_config) */
	return (n > 0 || !first) && (n == 0 || !isspace((unsigned char)v[n - 1])) &&
	       !isspace((unsigned char)v[n + 1]);
}

/* A cut inside an item at v[n], the next line going on with "key .= ...": no blank on either
 * side (inih strips them from both values). */
static bool cut_ok(const char *v, size_t n)
{
	return n > 0 && v[n] && !isspace((unsigned char)v[n - 1]) && !isspace((unsigned char)v[n]);
}

/* One "key = value" line, or, for a list key whose value does not fit in one line, the value's
 * comma-separated items over "key = ..." and "key += ..." lines of at most CONFIG_LINE_MAX
 * characters (config_append() joins them back with commas), so the dump loads again (found
 * by fuzz_config: the dump wrote lines inih cuts).  An item longer than a line goes on over
 * "key .= ..." lines (joined without a comma; found by fuzz_set: a --set item of 250
 * characters made a DIR/config.ini that did not load). */
static void dump_key(FILE *out, const struct key_def *k, const char *v)
{
	size_t kl = strlen(k->key), n, best;
	bool first = true, cont = false, found;

	if (kl + 3 + strlen(v) <= CONFIG_LINE_MAX || k->type != K_PATH || is_slot_row(k)) {
		fprintf(out, "%s %s%s\n", k->key, v[0] == INLINE_COMMENT ? "=" : "= ", v);
		return;
	}
	for (;;) {
		const char *op = first ? " = " : cont ? " .= " : " += ";
		size_t room = CONFIG_LINE_MAX - kl - strlen(op);

		/* the longest run of whole items that fits and ends where a line may end (not at
		 * the start of a line that goes on with an item: that line would be empty) */
		found = false;
		best = 0;
		for (n = strcspn(v, ","); n <= room; n += 1 + strcspn(v + n + 1, ",")) {
			if (!v[n] || (fold_ok(v, n, first) && (n || !cont))) {
				best = n;
				found = true;
			}
			if (!v[n])
				break;
		}
		bool cut = false;
		if (!found) {
			/* nothing fits: the longest piece that does, compact, cut where the next
			 * line can go on (set_value() refuses a list with none for CONFIG_CUT_GAP characters) */
			op = first ? "=" : cont ? ".=" : "+=";
			room = CONFIG_LINE_MAX - kl - strlen(op);
			n = strlen(v);
			if (n <= room) {   /* the rest fits compact (found by fuzz_set: the search
					    * below read past its end) */
				best = n;
				goto write;
			}
			for (n = room; n > 0 && !cut_ok(v, n); n--)
				;
			if (n) {
				best = n;
				cut = true;
			} else {   /* cannot happen for a value set_value() took: write it whole */
				best = strlen(v);
			}
		}
write:
		if (v[0] == INLINE_COMMENT && op[strlen(op) - 1] == ' ')
			op = first ? " =" : cont ? " .=" : " +=";
		fprintf(out, "%s%s%.*s\n", k->key, op, (int)best, v);
		first = false;
		cont = cut;
		v += best;
		if (!cut && *v++ != ',')
			break;
	}
}

void config_dump(const struct scenario *sc, FILE *out)
{
	char v[CONFIG_PATH_MAX];   /* the longest value: a K_PATH list (a short one truncated it) */
	fprintf(out, "; eptsim effective configuration\n");
	for (size_t s = 0; s < NR_SECTIONS; s++) {
		fprintf(out, "\n[%s]\n", section_order[s]);
		for (size_t i = 0; i < NR_KEYS; i++) {
			if (strcmp(config_schema[i].section, section_order[s]))
				continue;
			format_value(sc, &config_schema[i], v, sizeof(v));
			dump_key(out, &config_schema[i], v);
		}
	}
	for (uint32_t m = config_nr_ram_slots(sc); m < sc->nr_slots; m++) {
		fprintf(out, "\n[memslot.%s]\n", sc->slots[m].name);
		for (size_t i = 0; i < NR_KEYS; i++) {
			if (!is_slot_row(&config_schema[i]))
				continue;
			format_value(&sc->slots[m], &config_schema[i], v, sizeof(v));
			fprintf(out, "%s = %s\n", config_schema[i].key, v);
		}
	}
}

#define FNV64_OFFSET 0xcbf29ce484222325ULL
#define FNV64_PRIME 0x100000001b3ULL

void config_hash(const struct scenario *sc, char out[CONFIG_HASH_LEN + 1])
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		abort();   /* out of memory: nothing sensible to hash */
	config_dump(sc, f);
	if (fclose(f))
		abort();
	uint64_t h = FNV64_OFFSET;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)text[i];
		h *= FNV64_PRIME;
	}
	free(text);
	snprintf(out, CONFIG_HASH_LEN + 1, "%016llx", (unsigned long long)h);
}

static json_t *value_json(const void *base, const struct key_def *k)
{
	const void *p = cfield(base, k);
	switch (k->type) {
	case K_U32: return json_integer(*(const uint32_t *)p);
	case K_U64:
	case K_SIZE: return json_integer((json_int_t)*(const uint64_t *)p);
	case K_DOUBLE: return json_real(*(const double *)p);
	case K_BOOL: return json_boolean(*(const bool *)p);
	case K_ENUM: return json_string(k->names[*(const int *)p]);
	case K_STR:
	case K_PATH:
	case K_TEXT: return json_string((const char *)p);
	}
	return json_null();
}

json_t *config_to_json(const struct scenario *sc)
{
	json_t *root = json_object();
	for (size_t s = 0; s < NR_SECTIONS; s++) {
		json_t *sec = json_object();
		for (size_t i = 0; i < NR_KEYS; i++)
			if (!strcmp(config_schema[i].section, section_order[s]))
				json_object_set_new(sec, config_schema[i].key, value_json(sc, &config_schema[i]));
		json_object_set_new(root, section_order[s], sec);
	}
	for (uint32_t m = config_nr_ram_slots(sc); m < sc->nr_slots; m++) {
		json_t *sec = json_object();
		char name[CONFIG_NAME_MAX + 16];
		for (size_t i = 0; i < NR_KEYS; i++)
			if (is_slot_row(&config_schema[i]))
				json_object_set_new(sec, config_schema[i].key,
						    value_json(&sc->slots[m], &config_schema[i]));
		snprintf(name, sizeof(name), "memslot.%s", sc->slots[m].name);
		json_object_set_new(root, name, sec);
	}
	return root;
}

void config_markdown(FILE *out)
{
	fprintf(out, "| key | type | default | range | meaning |\n|---|---|---|---|---|\n");
	for (size_t i = 0; i < NR_KEYS; i++) {
		const struct key_def *k = &config_schema[i];
		char range[128] = "";
		if (k->type == K_ENUM || (k->type == K_STR && k->names)) {
			int n = 0;
			for (int j = 0; k->names[j]; j++)
				if (k->min == k->max || (j >= k->min && j <= k->max))
					n += snprintf(range + n, sizeof(range) - (size_t)n, "%s%s", n ? ", " : "",
						      k->names[j]);
		} else if (k->min != k->max) {
			snprintf(range, sizeof(range), "%.6g – %.6g", k->min, k->max);
		}
		fprintf(out, "| `%s.%s` | %s | `%s` | %s | %s |\n",
			is_slot_row(k) ? "memslot.NAME" : k->section, k->key, type_names[k->type],
			k->def[0] ? k->def : "\"\"", range, k->help);
	}
}

const char *config_enum_name(const char *section, const char *key, int value)
{
	const struct key_def *k = find_key(section, key);
	if (!k || k->type != K_ENUM || value < 0)
		return "?";
	for (int i = 0; k->names[i]; i++)
		if (i == value)
			return k->names[i];
	return "?";
}

void config_toggle_times(const struct scenario *sc, double *ms)
{
	struct rng r;
	double t = sc->toggle_start_ms;
	uint32_t per = sc->toggle_hold_ms > 0 ? 2 : 1;

	rng_seed(&r, sc->seed, CONFIG_TOGGLE_RNG_STREAM);
	for (uint32_t i = 0; i < sc->toggle_count; i++) {
		if (!sc->toggle_jitter)
			t = sc->toggle_start_ms + (i / per) * sc->toggle_period_ms;
		else if (i && i % per == 0)
			t += sc->toggle_period_ms * (1 + sc->toggle_jitter * (2 * rng_double(&r) - 1));
		ms[i] = t + (i % per ? sc->toggle_hold_ms : 0);
	}
}
