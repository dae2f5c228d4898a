#include "workloads/workload.h"

#include "cpu/guest.h"
#include "sim/config.h"
#include "sim/rng.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct workload_ops *const workload_sources[] = {
	&workload_kbuild, &workload_random, &workload_stream, &workload_zipf_kv, &workload_touch_all,
	&workload_trace, NULL,
};

const struct workload_ops *workload_find(const char *name)
{
	for (int i = 0; workload_sources[i]; i++)
		if (!strcmp(workload_sources[i]->name, name))
			return workload_sources[i];
	return NULL;
}

#define MIX_RNG_STREAM 0x60000ULL
#define DOORBELL_PAGE 1

struct workload_mix {
	struct rng rng;
	uint64_t mmio_thr, slot_thr;       /* on rng_next() */
	uint32_t devices;
	uint64_t slot_gpa, slot_size;
	const struct guest_layout *l;
};

static uint64_t prob_thr(double p)
{
	return p >= 1.0 ? UINT64_MAX : (uint64_t)(p * 18446744073709551616.0);
}

static int mix_new(struct workload *w, const struct scenario *sc, const struct guest_layout *l, uint32_t vcpu,
		   char *err, size_t errlen)
{
	int ts = sc->toggle_slot[0] ? config_slot_index(sc, sc->toggle_slot) : -1;
	bool slots = sc->slot_access_rate > 0 && ts > 0;

	if (!(sc->mmio_devices && sc->mmio_rate > 0) && !slots)
		return 0;
	struct workload_mix *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rng_seed(&m->rng, sc->seed, MIX_RNG_STREAM + vcpu);
	m->l = l;
	m->devices = sc->mmio_devices;
	m->mmio_thr = sc->mmio_devices ? prob_thr(sc->mmio_rate) : 0;
	if (slots) {
		m->slot_gpa = sc->slots[ts].base;
		m->slot_size = sc->slots[ts].size;
		m->slot_thr = prob_thr(sc->slot_access_rate);
		if (l->paging && (m->slot_gpa < GUEST_IO_GPA || m->slot_gpa + m->slot_size > GUEST_IO_GPA + GUEST_IO_SIZE)) {
			snprintf(err, errlen, "workload.slot_access_rate: the slot %s must lie in the I/O window "
				 "[0x%llx, 0x%llx) the guest maps", sc->toggle_slot, GUEST_IO_GPA, GUEST_IO_GPA + GUEST_IO_SIZE);
			free(m);
			return -1;
		}
	}
	if (m->devices * WORKLOAD_DEVICE_STRIDE > GUEST_IO_SIZE) {
		snprintf(err, errlen, "workload.mmio_devices: %u devices do not fit the 16 MiB I/O window", m->devices);
		free(m);
		return -1;
	}
	w->mix = m;
	return 0;
}

/* One mixed-in record instead of the source's, or false. */
static bool mix_next(struct workload_mix *m, struct trace_record *r)
{
	uint64_t u = rng_next(&m->rng);
	uint64_t off = rng_next(&m->rng);

	memset(r, 0, sizeof(*r));
	r->size = 4;
	r->icount = 1;
	if (u < m->mmio_thr) {
		/* a virtio-like device: a doorbell write (the notify) or a register read */
		uint64_t dev = (off >> 32) % m->devices;
		bool doorbell = off & 1;
		uint64_t gpa = GUEST_IO_GPA + dev * WORKLOAD_DEVICE_STRIDE + (doorbell ? DOORBELL_PAGE * 4096 : 0) +
			       ((off >> 4) & 0xffc);
		r->kind = doorbell ? REC_MMIO_WRITE : REC_MMIO_READ;
		r->addr = guest_io_addr(m->l, gpa);
		return true;
	}
	if (u - m->mmio_thr < m->slot_thr && u >= m->mmio_thr) {
		r->kind = REC_READ;
		r->addr = guest_io_addr(m->l, m->slot_gpa + ((off >> 3) % m->slot_size & ~3ULL));
		return true;
	}
	return false;
}

struct workload *workload_new(const struct scenario *sc, const struct guest_layout *l, uint32_t vcpu,
			      char *err, size_t errlen)
{
	const struct workload_ops *o = sc->trace[0] ? &workload_trace : workload_find(sc->generator);

	if (!o) {
		snprintf(err, errlen, "workload.generator: no generator named '%s'", sc->generator);
		return NULL;
	}
	struct workload *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->ops = o;
	w->held = 1;
	/* zeroed: a generator's next() leaves the fields its records do not use alone */
	w->batch = calloc(WORKLOAD_BATCH, sizeof(*w->batch));
	if (!w->batch) {
		snprintf(err, errlen, "out of memory");
		free(w);
		return NULL;
	}
	w->priv = o->create(sc, l, vcpu, err, errlen);
	if (!w->priv || mix_new(w, sc, l, vcpu, err, errlen)) {
		if (w->priv)
			o->destroy(w->priv);
		free(w->batch);
		free(w);
		return NULL;
	}
	return w;
}

/* The next batch from the source: its fill(), or its next() until the batch is full.  An
 * end or an error of next() after some records is held for the following call. */
static int workload_fill(struct workload *w)
{
	int n;

	if (w->ops->fill)
		return w->ops->fill(w->priv, w->batch, WORKLOAD_BATCH, w->err, sizeof(w->err));
	if (w->held <= 0)
		return w->held;
	for (n = 0; n < WORKLOAD_BATCH; n++) {
		int ret = w->ops->next(w->priv, &w->batch[n], w->err, sizeof(w->err));

		if (ret <= 0) {
			w->held = ret;
			return n ? n : ret;
		}
	}
	return n;
}

/* workload_next_ref() when the current batch is used up or records are mixed in.  Reading
 * ahead changes nothing: a source's records never depend on the simulation, and records
 * are mixed in one by one, in front of the source's next one, as before. */
int workload_next_slow(struct workload *w, const struct trace_record **r)
{
	if (w->mix && mix_next(w->mix, &w->one)) {
		*r = &w->one;
		return 1;
	}
	if (w->batch_pos == w->batch_nr) {
		int n = workload_fill(w);

		if (n <= 0)
			return n;
		w->batch_pos = 0;
		w->batch_nr = (uint32_t)n;
	}
	*r = &w->batch[w->batch_pos++];
	return 1;
}

int workload_next(struct workload *w, struct trace_record *r)
{
	const struct trace_record *rec;
	int ret = workload_next_ref(w, &rec);

	if (ret > 0)
		*r = *rec;
	return ret;
}

void workload_free(struct workload *w)
{
	if (!w)
		return;
	w->ops->destroy(w->priv);
	free(w->batch);
	free(w->mix);
	free(w);
}

uint64_t workload_data_base(const struct scenario *sc, const struct guest_layout *l, uint32_t vcpu)
{
	if (sc->paging == GUEST_PAGING_NONE)
		return guest_pool_base(l, vcpu);
	return GUEST_DATA_BASE(1);
}
