/* workloads/workload — sources of trace records, one stream per vCPU.
 *
 * A source is a named row of workload_sources[]: the synthetic generators, and "trace",
 * which replays a trace file.  Every source yields the same struct trace_record a trace
 * decodes to, so generated and captured workloads are interchangeable (and
 * `eptsim workload NAME --out FILE` writes any generator as a trace).  Each generator draws
 * from its own random stream (seed, vCPU), so streams never depend on how the engine
 * interleaves vCPUs.
 */
#ifndef EPTSIM_WORKLOADS_WORKLOAD_H
#define EPTSIM_WORKLOADS_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "traces/record.h"

struct scenario;
struct guest_layout;

struct workload_ops {
	const char *name;
	const char *help;
	/* NULL with a message in err on failure. */
	void *(*create)(const struct scenario *sc, const struct guest_layout *l, uint32_t vcpu,
			char *err, size_t errlen);
	/* 1: a record; 0: the stream is over; < 0: error (message in err).  NULL if fill is
	 * set. */
	int (*next)(void *priv, struct trace_record *r, char *err, size_t errlen);
	void (*destroy)(void *priv);
	/* Or up to max records at once into recs[] (a trace file decodes runs of records):
	 * how many (> 0), 0 at the end, < 0 on an error; the records before an end or an
	 * error come first.  NULL: the workload fills its batch by calling next(). */
	int (*fill)(void *priv, struct trace_record *recs, unsigned max, char *err, size_t errlen);
};

/* Device MMIO and accesses to a toggled slot (workload.mmio_*, slot_access_rate) are mixed
 * into any source's stream by workload_next(), so every generator and trace can be run
 * against MMIO and memslot churn. */
struct workload_mix;

/* Records a source delivers at once: enough that the calls and the loop set-up per batch
 * are noise, few enough to stay in L1 (40 bytes a record). */
#define WORKLOAD_BATCH 256

struct workload {
	const struct workload_ops *ops;
	void *priv;
	struct workload_mix *mix;   /* NULL: nothing mixed in */
	/* the source's records read ahead; batch[batch_pos, batch_nr) are not taken yet */
	struct trace_record *batch; /* [WORKLOAD_BATCH] */
	uint32_t batch_pos, batch_nr;
	int held;                   /* next() sources: the end or error after the batch, or 1 */
	struct trace_record one;    /* the last record mixed in */
	char err[512];       /* the last error of next() or fill() */
};

#define WORKLOAD_DEVICE_STRIDE (16ULL << 10)   /* a device: register page, doorbell page, ... */

extern const struct workload_ops workload_kbuild, workload_random, workload_stream,
	workload_zipf_kv, workload_touch_all, workload_trace;
/* NULL-terminated list of every source, generators first. */
extern const struct workload_ops *const workload_sources[];

const struct workload_ops *workload_find(const char *name);
/* The source for vCPU vcpu: the trace if sc->trace is set, else sc->generator.  NULL with a
 * message in err. */
struct workload *workload_new(const struct scenario *sc, const struct guest_layout *l, uint32_t vcpu,
			      char *err, size_t errlen);
/* The out-of-line part of workload_next_ref(). */
int workload_next_slow(struct workload *w, const struct trace_record **r);
/* The next record, in place: 1 with *r pointing at it until the next call on w; 0: over;
 * < 0: error (w->err).  Inline for the common case (a record of the current batch, nothing
 * mixed in), which is one call per simulated access: no copy, no call. */
static inline int workload_next_ref(struct workload *w, const struct trace_record **r)
{
	if (__builtin_expect(w->batch_pos < w->batch_nr && !w->mix, 1)) {
		*r = &w->batch[w->batch_pos++];
		return 1;
	}
	return workload_next_slow(w, r);
}
/* The same, copied into *r. */
int workload_next(struct workload *w, struct trace_record *r);
void workload_free(struct workload *w);

/* Where a generator's private data lives for this vCPU: GVA in the process data region when
 * the guest pages, else the GPA of the vCPU's pool. */
uint64_t workload_data_base(const struct scenario *sc, const struct guest_layout *l, uint32_t vcpu);

#endif
