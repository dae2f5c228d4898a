/* traces/record — one record of a memory-access trace, as generators produce it and the vCPU
 * consumes it (README, Design: vCPUs, TLBs and the walk; README, Traces).  The on-disk trace format (issue 3) encodes exactly these.
 *
 * A memory record: `icount` instructions of non-memory work, then one access of `kind` to
 * `addr` (a GVA, or a GPA when guest.paging = none).  Control records carry guest-side
 * events that change the guest's own state, e.g. a process exit unmapping [addr, addr+len).
 */
#ifndef EPTSIM_TRACES_RECORD_H
#define EPTSIM_TRACES_RECORD_H

#include <stdint.h>

enum rec_kind {
	REC_READ = 0,
	REC_WRITE = 1,
	REC_FETCH = 2,
	REC_MMIO_READ = 3,
	REC_MMIO_WRITE = 4,
	REC_UNMAP = 5,      /* control: the guest unmaps [addr, addr + len) (process exit) */
	REC_END = 6,        /* control: the stream is over (never stored as a record) */
	REC_MEMSLOT = 7,    /* control: memslot op `arg` (enum rec_memslot_op) on [addr, addr + len) */
	REC_DIRTY_LOG = 8,  /* control: dirty-log op `arg` (enum rec_dirty_op) on the slot at addr */
	REC_MARKER = 9,     /* control: a named point in the trace, id `arg` */
	REC_NR_KINDS
};

enum rec_memslot_op { MEMSLOT_CREATE = 0, MEMSLOT_DELETE = 1, MEMSLOT_MOVE = 2, MEMSLOT_FLAGS = 3 };
enum rec_dirty_op { DIRTY_LOG_ENABLE = 0, DIRTY_LOG_GET = 1, DIRTY_LOG_DISABLE = 2 };

static inline int rec_is_memory(unsigned kind) { return kind <= REC_MMIO_WRITE; }

struct trace_record {
	uint8_t kind;        /* enum rec_kind */
	uint16_t vcpu;
	uint32_t size;       /* bytes accessed (memory records) */
	uint32_t arg;        /* control records: op or marker id */
	uint64_t icount;     /* instructions since the previous record of this vCPU */
	uint64_t addr;
	uint64_t len;        /* REC_UNMAP, REC_MEMSLOT: length in bytes */
};

#endif
