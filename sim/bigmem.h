/* sim/bigmem — zeroed allocations for the MMU's large arrays (rmaps, shadow-page tables).
 *
 * A 1 TiB guest mapped with 4K sptes needs about 4 GiB of rmap heads and spt pages.  Below
 * BIGMEM_MMAP_MIN these are calloc(); at or above it an anonymous mapping advised
 * MADV_HUGEPAGE, so first touches fault 2 MiB at a time instead of 4 KiB and nothing is
 * zeroed twice.
 *
 * spt_pool hands out 4 KiB zeroed tables carved from 2 MiB chunks (a kernel page per shadow
 * page, as KVM's mmu_page_cache does), recycling freed ones; under AddressSanitizer a freed
 * table is poisoned until it is handed out again.
 */
#ifndef EPTSIM_SIM_BIGMEM_H
#define EPTSIM_SIM_BIGMEM_H

#include <stddef.h>
#include <stdint.h>

#define BIGMEM_MMAP_MIN (2u << 20)

void *big_zalloc(size_t bytes);          /* NULL if out of memory */
void big_free(void *p, size_t bytes);    /* bytes as given to big_zalloc */

struct spt_pool {
	void **chunks;
	size_t nr_chunks, cap_chunks;
	size_t used_in_chunk;                /* tables handed out from the newest chunk */
	void *free_list;                     /* freed tables, linked through their first word */
	uint64_t nr_live;
};

void spt_pool_init(struct spt_pool *p);
uint64_t *spt_pool_alloc(struct spt_pool *p);   /* a zeroed 4 KiB table; NULL if out of memory */
void spt_pool_free(struct spt_pool *p, uint64_t *spt);
void spt_pool_destroy(struct spt_pool *p);      /* every table, live or not */

#endif
