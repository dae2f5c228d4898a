/* cpu/guest — the guest operating system, as far as the MMU sees it: where its memory is,
 * its kernel direct map, and its page-fault handler that maps a process page on first touch.
 *
 * Guest-physical layout (guest.mem bytes of RAM from GPA 0):
 *   [0, 8M)                       the kernel's page-table pages
 *   [8M, 8M + text)               program text in the page cache (shared by processes)
 *   [8M + text, kernel_mem)       the rest of the page cache, one write area per vCPU
 *   [kernel_mem, mem)             process memory, one frame pool per vCPU
 * Above GUEST_LOWMEM, RAM continues at GUEST_HIGHMEM_GPA (past the PCI hole); no pool
 * straddles the hole.
 * Guest-virtual layout: the direct map at GUEST_DIRECTMAP maps [0, kernel_mem) with
 * guest.kernel_page_size pages; kbuild's process slot s has its text at GUEST_TEXT_BASE(s)
 * and its data at GUEST_DATA_BASE(s); any other user address (a replayed trace's) is
 * anonymous memory.
 */
#ifndef EPTSIM_CPU_GUEST_H
#define EPTSIM_CPU_GUEST_H

#include <stdbool.h>
#include <stdint.h>

struct scenario;
struct gpt;
struct gpa_pool;

#define GUEST_DIRECTMAP 0xffff888000000000ULL
#define GUEST_PT_POOL (8ULL << 20)
#define GUEST_PROC_SLOTS 255
#define GUEST_SLOT_SPAN (1ULL << 30)
#define GUEST_TEXT_BASE(s) ((uint64_t)(s) << 30)
#define GUEST_DATA_BASE(s) ((1ULL << 40) + ((uint64_t)(s) << 30))
#define GUEST_KERNEL_PML4 256   /* root entries 256..511 are the kernel's */
#define GUEST_USER_TOP (1ULL << 47)
/* The I/O window: device BARs and option ROMs at GPA [GUEST_IO_GPA, + GUEST_IO_SIZE), which
 * the guest kernel maps (ioremap) at GUEST_IOREMAP with 4K pages. */
#define GUEST_IO_GPA 0xfe000000ULL
#define GUEST_IO_SIZE (16ULL << 20)
#define GUEST_IOREMAP 0xffffc90000000000ULL
/* RAM layout around the PCI hole (QEMU pc with gigabyte alignment): at most GUEST_LOWMEM
 * bytes from GPA 0, the rest from GUEST_HIGHMEM_GPA. */
#define GUEST_LOWMEM (3ULL << 30)
#define GUEST_HIGHMEM_GPA (4ULL << 30)
/* The guest-physical space: a 4-level EPT translates 48-bit GPAs (12 + 4 x 9 bits).  Every
 * memslot ends at or below it (config_validate(), kvm_set_memory_region()), and so every GPA
 * a run can reach ept_walk() or prefault with (the replay bounds a GPA trace by the slots'
 * end: guest_gpa_limit()). */
#define GUEST_GPA_SPACE (1ULL << 48)

struct guest_layout {
	uint64_t mem, kernel_mem;
	uint64_t text_gpa, text_size;
	uint64_t cache_gpa, cache_size;   /* page cache after the text */
	uint64_t pool_size;               /* per vCPU, 2M multiple */
	uint32_t pools_low;               /* pools below the PCI hole; the others from 4 GiB */
	uint32_t vcpus;
	bool kernel_large, proc_large;
	bool shared_text;                 /* the text window maps the page cache (kbuild) */
	bool paging;                      /* false: addresses are GPAs */
};

/* The address a guest access to I/O-window GPA gpa uses (GVA through ioremap, or the GPA). */
static inline uint64_t guest_io_addr(const struct guest_layout *l, uint64_t gpa)
{
	return l->paging ? GUEST_IOREMAP + (gpa - GUEST_IO_GPA) : gpa;
}

void guest_layout_init(struct guest_layout *l, const struct scenario *sc);
static inline uint64_t guest_pool_base(const struct guest_layout *l, uint32_t vcpu)
{
	if (vcpu < l->pools_low)
		return l->kernel_mem + (uint64_t)vcpu * l->pool_size;
	return GUEST_HIGHMEM_GPA + (uint64_t)(vcpu - l->pools_low) * l->pool_size;
}
/* The kernel's page tables for the direct map and the I/O window (pages from a pool over
 * [0, 8M)). */
struct gpt *guest_kernel_gpt_new(const struct guest_layout *l, struct gpa_pool **pt_pool);

/* The guest's page-fault handler for a user address.  With shared_text, the text window
 * maps program text from the page cache; every other user address (below 2^47) is anonymous
 * memory from the vCPU's pool.  Returns 0 when the page is mapped now, -EFAULT for an
 * address no user mapping can cover (kernel half, beyond the text), -ENOMEM if the pool is
 * empty. */
int guest_page_fault(const struct guest_layout *l, struct gpt *g, struct gpa_pool *pool, uint64_t gva);

#endif
