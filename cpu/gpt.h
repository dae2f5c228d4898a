/* cpu/gpt — the guest's own page tables (x86-64 4-level) and its physical frame pools.
 *
 * The guest kernel builds its page tables on first touch of a GVA: a leaf of 4K or 2M, and
 * any missing table page, each taken from a frame pool in guest-physical memory.  Table
 * pages have GPAs, so the hardware walk must translate them through EPT too (README, Design: vCPUs, TLBs and the walk).
 *
 * Each vCPU runs its own processes in an address space (a gpt) of its own; the kernel's half
 * (the direct map) is built once and linked into every one (gpt_share).
 *
 * A frame pool hands out 4K frames and 2M-aligned 2M frames from a GPA range: freed frames
 * first (LIFO, like the per-cpu free lists of Linux), then fresh ones.  Each vCPU has a pool
 * of its own, so the guest-side effects of two vCPUs never interleave.
 */
#ifndef EPTSIM_CPU_GPT_H
#define EPTSIM_CPU_GPT_H

#include <stdbool.h>
#include <stdint.h>

#define GPT_LEVELS 4
#define GPTE_PRESENT (1ULL << 0)
#define GPTE_LARGE   (1ULL << 7)
#define GPTE_ADDR_MASK 0x000ffffffffff000ULL

struct gpa_pool;

struct gpa_pool *gpa_pool_new(uint64_t base, uint64_t size);
void gpa_pool_free(struct gpa_pool *p);
/* Hand out frames at random from every frame not in use (the lower three quarters of the
 * pool; 2M frames still come from the top) instead of LIFO: the mixing of a guest whose page
 * cache filled its memory, so a long-running guest touches all of it over time. */
void gpa_pool_scatter(struct gpa_pool *p, uint64_t seed, uint64_t stream);
/* A guest whose page cache filled its memory, LIFO (the last freed frame first, as Linux's
 * per-cpu and buddy free lists hand out: 3.10 mm/page_alloc.c free_hot_cold_page() and
 * __free_one_page() add at the list head, buffered_rmqueue() and __rmqueue_smallest() take
 * the head): the never-used 4K frames of the lower three quarters of the pool start out
 * held by the page cache, an LRU of runs of run_frames contiguous frames in random order
 * (files read a readahead window, VM_MAX_READAHEAD = 128 KiB, at a time); an
 * allocation with no free frame reclaims the LRU's oldest frame.  Of the 4K frames put back,
 * a share cache_share goes to the page cache (the LRU's newest) instead of the free list:
 * the page cache grows into freed memory, so the frames processes cycle through drift. */
void gpa_pool_reclaim(struct gpa_pool *p, uint64_t seed, uint64_t stream, uint64_t run_frames,
		      double cache_share);
/* A frame of 4K (large = false) or 2M.  Returns 0 and the GPA, or -ENOMEM. */
int gpa_pool_alloc(struct gpa_pool *p, bool large, uint64_t *gpa);
void gpa_pool_put(struct gpa_pool *p, uint64_t gpa, bool large);
uint64_t gpa_pool_fresh_left(const struct gpa_pool *p);

/* One page-table page: its GPA, its 512 entries, and the host-side pointers to the tables
 * the entries point to (the simulator's shortcut for reading guest memory). */
struct gpt_node {
	uint64_t gpa;
	uint64_t e[512];
	struct gpt_node *child[512];
};

struct gpt;

/* The root table (CR3) is allocated from `pool`. */
struct gpt *gpt_new(struct gpa_pool *pool);
void gpt_free(struct gpt *g);
struct gpt_node *gpt_root(const struct gpt *g);
/* Link root entries [first, last] of src into g (the kernel half of every address space). */
void gpt_share(struct gpt *g, const struct gpt *src, unsigned first, unsigned last);

static inline unsigned gpt_index(uint64_t gva, int level)
{
	return (unsigned)(gva >> (12 + 9 * (level - 1))) & 511;
}

/* Map the guest page containing gva (4K, or 2M when large) to frame gpa; missing tables
 * come from pool.  Returns 0, -EEXIST if mapped already, -ENOMEM if pool is exhausted. */
int gpt_map(struct gpt *g, uint64_t gva, uint64_t gpa, bool large, struct gpa_pool *pool);
/* Software walk (the guest kernel's view): 0 and the GPA of gva, or -ENOENT. */
int gpt_translate(const struct gpt *g, uint64_t gva, uint64_t *gpa, bool *large);
/* Unmap every leaf in [gva, gva + len): data frames go back to data_pool when it is not
 * NULL, table pages that become empty go back to table_pool.  Returns the number of leaves
 * removed. */
uint64_t gpt_unmap_range(struct gpt *g, uint64_t gva, uint64_t len, struct gpa_pool *data_pool,
			 struct gpa_pool *table_pool);

#endif
