#include "sim/bigmem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define ALIGN (2u << 20)
#define SPT_BYTES 4096u
#define CHUNK_MIN (2u << 20)       /* chunks double from 2 MiB up to 64 MiB */
#define CHUNK_MAX (64u << 20)

void *big_zalloc(size_t bytes)
{
	if (bytes < BIGMEM_MMAP_MIN)
		return calloc(1, bytes ? bytes : 1);
	/* 2 MiB aligned, so that huge pages can back all of it: map more, unmap the edges */
	size_t len = (bytes + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	char *m = mmap(NULL, len + ALIGN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	char *p = (char *)(((uintptr_t)m + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1));
	if (p > m)
		munmap(m, (size_t)(p - m));
	if (m + len + ALIGN > p + len)
		munmap(p + len, (size_t)(m + len + ALIGN - (p + len)));
	(void)madvise(p, len, MADV_HUGEPAGE);   /* a hint: THP may be off */
	return p;
}

void big_free(void *p, size_t bytes)
{
	if (!p)
		return;
	if (bytes < BIGMEM_MMAP_MIN)
		free(p);
	else
		munmap(p, (bytes + ALIGN - 1) & ~(size_t)(ALIGN - 1));
}

static size_t chunk_bytes(size_t i)
{
	return i >= 5 ? CHUNK_MAX : (size_t)CHUNK_MIN << i;
}

void spt_pool_init(struct spt_pool *p)
{
	memset(p, 0, sizeof(*p));
}

uint64_t *spt_pool_alloc(struct spt_pool *p)
{
	uint64_t *t;

	if (p->free_list) {
		t = p->free_list;
		UNPOISON(t, SPT_BYTES);
		p->free_list = *(void **)t;
		memset(t, 0, SPT_BYTES);   /* clear_page() of a recycled table */
	} else {
		if (!p->nr_chunks || p->used_in_chunk == chunk_bytes(p->nr_chunks - 1) / SPT_BYTES) {
			if (p->nr_chunks == p->cap_chunks) {
				size_t cap = p->cap_chunks ? 2 * p->cap_chunks : 64;
				void **c = realloc(p->chunks, cap * sizeof(*c));
				if (!c)
					return NULL;
				p->chunks = c;
				p->cap_chunks = cap;
			}
			void *chunk = big_zalloc(chunk_bytes(p->nr_chunks));
			if (!chunk)
				return NULL;
			POISON(chunk, chunk_bytes(p->nr_chunks));
			p->chunks[p->nr_chunks++] = chunk;
			p->used_in_chunk = 0;
		}
		t = (uint64_t *)((char *)p->chunks[p->nr_chunks - 1] + p->used_in_chunk++ * SPT_BYTES);
		UNPOISON(t, SPT_BYTES);   /* fresh from the mapping: already zero */
	}
	p->nr_live++;
	return t;
}

void spt_pool_free(struct spt_pool *p, uint64_t *spt)
{
	*(void **)spt = p->free_list;
	p->free_list = spt;
	POISON((char *)spt + sizeof(void *), SPT_BYTES - sizeof(void *));
	p->nr_live--;
}

void spt_pool_destroy(struct spt_pool *p)
{
	for (size_t i = 0; i < p->nr_chunks; i++) {
		UNPOISON(p->chunks[i], chunk_bytes(i));
		big_free(p->chunks[i], chunk_bytes(i));
	}
	free(p->chunks);
	spt_pool_init(p);
}
