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
	bool filter;            /* false: a per-vCPU file, every record is ours */
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
	rp->filter = !per_vcpu;
	rp->vcpu = (uint16_t)vcpu;
	rp->loop = sc->trace_end == TRACE_END_LOOP;
	return rp;
}

static int replay_next(void *priv, struct trace_record *rec, char *err, size_t errlen)
{
	struct replay *rp = priv;
	struct trace_error te;

	for (;;) {
		int r = trace_next(rp->r, rec, &te);
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
		if (rp->filter && rec->vcpu != rp->vcpu)
			continue;
		rp->ours++;
		rec->vcpu = rp->vcpu;
		return 1;
	}
}

static void replay_destroy(void *priv)
{
	struct replay *rp = priv;
	trace_close(rp->r);
	free(rp);
}

const struct workload_ops workload_trace = {
	"trace", "replays workload.trace", replay_create, replay_next, replay_destroy,
};
