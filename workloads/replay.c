/* workloads/replay — the "trace" source: replays a trace file (traces/trace.h).
 *
 * workload.trace is one multi-vCPU trace (each vCPU replays the records of its own vCPU
 * number, reading the file through its own decoder: memory stays bounded and vCPUs never
 * wait for each other) or a comma-separated list with one single-vCPU trace per vCPU.  At
 * the end of its records a vCPU starts again (workload.trace_end = loop) or halts (stop).
 */
#include "workloads/workload.h"

#include "sim/config.h"
#include "traces/trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct replay {
	struct trace_reader *r;
	char path[CONFIG_PATH_MAX];
	uint16_t vcpu;          /* records of this vCPU (multi-vCPU file) */
	bool filter;            /* a multi-vCPU file: drop the other vCPUs' records */
	bool renumber;          /* a per-vCPU file: every record is ours, give it our number */
	bool loop;
	uint64_t ours;          /* records of ours seen in the current pass */
};

/* The idx-th comma-separated element of list, or NULL if there are fewer. */
static const char *list_at(const char *list, uint32_t idx, char *buf, size_t n)
{
	const char *p = list;
	for (uint32_t i = 0; i < idx; i++) {
		p = strchr(p, ',');
		if (!p)
			return NULL;
		p++;
	}
	size_t len = strcspn(p, ",");
	if (len >= n)
		len = n - 1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return buf;
}

static void *replay_create(const struct scenario *sc, const struct guest_layout *l, uint32_t vcpu,
			   char *err, size_t errlen)
{
	struct replay *rp = calloc(1, sizeof(*rp));
	struct trace_error te;
	(void)l;

	if (!rp) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	bool per_vcpu = strchr(sc->trace, ',') != NULL;
	if (per_vcpu && !list_at(sc->trace, vcpu, rp->path, sizeof(rp->path))) {
		snprintf(err, errlen, "workload.trace lists fewer traces than guest.vcpus (%u)", sc->vcpus);
		free(rp);
		return NULL;
	}
	if (!per_vcpu)
		snprintf(rp->path, sizeof(rp->path), "%s", sc->trace);
	int r = trace_open(rp->path, &rp->r, &te);
	if (r) {
		snprintf(err, errlen, "%s", te.msg);
		free(rp);
		return NULL;
	}
	const struct trace_header *h = trace_reader_header(rp->r);
	bool gpa = h->addr_kind == TRACE_ADDR_GPA;
	if (gpa != (sc->paging == GUEST_PAGING_NONE)) {
		snprintf(err, errlen, "%s: its addresses are %s, so guest.paging must be %s", rp->path,
			 gpa ? "GPAs" : "GVAs", gpa ? "none" : "4-level");
		trace_close(rp->r);
		free(rp);
		return NULL;
	}
	/* a 1-vCPU file replayed by vCPU 0 needs neither: its records are all vCPU 0's */
	bool all_ours = h->nr_vcpus == 1 && vcpu == 0;
	rp->filter = !per_vcpu && !all_ours;
	rp->renumber = per_vcpu && !all_ours;
	rp->vcpu = (uint16_t)vcpu;
	rp->loop = sc->trace_end == TRACE_END_LOOP;
	return rp;
}

/* The next records of ours: a batch from the trace, less other vCPUs' records. */
static int replay_fill(void *priv, struct trace_record *recs, unsigned max, char *err, size_t errlen)
{
	struct replay *rp = priv;
	struct trace_error te;

	for (;;) {
		int r = trace_read(rp->r, recs, max, &te);
		if (r < 0) {
			snprintf(err, errlen, "%s", te.msg);
			return r;
		}
		if (r == 0) {
			/* a vCPU with no records at all halts instead of spinning on rewinds */
			if (!rp->loop || !rp->ours)
				return 0;
			rp->ours = 0;
			if ((r = trace_rewind(rp->r, &te)) < 0) {
				snprintf(err, errlen, "%s", te.msg);
				return r;
			}
			continue;
		}
		unsigned n = (unsigned)r;
		if (rp->filter) {
			/* keep ours, in order; they already carry our vCPU number */
			n = 0;
			for (unsigned i = 0; i < (unsigned)r; i++) {
				if (recs[i].vcpu != rp->vcpu)
					continue;
				if (n != i)
					recs[n] = recs[i];
				n++;
			}
			if (!n)
				continue;
		} else if (rp->renumber) {
			for (unsigned i = 0; i < n; i++)
				recs[i].vcpu = rp->vcpu;
		}
		rp->ours += n;
		return (int)n;
	}
}

static void replay_destroy(void *priv)
{
	struct replay *rp = priv;
	trace_close(rp->r);
	free(rp);
}

const struct workload_ops workload_trace = {
	.name = "trace", .help = "replays workload.trace",
	.create = replay_create, .fill = replay_fill, .destroy = replay_destroy,
};
