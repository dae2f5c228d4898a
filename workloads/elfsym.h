/* workloads/elfsym — attribute a replayed trace to the functions of the traced program.
 *
 * A trace captured with Valgrind lackey carries real user-space addresses: every instruction
 * fetch names the instruction, and the data records that follow belong to it.  Loading the
 * program's ELF files (the executable and, at their load addresses, its shared objects) turns
 * each fetch address into a function, so the simulator can say which functions take the TLB
 * misses, page-walk references, EPT faults and mmu_lock waits.
 *
 * struct elfsym is a sorted set of non-overlapping address ranges, each naming a function, or
 * (where no symbol covers an address) the executable segment of the file it belongs to,
 * "<basename>:text".  Lookups are a binary search.  Indexes are dense: symbols first, in
 * address order, then one per file with executable segments; they stay valid only until the
 * next elfsym_add(), so load every file before creating a struct attribution.
 *
 * struct attribution is a table of per-function counters indexed by those indexes, reported
 * as JSON (stats.json) and as a Markdown table (reports).
 */
#ifndef EPTSIM_WORKLOADS_ELFSYM_H
#define EPTSIM_WORKLOADS_ELFSYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

struct elfsym;   /* opaque: a sorted set of address ranges with names */

/* Load function symbols (STT_FUNC, and STT_NOTYPE/ STT_GNU_IFUNC with size > 0 in executable
 * sections) from the ELF file at path (.symtab, falling back to .dynsym), relocated by
 * load_bias (0 for a non-PIE executable; for a PIE or shared object the address it was loaded
 * at minus its lowest PT_LOAD p_vaddr... simply: symbol address + load_bias).  Also record
 * each executable PT_LOAD segment as a mapping range named "<basename>:text" (used when there
 * is no symbol).  Can be called several times on the same struct to add shared objects.
 * Returns 0 or -errno / -EINVAL with a message naming the path in err (not an ELF file, no
 * symbols and no segments, unreadable). */
int elfsym_add(struct elfsym *s, const char *path, uint64_t load_bias, char *err, size_t errlen);
struct elfsym *elfsym_new(void);
void elfsym_free(struct elfsym *s);
/* Parse "PATH" or "PATH@0xBIAS" and add it. */
int elfsym_add_spec(struct elfsym *s, const char *spec, char *err, size_t errlen);
size_t elfsym_count(const struct elfsym *s);            /* symbols */
bool elfsym_has_symbols(const struct elfsym *s);
/* The index of the symbol (or, without one, the mapping) containing addr; ELFSYM_UNKNOWN if
 * none.  O(log n). */
uint32_t elfsym_lookup(const struct elfsym *s, uint64_t addr);
#define ELFSYM_UNKNOWN UINT32_MAX
const char *elfsym_name(const struct elfsym *s, uint32_t idx);   /* "[unknown]" for ELFSYM_UNKNOWN */
uint32_t elfsym_slots(const struct elfsym *s);   /* number of distinct indexes lookup can return (symbols + mappings) */

/* Per-function counters, indexed by elfsym_lookup()'s result (ELFSYM_UNKNOWN gets its own
 * slot).  The table is sized when it is created and keeps a pointer to s for the names: s
 * must outlive it and must not be added to meanwhile. */
enum attr_counter { ATTR_RECORDS, ATTR_TLB_MISSES, ATTR_WALK_REFS, ATTR_EPT_FAULTS, ATTR_LOCK_WAIT_CYCLES, ATTR_NR };
struct attribution;
struct attribution *attribution_new(const struct elfsym *s);
void attribution_free(struct attribution *a);
void attribution_add(struct attribution *a, uint32_t idx, enum attr_counter c, uint64_t n);
/* JSON array (jansson) of {"symbol": name, "records":…, "tlb_misses":…, "walk_refs":…,
 * "ept_faults":…, "lock_wait_cycles":…}, one per slot with any non-zero counter, sorted by
 * walk_refs then tlb_misses descending (ties: name), at most `limit` entries (0: all).  New
 * reference. */
json_t *attribution_json(const struct attribution *a, size_t limit);
/* The same as a Markdown table (top `limit` rows, 0: all) for reports. */
void attribution_markdown(const struct attribution *a, size_t limit, FILE *out);

#endif
