/* Temporary files removed by the signal path (see tmpfiles.h). */
#include "sim/tmpfiles.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

/* Static storage only: the handler may touch nothing else.  A slot's path is written
 * while used == 0 and published by the store used = 1 (a compiler barrier between: the
 * handler runs on this thread, so program order is all it needs). */
static struct {
	volatile sig_atomic_t used;
	char path[PATH_MAX];
} slots[TMPFILES_MAX];

int tmpfiles_add(const char *path)
{
	size_t n = strlen(path);

	if (n >= PATH_MAX)
		return -ENAMETOOLONG;
	for (int i = 0; i < TMPFILES_MAX; i++) {
		if (slots[i].used)
			continue;
		memcpy(slots[i].path, path, n + 1);
		atomic_signal_fence(memory_order_seq_cst);
		slots[i].used = 1;
		return 0;
	}
	return -EMFILE;
}

void tmpfiles_forget(const char *path)
{
	for (int i = 0; i < TMPFILES_MAX; i++)
		if (slots[i].used && !strcmp(slots[i].path, path)) {
			slots[i].used = 0;
			return;
		}
}

static void on_signal(int sig)
{
	int e = errno;

	for (int i = 0; i < TMPFILES_MAX; i++)
		if (slots[i].used)
			unlink(slots[i].path);
	errno = e;
	/* SA_RESETHAND made the disposition the default again: die of the signal once this
	 * handler returns and unblocks it */
	raise(sig);
}

void tmpfiles_catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESETHAND };

	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}
