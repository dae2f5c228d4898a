#include "sim/fiber.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <ucontext.h>

#if defined(__SANITIZE_ADDRESS__)
#define FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FIBER_ASAN 1
#endif
#endif

#ifdef FIBER_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
				     size_t *size_old);
#endif

struct fiber {
	ucontext_t ctx;          /* the fiber's own context */
	ucontext_t caller;       /* where fiber_yield() returns to */
	fiber_fn fn;
	void *arg;
	void *stack;
	size_t stack_size;
	bool done;
	bool running;
#ifdef FIBER_ASAN
	void *fake_stack;        /* ASan's fake stack of the side being left */
	const void *caller_bottom;
	size_t caller_size;
#endif
};

/* makecontext passes int arguments only: split the pointer in two. */
static void fiber_trampoline(unsigned int lo, unsigned int hi)
{
	struct fiber *f = (struct fiber *)(((uintptr_t)hi << 32) | (uintptr_t)lo);

#ifdef FIBER_ASAN
	__sanitizer_finish_switch_fiber(NULL, &f->caller_bottom, &f->caller_size);
#endif
	f->fn(f->arg);
	f->done = true;
#ifdef FIBER_ASAN
	/* NULL: this stack is finished for good. */
	__sanitizer_start_switch_fiber(NULL, f->caller_bottom, f->caller_size);
#endif
	setcontext(&f->caller);
}

/* getcontext() is returns_twice, but this context is only ever entered through makecontext's
 * entry point, never by returning from getcontext() a second time: no local is clobbered. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wclobbered"
struct fiber *fiber_new(fiber_fn fn, void *arg, size_t stack_size)
{
	struct fiber *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->stack_size = stack_size ? stack_size : FIBER_STACK_DEFAULT;
	f->stack = malloc(f->stack_size);
	if (!f->stack) {
		free(f);
		return NULL;
	}
	f->fn = fn;
	f->arg = arg;
	getcontext(&f->ctx);
	f->ctx.uc_stack.ss_sp = f->stack;
	f->ctx.uc_stack.ss_size = f->stack_size;
	f->ctx.uc_link = NULL;
	uintptr_t p = (uintptr_t)f;
	makecontext(&f->ctx, (void (*)(void))fiber_trampoline, 2,
		    (unsigned int)(p & 0xffffffffu), (unsigned int)(p >> 32));
	return f;
}
#pragma GCC diagnostic pop

void fiber_free(struct fiber *f)
{
	if (!f)
		return;
	assert(!f->running);
	free(f->stack);
	free(f);
}

void fiber_resume(struct fiber *f)
{
	assert(!f->done && !f->running);
	f->running = true;
#ifdef FIBER_ASAN
	void *fake = NULL;
	__sanitizer_start_switch_fiber(&fake, f->stack, f->stack_size);
#endif
	swapcontext(&f->caller, &f->ctx);
#ifdef FIBER_ASAN
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
	f->running = false;
}

void fiber_yield(struct fiber *f)
{
	assert(f->running);
#ifdef FIBER_ASAN
	__sanitizer_start_switch_fiber(&f->fake_stack, f->caller_bottom, f->caller_size);
#endif
	swapcontext(&f->ctx, &f->caller);
#ifdef FIBER_ASAN
	__sanitizer_finish_switch_fiber(f->fake_stack, &f->caller_bottom, &f->caller_size);
#endif
}

bool fiber_done(const struct fiber *f) { return f->done; }
