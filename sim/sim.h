/* sim/sim — one simulation: owns the engine, the host, the KVM model, the guest and its
 * vCPUs, the VMM thread that runs the [events] schedule, and the stats (README, Design: house style: no
 * globals, a struct sim is passed explicitly). */
#ifndef EPTSIM_SIM_SIM_H
#define EPTSIM_SIM_SIM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

struct scenario;
struct stats;
struct sim;

enum engine_mode { ENGINE_BATCHED, ENGINE_PER_ACCESS };

/* Called every output.sample_us of simulated time with (now, end) in cycles. */
typedef void (*sim_progress_fn)(void *ctx, uint64_t now, uint64_t end);

/* Build everything.  NULL with a message in err on failure. */
struct sim *sim_new(const struct scenario *sc, enum engine_mode mode, char *err, size_t errlen);
/* What sim_new() checks of its input beyond config_validate(), without building the guest:
 * sim_check_workload() makes (and frees) the workload of each vCPU, so every trace of
 * workload.trace opens and its header fits the guest, or the generator's needs are met;
 * sim_check_elf() loads every ELF of a workload.elf list.  sim_check() does both.  A sweep
 * runs them for every run before it starts any.  0, or a negative errno with err set. */
int sim_check(const struct scenario *sc, char *err, size_t errlen);
int sim_check_workload(const struct scenario *sc, char *err, size_t errlen);
int sim_check_elf(const char *list, char *err, size_t errlen);
void sim_free(struct sim *s);
void sim_set_progress(struct sim *s, sim_progress_fn fn, void *ctx);
/* Run to workload.duration_ms.  0, or -EINVAL when a workload failed (a bad trace record):
 * sim_error() says what, naming the file and the record; -EINTR when the flag given to
 * sim_set_interrupt() was set (the stats are published, marked "complete": false). */
int sim_run(struct sim *s);
/* Stop the run between two events once *flag is non-zero (a SIGINT/SIGTERM handler sets it). */
void sim_set_interrupt(struct sim *s, const volatile sig_atomic_t *flag);
const char *sim_error(const struct sim *s);

struct stats *sim_stats(struct sim *s);
struct attribution;
/* ELF attribution of the run (NULL without workload.elf). */
const struct attribution *sim_attribution(const struct sim *s);
bool sim_has_symbols(const struct sim *s);
struct kvm *sim_kvm(struct sim *s);
/* The whole stats.json document.  New reference. */
json_t *sim_results_json(struct sim *s);
/* What a run cost this machine (DIR/timing.json; not in stats.json, which the seed
 * determines byte for byte). */
struct sim_timing {
	double build_s, run_s;     /* wall seconds to build the guest, to run it */
	long peak_rss_kib;         /* getrusage() ru_maxrss */
};
/* Replace DIR's results with this run's, in one swap (sim/resdir.h): DIR/series/ *.dat
 * (with output.lock_timeline: series/lock_timeline.dat too), DIR/config.ini, DIR/config.hash
 * (config_hash()), DIR/stats.json and, with timing, DIR/timing.json.  A reader sees the old
 * run or this one, never a mix; the old run's files (its series too) are gone; files in DIR
 * that are not results stay.  0, or -errno (the first failed write's: ENOSPC on a full
 * disk) with err (may be NULL) naming the file (DIR/stats.json) or the step and path. */
int sim_write_results(struct sim *s, const char *dir, const struct sim_timing *timing,
		      char *err, size_t errlen);
/* Write a JSON document to path atomically (temp file + rename). */
int write_json_atomic(json_t *doc, const char *path);
/* Write path atomically, its text coming from fn.  0, or -errno: that of the first failed
 * write (struct wfile, sim/paths.h), so a full disk is ENOSPC. */
int write_text_atomic(const char *path, void (*fn)(FILE *f, void *ctx), void *ctx);
/* Bytes of host memory a run of sc needs before its workload maps anything: the per-vCPU
 * structures, the guest frame pools' scatter stacks (allocated eagerly with 4K guest
 * pages) and, with guest.prefault, the EPT of every present memslot (sptes, shadow pages
 * and the rmaps they touch).  Memory mapped lazily by the workload is not in it, so it is
 * a lower bound for runs that are not prefaulted.  Pure: a function of sc. */
uint64_t sim_estimate_bytes(const struct scenario *sc);
/* MemAvailable of /proc/meminfo in bytes, 0 if unknown. */
uint64_t sim_mem_available(void);

#endif
