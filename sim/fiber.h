/* sim/fiber — cooperative coroutines, so that the kernel algorithms eptsim executes can be
 * written as the kernel writes them (loops with `goto restart`, spin_lock that waits,
 * cond_resched_lock that sleeps) while the engine interleaves them with the other actors in
 * simulated time.  A fiber runs until it calls fiber_yield(); the engine resumes it when its
 * next event comes.  Switching is a few instructions of assembly on x86-64 (ucontext
 * elsewhere), annotated for AddressSanitizer.
 */
#ifndef EPTSIM_SIM_FIBER_H
#define EPTSIM_SIM_FIBER_H

#include <stdbool.h>
#include <stddef.h>

struct fiber;
typedef void (*fiber_fn)(void *arg);

#define FIBER_STACK_DEFAULT (256 * 1024)

struct fiber *fiber_new(fiber_fn fn, void *arg, size_t stack_size);
void fiber_free(struct fiber *f);
/* From the engine: run f until it yields or returns. */
void fiber_resume(struct fiber *f);
/* From inside f: give control back to whoever resumed it. */
void fiber_yield(struct fiber *f);
bool fiber_done(const struct fiber *f);

#endif
