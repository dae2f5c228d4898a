#include "cpu/guest.h"

#include "cpu/gpt.h"
#include "sim/config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#define SZ_2M (1ULL << 21)

void guest_layout_init(struct guest_layout *l, const struct scenario *sc)
{
	l->mem = sc->mem;
	l->kernel_mem = sc->kernel_mem;
	l->text_gpa = GUEST_PT_POOL;
	l->text_size = ((uint64_t)(sc->text_mb * (1 << 20)) + SZ_2M - 1) & ~(SZ_2M - 1);
	if (l->text_gpa + l->text_size > l->kernel_mem / 2)
		l->text_size = (l->kernel_mem / 2 - l->text_gpa) & ~(SZ_2M - 1);
	l->cache_gpa = l->text_gpa + l->text_size;
	l->cache_size = l->kernel_mem - l->cache_gpa;
	l->vcpus = sc->vcpus;
	l->pool_size = ((sc->mem - sc->kernel_mem) / sc->vcpus) & ~(SZ_2M - 1);
	l->pools_low = sc->vcpus;
	if (sc->mem > GUEST_LOWMEM) {
		/* Pools may not straddle the hole: shrink them until the two ranges hold them all. */
		uint64_t low = GUEST_LOWMEM - sc->kernel_mem, high = sc->mem - GUEST_LOWMEM;
		while (l->pool_size > SZ_2M && low / l->pool_size + high / l->pool_size < sc->vcpus)
			l->pool_size -= SZ_2M;
		uint64_t nl = low / l->pool_size;
		l->pools_low = nl < sc->vcpus ? (uint32_t)nl : sc->vcpus;
	}
	l->kernel_large = sc->kernel_page_size == MAP_2M;
	l->proc_large = sc->page_size == MAP_2M;
	l->shared_text = !sc->trace[0] && !strcmp(sc->generator, "kbuild");
	l->paging = sc->paging == GUEST_PAGING_4LEVEL;
}

struct gpt *guest_kernel_gpt_new(const struct guest_layout *l, struct gpa_pool **pt_pool)
{
	*pt_pool = gpa_pool_new(0, GUEST_PT_POOL);
	if (!*pt_pool)
		return NULL;
	struct gpt *g = gpt_new(*pt_pool);
	if (!g)
		return NULL;
	uint64_t step = l->kernel_large ? SZ_2M : 4096;
	for (uint64_t gpa = 0; gpa < l->kernel_mem; gpa += step)
		if (gpt_map(g, GUEST_DIRECTMAP + gpa, gpa, l->kernel_large, *pt_pool))
			return g;   /* pool too small: the caller sees unmapped addresses fault */
	for (uint64_t off = 0; off < GUEST_IO_SIZE; off += 4096)
		if (gpt_map(g, GUEST_IOREMAP + off, GUEST_IO_GPA + off, false, *pt_pool))
			return g;
	return g;
}

int guest_page_fault(const struct guest_layout *l, struct gpt *g, struct gpa_pool *pool, uint64_t gva)
{
	if (l->shared_text && gva >= GUEST_TEXT_BASE(1) && gva < GUEST_TEXT_BASE(GUEST_PROC_SLOTS + 1)) {
		uint64_t off = gva & (GUEST_SLOT_SPAN - 1);
		if (off >= l->text_size)
			return -EFAULT;
		int r = gpt_map(g, gva & ~4095ULL, l->text_gpa + (off & ~4095ULL), false, pool);
		return r == -EEXIST ? 0 : r;
	}
	if (gva < GUEST_USER_TOP) {
		uint64_t gpa;
		bool large = l->proc_large;
		int r = gpa_pool_alloc(pool, large, &gpa);
		if (r && large) {
			large = false;   /* no 2M frame left: the guest falls back to 4K */
			r = gpa_pool_alloc(pool, false, &gpa);
		}
		if (r)
			return r;
		r = gpt_map(g, large ? gva & ~(SZ_2M - 1) : gva & ~4095ULL, gpa, large, pool);
		if (r == -EEXIST && large) {
			/* 4K pages already there (an earlier fallback): map this one 4K too */
			gpa_pool_put(pool, gpa, true);
			r = gpa_pool_alloc(pool, false, &gpa);
			if (r)
				return r;
			large = false;
			r = gpt_map(g, gva & ~4095ULL, gpa, false, pool);
		}
		if (r) {
			gpa_pool_put(pool, gpa, large);
			return r == -EEXIST ? 0 : r;
		}
		return 0;
	}
	return -EFAULT;
}
