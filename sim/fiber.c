#include "sim/fiber.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if !defined(__x86_64__) || defined(FIBER_UCONTEXT)
#include <ucontext.h>
#endif

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
#if defined(__x86_64__) && !defined(FIBER_UCONTEXT)
	void *sp;                /* the fiber's saved stack pointer */
	void *caller_sp;         /* where fiber_yield() returns to */
#else
	ucontext_t ctx;          /* the fiber's own context */
	ucontext_t caller;       /* where fiber_yield() returns to */
#endif
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

/* The fiber and its stack, not started. */
static struct fiber *fiber_alloc(fiber_fn fn, void *arg, size_t stack_size)
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
	return f;
}

/* Runs on the fiber's stack: the function, then back to the caller for good. */
static void fiber_body(struct fiber *f)
{
#ifdef FIBER_ASAN
	__sanitizer_finish_switch_fiber(NULL, &f->caller_bottom, &f->caller_size);
#endif
	f->fn(f->arg);
	f->done = true;
#ifdef FIBER_ASAN
	/* NULL: this stack is finished for good. */
	__sanitizer_start_switch_fiber(NULL, f->caller_bottom, f->caller_size);
#endif
}

#if defined(__x86_64__) && !defined(FIBER_UCONTEXT)
/* A switch is a call: save the callee-saved registers (System V ABI: rbx, rbp, r12-r15, the
 * MXCSR control bits and the x87 control word) on the current stack, store the stack
 * pointer in *save, load `to` and pop the same from there.  Unlike swapcontext() it leaves
 * the signal mask alone, which saves two rt_sigprocmask system calls per switch: the
 * simulator switches fibers at every VM exit, lock wait and preemption. */
void fiber_switch(void **save, void *to);
__asm__(".text\n"
	".globl fiber_switch\n"
	".type fiber_switch, @function\n"
	"fiber_switch:\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	subq $8, %rsp\n"
	"	stmxcsr (%rsp)\n"
	"	fnstcw 4(%rsp)\n"
	"	movq %rsp, (%rdi)\n"
	"	movq %rsi, %rsp\n"
	"	ldmxcsr (%rsp)\n"
	"	fldcw 4(%rsp)\n"
	"	addq $8, %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	".size fiber_switch, .-fiber_switch\n"
	/* a new fiber's first switch returns here with the fiber in r12 and rsp 16-aligned */
	".globl fiber_entry\n"
	".type fiber_entry, @function\n"
	"fiber_entry:\n"
	"	movq %r12, %rdi\n"
	"	call fiber_start\n"
	"	ud2\n"
	".size fiber_entry, .-fiber_entry\n");
void fiber_entry(void);
void fiber_start(struct fiber *f);

void fiber_start(struct fiber *f)
{
	fiber_body(f);
	void *dead;
	fiber_switch(&dead, f->caller_sp);
	abort();   /* never resumed */
}

struct fiber *fiber_new(fiber_fn fn, void *arg, size_t stack_size)
{
	struct fiber *f = fiber_alloc(fn, arg, stack_size);

	if (!f)
		return NULL;
	/* The frame fiber_switch() pops: control words, r15..r12, rbx, rbp, then the return
	 * address (fiber_entry), placed so that rsp is 16-aligned after the ret. */
	uintptr_t top = ((uintptr_t)f->stack + f->stack_size) & ~(uintptr_t)15;
	uint64_t *frame = (uint64_t *)(top - 24) - 7;
	memset(frame, 0, 8 * 8);
	frame[0] = 0x1f80 | (0x037fULL << 32);   /* MXCSR default, x87 control word default */
	frame[4] = (uintptr_t)f;                   /* r12 */
	frame[7] = (uintptr_t)fiber_entry;         /* return address */
	f->sp = frame;
	return f;
}

static void switch_to_fiber(struct fiber *f) { fiber_switch(&f->caller_sp, f->sp); }
static void switch_to_caller(struct fiber *f) { fiber_switch(&f->sp, f->caller_sp); }

#else   /* portable fallback: ucontext */

/* makecontext passes int arguments only: split the pointer in two. */
static void fiber_trampoline(unsigned int lo, unsigned int hi)
{
	struct fiber *f = (struct fiber *)(((uintptr_t)hi << 32) | (uintptr_t)lo);

	fiber_body(f);
	setcontext(&f->caller);
}

/* getcontext() is returns_twice, but this context is only ever entered through makecontext's
 * entry point, never by returning from getcontext() a second time: no local is clobbered. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wclobbered"
struct fiber *fiber_new(fiber_fn fn, void *arg, size_t stack_size)
{
	struct fiber *f = fiber_alloc(fn, arg, stack_size);

	if (!f)
		return NULL;
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

static void switch_to_fiber(struct fiber *f) { swapcontext(&f->caller, &f->ctx); }
static void switch_to_caller(struct fiber *f) { swapcontext(&f->ctx, &f->caller); }
#endif

void fiber_free(struct fiber *f)
{
	if (!f)
		return;
	assert(!f->running);   /* freed from the engine's side (sim_free() after engine_run()) */
	free(f->stack);
	free(f);
}

void fiber_resume(struct fiber *f)
{
	/* The engine resumes a fiber only for an event it queued; a fiber that returned (a
	 * halted vCPU, the VMM after its schedule) queued none and nothing wakes it. */
	assert(!f->done && !f->running);
	f->running = true;
#ifdef FIBER_ASAN
	void *fake = NULL;
	__sanitizer_start_switch_fiber(&fake, f->stack, f->stack_size);
#endif
	switch_to_fiber(f);
#ifdef FIBER_ASAN
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
	f->running = false;
}

void fiber_yield(struct fiber *f)
{
	assert(f->running);   /* only code running in the fiber yields it */
#ifdef FIBER_ASAN
	__sanitizer_start_switch_fiber(&f->fake_stack, f->caller_bottom, f->caller_size);
#endif
	switch_to_caller(f);
#ifdef FIBER_ASAN
	__sanitizer_finish_switch_fiber(f->fake_stack, &f->caller_bottom, &f->caller_size);
#endif
}

bool fiber_done(const struct fiber *f) { return f->done; }
