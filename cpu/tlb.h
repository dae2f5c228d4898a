/* cpu/tlb — a vCPU's TLBs: L1 data, L1 instruction and a second-level STLB, each a
 * set-associative LRU array per page size (4K, 2M, 1G), entries tagged (VPID/EPTP).
 *
 * Page sizes of one structure may share one array (tlb_config.shared): Skylake's STLB is one
 * 1,536-entry 12-way array for 4K and 2M translations (Intel 64 and IA-32 Architectures
 * Optimization Reference Manual, Table 2-15).  Each entry of a shared array is tagged with its
 * page size, each size has its own set index (the low bits of the page number at that size:
 * Intel does not document the index function; this is the simplest that spreads both sizes),
 * a look-up probes each size's set, and a fill competes with the entries of every size in the
 * set for the LRU victim, so 2M fills evict 4K entries of the same set and vice versa.
 *
 * With EPT the TLB caches combined GVA -> HPA translations; an entry's page size is the
 * smaller of the guest page and the EPT mapping (the walker decides; the TLB just stores).
 *
 * A flush does not clear entries one by one: it bumps the TLB's epoch (README, Design: vCPUs, TLBs and the walk).  A later
 * look-up that finds an entry with the right tag and address but an older epoch is a miss
 * AND a "refill miss": a miss that exists only because of the flush.  Refill misses are
 * counted per flush cause so that the cost of a remote flush can be told apart from the cost
 * of a root reload.
 *
 * Each entry also remembers whether its translation permits writes (with EPT: the guest and
 * the EPT permissions combined; the walker decides).  A write does not match a read-only
 * entry: if no writable entry covers the address but a live read-only one does, the look-up is
 * a "permission miss" (the CPU walks again, and takes an EPT violation if the EPT still says
 * read-only).  That is how a write after KVM write-protects a page for dirty logging (and
 * flushes) and a read refills the entry read-only comes to exit.  The read-only entry stays:
 * reads still hit it, and the fill after a walk that found the page writable upgrades it.
 */
#ifndef EPTSIM_CPU_TLB_H
#define EPTSIM_CPU_TLB_H

#include <stdbool.h>
#include <stdint.h>

enum page_size { PS_4K = 0, PS_2M = 1, PS_1G = 2, PS_NR = 3 };

static inline unsigned page_shift(enum page_size ps) { return 12 + 9 * (unsigned)ps; }

struct tlb_geom {
	uint32_t entries;   /* 0 = this structure does not exist for this page size */
	uint32_t ways;      /* entries % ways == 0, entries / ways a power of two */
};

enum tlb_struct { TLB_L1D = 0, TLB_L1I = 1, TLB_STLB = 2, TLB_STRUCT_NR = 3 };

struct tlb_config {
	struct tlb_geom l1d[PS_NR];
	struct tlb_geom l1i[PS_NR];
	struct tlb_geom stlb[PS_NR];
	/* Per structure (enum tlb_struct): a mask of page sizes (bit ps) that share one array,
	 * whose geometry is that of the smallest size in the mask (the other sizes' geometry is
	 * not used).  0 or a single bit: every size has an array of its own. */
	uint8_t shared[TLB_STRUCT_NR];
};

/* Why the last flush happened: refill misses are charged to it. */
enum tlb_flush_cause { TLB_CAUSE_REMOTE = 0, TLB_CAUSE_RELOAD = 1, TLB_CAUSE_OTHER = 2,
		       TLB_CAUSE_NR = 3 };

enum tlb_level { TLB_HIT_L1 = 0, TLB_HIT_L2 = 1, TLB_MISS = 2 };

struct tlb_result {
	enum tlb_level level;
	enum page_size ps;  /* page size of the hit entry (undefined on a miss) */
	bool refill;        /* a miss that found a flushed (older-epoch) copy of the entry */
	bool perm;          /* a write miss that found only live read-only copies (never also refill) */
};

/* Data (reads and writes: L1D) or instruction fetches (L1I); the STLB serves both. */
enum tlb_side { TLB_DATA = 0, TLB_INSN = 1, TLB_SIDE_NR = 2 };

struct tlb_counters {
	uint64_t lookups, l1_hits, l2_hits, misses;
	uint64_t perm_misses;   /* permission misses: also counted in misses, not in refill_misses */
	uint64_t refill_misses[TLB_CAUSE_NR];
	uint64_t flushes[TLB_CAUSE_NR];
	/* The same hits and misses by side and page size, as perf's DTLB_LOAD_MISSES.STLB_HIT_4K /
	 * _2M and ITLB_MISSES.* count them: hits[side][0][ps] are L1 (L1D or L1I) hits,
	 * hits[side][1][ps] STLB hits (= L1 misses resolved by the STLB), by the hit entry's page
	 * size; stlb_misses[side] the look-ups that missed both; fills[side][ps] the fills after
	 * a walk (tlb_fill(): WALK_COMPLETED_4K / _2M_4M / _1G), by the page size the walk found. */
	uint64_t hits[TLB_SIDE_NR][2][PS_NR];
	uint64_t stlb_misses[TLB_SIDE_NR];
	uint64_t fills[TLB_SIDE_NR][PS_NR];
};

struct tlb;

/* Returns NULL with errno = EINVAL if a geometry is not valid. */
/* entries == 0 (absent), or ways >= 1 dividing entries into a power-of-two number of sets.
 * tlb_new() fails on any other geometry; config_validate() checks tlb.* with it. */
bool tlb_geom_valid(const struct tlb_geom *g);
struct tlb *tlb_new(const struct tlb_config *cfg);
void tlb_free(struct tlb *t);

/* Look up gva for a data read (fetch = false, write = false), a data write (write = true) or
 * an instruction fetch (fetch = true; write is then ignored: fetches never write) with the
 * current tag.  Searches L1 (D or I) for every page size, then the STLB; a write skips
 * read-only entries (see above: perm).  An STLB hit refills the L1 (LRU victim) with the
 * STLB entry's writable bit.  LRU is updated on every hit, and on no miss.
 *
 * A miss is refill or perm or neither, never both: a live read-only copy makes it perm,
 * otherwise a flushed copy makes it refill.  Every miss counts in misses; perm ones also in
 * perm_misses, refill ones also in refill_misses[cause of the last flush]. */
struct tlb_result tlb_lookup(struct tlb *t, bool fetch, bool write, uint64_t gva);
/* Insert after a walk: fills the L1 (D or I) and the STLB for page size ps (a structure with
 * 0 entries for ps is skipped), writable or read-only.  Filling a vpn + tag + size that is
 * already there (live or flushed) reuses that entry: it becomes live, most recently used, and
 * takes the new writable bit (so a fill upgrades a read-only entry, or downgrades). */
void tlb_fill(struct tlb *t, bool fetch, uint64_t gva, enum page_size ps, bool writable);
/* Invalidate everything (epoch bump): INVEPT single-context / a root change. */
void tlb_flush(struct tlb *t, enum tlb_flush_cause cause);
/* Invalidate the entries covering one guest-virtual page of any size (INVLPG). */
void tlb_invalidate_page(struct tlb *t, uint64_t gva);
void tlb_set_tag(struct tlb *t, uint32_t tag);

const struct tlb_counters *tlb_counters(const struct tlb *t);

#endif
