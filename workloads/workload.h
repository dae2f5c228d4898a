/* workloads/workload — synthetic sources of trace records, one stream per vCPU.
 *
 * A generator is a named row of workload_generators[]: it makes the records one vCPU
 * executes, in the same struct trace_record a captured trace decodes to, so generated and
 * captured workloads are interchangeable.  Each stream draws from its own random stream
 * (seed, vCPU), so streams never depend on how the engine interleaves vCPUs.
 */
#ifndef EPTSIM_WORKLOADS_WORKLOAD_H
#define EPTSIM_WORKLOADS_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "traces/record.h"

struct scenario;
struct guest_layout;
struct workload;

struct workload_ops {
	const char *name;
	const char *help;
	struct workload *(*create)(const struct scenario *sc, const struct guest_layout *l, uint32_t vcpu);
	bool (*next)(struct workload *w, struct trace_record *r);
	void (*destroy)(struct workload *w);
};

extern const struct workload_ops workload_generators[];

/* NULL with errno = ENOENT if sc->generator names no generator. */
struct workload *workload_new(const struct scenario *sc, const struct guest_layout *l, uint32_t vcpu);
/* false when the stream is over (generators never end; traces do). */
bool workload_next(struct workload *w, struct trace_record *r);
void workload_free(struct workload *w);

#endif
