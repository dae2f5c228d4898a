/* traces/trace — eptsim's trace format: reader and writer (README, Traces).
 *
 * A trace is a gzip stream (`zcat` opens it) of:
 *   header:  "EPTSIMTR" (8 bytes), version (varint), vCPU count (varint), address kind
 *            (1 byte: 0 GVA, 1 GPA), paging (1 byte: 0 4-level, 1 none), source text
 *            (varint length + bytes, at most TRACE_SOURCE_MAX)
 *   records: one tag byte, then varints (LEB128); addresses are zigzag deltas from the
 *            previous address of the same vCPU and stream (fetches and data separately)
 *   end:     the REC_END tag, then the record count (varint): a trace without it is
 *            truncated.
 * The exact byte layout is in trace.c and the README.  Reading streams through a fixed
 * buffer: memory use does not grow with the trace.
 *
 * The text form (`eptsim trace cat`, `eptsim trace convert`) is one record a line:
 *   # eptsim-trace 1 vcpus=4 addr=gva paging=4-level source="..."
 *   <vcpu> R|W|X|MR|MW <addr hex> <size> <icount>
 *   <vcpu> UNMAP <addr hex> <len hex> <icount>
 *   <vcpu> MEMSLOT create|delete|move|flags <addr hex> <len hex> <icount>
 *   <vcpu> DIRTY enable|get|disable <addr hex> <icount>
 *   <vcpu> MARK <id> <icount>
 * cat then convert gives back the identical binary trace.
 */
#ifndef EPTSIM_TRACES_TRACE_H
#define EPTSIM_TRACES_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "traces/record.h"

#define TRACE_MAGIC "EPTSIMTR"
#define TRACE_VERSION 1
#define TRACE_SOURCE_MAX 1024
#define TRACE_MAX_VCPUS 4096

enum trace_addr_kind { TRACE_ADDR_GVA = 0, TRACE_ADDR_GPA = 1 };
enum trace_paging { TRACE_PAGING_4LEVEL = 0, TRACE_PAGING_NONE = 1 };

struct trace_header {
	uint32_t version;
	uint32_t nr_vcpus;
	uint8_t addr_kind;           /* enum trace_addr_kind */
	uint8_t paging;              /* enum trace_paging */
	char source[TRACE_SOURCE_MAX + 1];
};

/* Errors name the file and the record (or text line) number. */
struct trace_error { char msg[512]; };

struct trace_reader;
struct trace_writer;

/* Open and read the header.  0 or negative errno (-EINVAL for a bad trace) with err set. */
int trace_open(const char *path, struct trace_reader **out, struct trace_error *err);
const struct trace_header *trace_reader_header(const struct trace_reader *r);
/* 1: a record; 0: the end (REC_END and the count check passed); < 0: error, err set. */
int trace_next(struct trace_reader *r, struct trace_record *rec, struct trace_error *err);
/* The same for up to max records (max >= 1; more than INT_MAX counts as INT_MAX) into
 * recs[]: how many (> 0), 0 at the end, < 0 on an error.  The records before an error or
 * the end come first; the end or the error is then what the next call returns.  Reads
 * exactly the records trace_next() would, with the same errors; it is faster because a run
 * of memory records is decoded in one loop. */
int trace_read(struct trace_reader *r, struct trace_record *recs, unsigned max,
	       struct trace_error *err);
uint64_t trace_reader_count(const struct trace_reader *r);   /* records returned so far */
/* Back to the first record (replay loops). */
int trace_rewind(struct trace_reader *r, struct trace_error *err);
void trace_close(struct trace_reader *r);

/* Create path (written as path.tmp.PID, renamed by trace_finish).  path "-" is stdout. */
int trace_create(const char *path, const struct trace_header *h, struct trace_writer **out,
		 struct trace_error *err);
/* Records must name a vCPU below h->nr_vcpus (else -EINVAL). */
int trace_write(struct trace_writer *w, const struct trace_record *rec, struct trace_error *err);
uint64_t trace_writer_count(const struct trace_writer *w);
/* Write the end marker, flush, close, rename.  Frees w. */
int trace_finish(struct trace_writer *w, struct trace_error *err);
/* Give up: close and delete the temporary file.  Frees w. */
void trace_abort(struct trace_writer *w);

/* Text form. */
void trace_format_header(const struct trace_header *h, FILE *out);
void trace_format_record(const struct trace_record *rec, FILE *out);
/* Parse one text line (no trailing newline needed).  Returns 1 for a record, 2 for the
 * header line (h filled), 0 for a blank or comment line, -EINVAL with err naming lineno. */
int trace_parse_line(const char *line, uint64_t lineno, const char *path, struct trace_record *rec,
		     struct trace_header *h, struct trace_error *err);

#endif
