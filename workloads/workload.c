#include "workloads/workload.h"

#include "cpu/guest.h"
#include "sim/config.h"

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
	w->priv = o->create(sc, l, vcpu, err, errlen);
	if (!w->priv) {
		free(w);
		return NULL;
	}
	return w;
}

int workload_next(struct workload *w, struct trace_record *r)
{
	return w->ops->next(w->priv, r, w->err, sizeof(w->err));
}

void workload_free(struct workload *w)
{
	if (!w)
		return;
	w->ops->destroy(w->priv);
	free(w);
}

uint64_t workload_data_base(const struct scenario *sc, const struct guest_layout *l, uint32_t vcpu)
{
	if (sc->paging == GUEST_PAGING_NONE)
		return guest_pool_base(l, vcpu);
	return GUEST_DATA_BASE(1);
}
