#include "traces/tools.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* An open-addressing set of page numbers for counting distinct pages, and in front of it a
 * small direct-mapped cache of keys known to be in it: accesses mostly stay on a few pages
 * (code, stack, heap), which then cost no hashing and no probing. */
#define PAGESET_RECENT 16
struct pageset { uint64_t *v; uint64_t cap, n; uint64_t recent[PAGESET_RECENT]; };

static int pageset_insert(struct pageset *s, uint64_t key)
{
	if (2 * (s->n + 1) > s->cap) {
		uint64_t ncap = s->cap ? 2 * s->cap : 1024;
		uint64_t *nv = calloc(ncap, sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		for (uint64_t i = 0; i < s->cap; i++) {
			if (!s->v[i])
				continue;
			uint64_t j = (s->v[i] * 0x9e3779b97f4a7c15ULL) & (ncap - 1);
			while (nv[j])
				j = (j + 1) & (ncap - 1);
			nv[j] = s->v[i];
		}
		free(s->v);
		s->v = nv;
		s->cap = ncap;
	}
	uint64_t j = (key * 0x9e3779b97f4a7c15ULL) & (s->cap - 1);
	while (s->v[j]) {
		if (s->v[j] == key)
			return 0;
		j = (j + 1) & (s->cap - 1);
	}
	s->v[j] = key;
	s->n++;
	return 0;
}

static inline int pageset_add(struct pageset *s, uint64_t page)
{
	uint64_t key = page + 1;   /* 0 marks an empty slot */
	uint64_t *recent = &s->recent[key % PAGESET_RECENT];
	if (*recent == key)
		return 0;
	*recent = key;
	return pageset_insert(s, key);
}

/* Records read at once (trace_read). */
#define INFO_BATCH 256

int trace_info_read(const char *path, struct trace_info *info, struct trace_error *err)
{
	struct trace_reader *r;
	struct trace_record recs[INFO_BATCH];
	struct pageset p4 = { 0 }, p2 = { 0 };
	struct stat st;
	int ret;

	memset(info, 0, sizeof(*info));
	if ((ret = trace_open(path, &r, err)))
		return ret;
	info->h = *trace_reader_header(r);
	info->by_vcpu = calloc(info->h.nr_vcpus, sizeof(*info->by_vcpu));
	if (!info->by_vcpu) {
		trace_close(r);
		return -ENOMEM;
	}
	info->min_addr = UINT64_MAX;
	while ((ret = trace_read(r, recs, INFO_BATCH, err)) > 0) {
		for (int i = 0; i < ret; i++) {
			const struct trace_record *rec = &recs[i];
			info->records++;
			info->by_kind[rec->kind]++;
			info->by_vcpu[rec->vcpu]++;
			info->instructions += rec->icount;
			if (!rec_is_memory(rec->kind))
				continue;
			if (rec->addr < info->min_addr)
				info->min_addr = rec->addr;
			if (rec->addr > info->max_addr)
				info->max_addr = rec->addr;
			if (pageset_add(&p4, rec->addr >> 12) || pageset_add(&p2, rec->addr >> 21)) {
				snprintf(err->msg, sizeof(err->msg), "%s: out of memory counting pages", path);
				ret = -ENOMEM;
				break;
			}
		}
		if (ret < 0)
			break;
	}
	trace_close(r);
	info->pages_4k = p4.n;
	info->pages_2m = p2.n;
	free(p4.v);
	free(p2.v);
	if (strcmp(path, "-") && !stat(path, &st))
		info->file_bytes = (uint64_t)st.st_size;
	if (ret < 0) {
		trace_info_free(info);
		return ret;
	}
	return 0;
}

static const char *const kind_names[REC_NR_KINDS] = {
	"read", "write", "fetch", "mmio-read", "mmio-write", "unmap", "end", "memslot", "dirty-log", "marker",
};

void trace_info_print(const struct trace_info *info, FILE *out)
{
	const struct trace_header *h = &info->h;
	fprintf(out, "format        eptsim trace version %u\n", h->version);
	fprintf(out, "source        %s\n", h->source);
	fprintf(out, "vcpus         %u\n", h->nr_vcpus);
	fprintf(out, "addresses     %s, paging %s\n", h->addr_kind == TRACE_ADDR_GPA ? "GPA" : "GVA",
		h->paging == TRACE_PAGING_NONE ? "none" : "4-level");
	fprintf(out, "records       %llu\n", (unsigned long long)info->records);
	for (int k = 0; k < REC_NR_KINDS; k++)
		if (info->by_kind[k])
			fprintf(out, "  %-11s %llu\n", kind_names[k], (unsigned long long)info->by_kind[k]);
	for (uint32_t v = 0; v < h->nr_vcpus; v++)
		fprintf(out, "  vcpu %-6u %llu\n", v, (unsigned long long)info->by_vcpu[v]);
	fprintf(out, "instructions  %llu\n", (unsigned long long)info->instructions);
	if (info->max_addr)
		fprintf(out, "address range 0x%llx - 0x%llx\n", (unsigned long long)info->min_addr,
			(unsigned long long)info->max_addr);
	fprintf(out, "pages         %llu distinct 4K, %llu distinct 2M\n", (unsigned long long)info->pages_4k,
		(unsigned long long)info->pages_2m);
	if (info->file_bytes && info->records)
		fprintf(out, "size          %llu bytes, %.2f bytes per record\n", (unsigned long long)info->file_bytes,
			(double)info->file_bytes / (double)info->records);
}

void trace_info_free(struct trace_info *info)
{
	free(info->by_vcpu);
	info->by_vcpu = NULL;
}

int trace_cat(const char *path, FILE *out, struct trace_error *err)
{
	struct trace_reader *r;
	struct trace_record rec;
	int ret;

	if ((ret = trace_open(path, &r, err)))
		return ret;
	trace_format_header(trace_reader_header(r), out);
	while ((ret = trace_next(r, &rec, err)) > 0)
		trace_format_record(&rec, out);
	trace_close(r);
	if (ret == 0 && (fflush(out) || ferror(out))) {
		snprintf(err->msg, sizeof(err->msg), "writing the text: %s", strerror(errno));
		return -EIO;
	}
	return ret;
}

int trace_convert(const char *in_txt, const char *out, struct trace_error *err)
{
	FILE *in = strcmp(in_txt, "-") ? fopen(in_txt, "r") : stdin;
	struct trace_writer *w = NULL;
	struct trace_header h;
	struct trace_record rec;
	char *line = NULL;
	size_t cap = 0;
	uint64_t lineno = 0;
	int ret = 0;

	if (!in) {
		int e = errno;
		snprintf(err->msg, sizeof(err->msg), "%s: %s", in_txt, strerror(e));
		return -e;
	}
	ssize_t len;
	while ((len = getline(&line, &cap, in)) >= 0) {
		lineno++;
		if (memchr(line, '\0', (size_t)len)) {
			/* the parser would stop at it and take the line's start for all of it */
			snprintf(err->msg, sizeof(err->msg), "%s:%llu: a NUL byte in the line", in_txt,
				 (unsigned long long)lineno);
			ret = -EINVAL;
			break;
		}
		line[strcspn(line, "\n")] = '\0';
		int k = trace_parse_line(line, lineno, in_txt, &rec, &h, err);
		if (k < 0) {
			ret = k;
			break;
		}
		if (k == 2) {
			if (w) {
				snprintf(err->msg, sizeof(err->msg), "%s:%llu: a second header line", in_txt,
					 (unsigned long long)lineno);
				ret = -EINVAL;
				break;
			}
			if ((ret = trace_create(out, &h, &w, err)))
				break;
		} else if (k == 1) {
			if (!w) {
				snprintf(err->msg, sizeof(err->msg),
					 "%s:%llu: a record before the header line (# eptsim-trace ...)", in_txt,
					 (unsigned long long)lineno);
				ret = -EINVAL;
				break;
			}
			if ((ret = trace_write(w, &rec, err))) {
				/* the writer names the output's record: say which input line it was */
				char why[sizeof(err->msg)];
				snprintf(why, sizeof(why), "%s", err->msg);
				snprintf(err->msg, sizeof(err->msg), "%s:%llu: %s", in_txt,
					 (unsigned long long)lineno, why);
				break;
			}
		}
	}
	free(line);
	if (in != stdin)
		fclose(in);
	if (!ret && !w) {
		snprintf(err->msg, sizeof(err->msg), "%s: no header line (# eptsim-trace ...)", in_txt);
		ret = -EINVAL;
	}
	if (ret) {
		if (w)
			trace_abort(w);
		return ret;
	}
	return trace_finish(w, err);
}

int trace_merge(const char *const *in, int n, const char *out, struct trace_error *err)
{
	struct trace_reader **r = calloc((size_t)n, sizeof(*r));
	struct trace_record *next = calloc((size_t)n, sizeof(*next));
	uint64_t *clock = calloc((size_t)n, sizeof(*clock));
	bool *live = calloc((size_t)n, sizeof(*live));
	struct trace_writer *w = NULL;
	struct trace_header h;
	int ret = 0;

	if (!r || !next || !clock || !live) {
		ret = -ENOMEM;
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		goto out;
	}
	memset(&h, 0, sizeof(h));
	h.version = TRACE_VERSION;
	h.nr_vcpus = (uint32_t)n;
	int len = snprintf(h.source, sizeof(h.source), "merge of");
	for (int i = 0; i < n; i++) {
		if ((ret = trace_open(in[i], &r[i], err)))
			goto out;
		const struct trace_header *hi = trace_reader_header(r[i]);
		if (hi->nr_vcpus != 1) {
			snprintf(err->msg, sizeof(err->msg), "%s: has %u vCPUs; merge takes single-vCPU traces", in[i],
				 hi->nr_vcpus);
			ret = -EINVAL;
			goto out;
		}
		if (i == 0) {
			h.addr_kind = hi->addr_kind;
			h.paging = hi->paging;
		} else if (hi->addr_kind != h.addr_kind || hi->paging != h.paging) {
			snprintf(err->msg, sizeof(err->msg), "%s: its address kind or paging differs from %s's", in[i],
				 in[0]);
			ret = -EINVAL;
			goto out;
		}
		if (len < (int)sizeof(h.source))
			len += snprintf(h.source + len, sizeof(h.source) - (size_t)len, " %s", in[i]);
		ret = trace_next(r[i], &next[i], err);
		if (ret < 0)
			goto out;
		live[i] = ret > 0;
		ret = 0;
	}
	if ((ret = trace_create(out, &h, &w, err)))
		goto out;
	for (;;) {
		int best = -1;
		for (int i = 0; i < n; i++)
			if (live[i] && (best < 0 || clock[i] + next[i].icount < clock[best] + next[best].icount))
				best = i;
		if (best < 0)
			break;
		struct trace_record rec = next[best];
		clock[best] += rec.icount;
		rec.vcpu = (uint16_t)best;
		if ((ret = trace_write(w, &rec, err)))
			goto out;
		ret = trace_next(r[best], &next[best], err);
		if (ret < 0)
			goto out;
		live[best] = ret > 0;
		ret = 0;
	}
	ret = trace_finish(w, err);
	w = NULL;
out:
	if (w)
		trace_abort(w);
	for (int i = 0; r && i < n; i++)
		if (r[i])
			trace_close(r[i]);
	free(r);
	free(next);
	free(clock);
	free(live);
	return ret;
}
