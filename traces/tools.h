/* traces/tools — what `eptsim trace ...` does: info, cat, convert, merge.  Each returns 0,
 * -EINVAL for bad input (err names the file and the record or line), or -errno. */
#ifndef EPTSIM_TRACES_TOOLS_H
#define EPTSIM_TRACES_TOOLS_H

#include <stdint.h>
#include <stdio.h>

#include "traces/trace.h"

struct trace_info {
	struct trace_header h;
	uint64_t records, by_kind[REC_NR_KINDS];
	uint64_t *by_vcpu;                 /* h.nr_vcpus entries */
	uint64_t instructions;             /* sum of icount */
	uint64_t min_addr, max_addr;       /* over memory records */
	uint64_t pages_4k, pages_2m;       /* distinct pages touched by memory records */
	uint64_t file_bytes;
};

int trace_info_read(const char *path, struct trace_info *info, struct trace_error *err);
void trace_info_print(const struct trace_info *info, FILE *out);
void trace_info_free(struct trace_info *info);

/* Text form of a whole trace. */
int trace_cat(const char *path, FILE *out, struct trace_error *err);
/* Text form (as trace_cat writes it) -> binary trace. */
int trace_convert(const char *in_txt, const char *out, struct trace_error *err);
/* n single-vCPU traces -> one trace with vCPU i = input i, interleaved by instruction count
 * (the input that has executed the fewest instructions goes next; ties: lower i). */
int trace_merge(const char *const *in, int n, const char *out, struct trace_error *err);

#endif
