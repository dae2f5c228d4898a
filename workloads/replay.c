/* workloads/replay — the "trace" source: replays a trace file (traces/trace.h).
 *
 * workload.trace is one multi-vCPU trace (each vCPU replays the records of its own vCPU
 * number, reading the file through its own decoder: memory stays bounded and vCPUs never
 * wait for each other) or a comma-separated list with one single-vCPU trace per vCPU.  At
 * the end of its records a vCPU starts again (workload.trace_end = loop) or halts (stop).
 */
#include "workloads/workload.h"

#include "sim/config.h"
#include "cpu/guest.h"
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
	bool gpa;               /* the trace's addresses are GPAs (guest.paging = none) */
	uint64_t gpa_limit;     /* a GPA trace's memory records must end at or below it */
	uint64_t directmap_end; /* a GVA trace's kernel addresses: the direct map, the I/O window */
	uint64_t ours;          /* records of ours seen in the current pass */
	uint32_t nr_vcpus;      /* guest.vcpus: a multi-vCPU file's records must name one of them */
};

/* The top of the guest-physical space: the end of the highest memslot (present at time 0
 * or not: a toggled ROM) or of the I/O window below 4 GiB, whichever is higher.  Below it,
 * a GPA no slot covers is MMIO (emulated, legal); at or above it the trace is wrong. */
static uint64_t guest_gpa_limit(const struct scenario *sc)
{
	uint64_t top = GUEST_IO_GPA + GUEST_IO_SIZE;
	for (uint32_t i = 0; i < sc->nr_slots; i++)
		if (sc->slots[i].base + sc->slots[i].size > top)
			top = sc->slots[i].base + sc->slots[i].size;
	return top;
}

/* A record's address is one the guest can have: for a GPA trace, below guest_gpa_limit();
 * for a GVA trace, a user address (any one: anonymous memory the guest maps on first
 * touch), or the kernel's direct map or I/O window (mapped by the guest kernel).
 * Mirrors nothing in KVM: a guest cannot issue such an access, so the trace is bad. */
static bool addr_ok(const struct replay *rp, const struct trace_record *rec)
{
	uint64_t end = rec->addr + (rec->size ? rec->size : 1);
	if (end < rec->addr)
		return false;
	if (rp->gpa)
		return end <= rp->gpa_limit;
	if (end <= GUEST_USER_TOP)
		return true;
	if (rec->addr >= GUEST_DIRECTMAP && end <= rp->directmap_end)
		return true;
	return rec->addr >= GUEST_IOREMAP && end <= GUEST_IOREMAP + GUEST_IO_SIZE;
}

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
	rp->gpa = gpa;
	rp->nr_vcpus = sc->vcpus;
	rp->gpa_limit = guest_gpa_limit(sc);
	rp->directmap_end = GUEST_DIRECTMAP + sc->kernel_mem;
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
		for (unsigned i = 0; i < n; i++) {
			if (rp->filter && recs[i].vcpu >= rp->nr_vcpus) {
				snprintf(err, errlen, "%s: record %llu: vCPU %u does not exist (guest.vcpus = %u)",
					 rp->path, (unsigned long long)(trace_reader_count(rp->r) - n + i + 1),
					 recs[i].vcpu, rp->nr_vcpus);
				return -EINVAL;
			}
			if (rp->filter && recs[i].vcpu != rp->vcpu)
				continue;
			unsigned long long no = trace_reader_count(rp->r) - n + i + 1;
			if (recs[i].kind == REC_MEMSLOT && recs[i].arg == MEMSLOT_MOVE &&
			    recs[i].len >= GUEST_GPA_SPACE) {
				/* no slot can start there (len is a move's new base) */
				snprintf(err, errlen, "%s: record %llu: memslot move to 0x%llx: beyond the "
					 "48-bit guest-physical space", rp->path, no,
					 (unsigned long long)recs[i].len);
				return -EINVAL;
			}
			if (!rec_is_memory(recs[i].kind) || addr_ok(rp, &recs[i]))
				continue;
			if (rp->gpa)
				snprintf(err, errlen, "%s: record %llu: GPA 0x%llx (size %u) is beyond the guest "
					 "(its memslots and the I/O window end at 0x%llx)", rp->path, no,
					 (unsigned long long)recs[i].addr, recs[i].size,
					 (unsigned long long)rp->gpa_limit);
			else
				snprintf(err, errlen, "%s: record %llu: GVA 0x%llx (size %u) is neither a user "
					 "address (below 0x%llx) nor in the guest kernel's direct map or I/O window",
					 rp->path, no, (unsigned long long)recs[i].addr, recs[i].size,
					 (unsigned long long)GUEST_USER_TOP);
			return -EINVAL;
		}
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
