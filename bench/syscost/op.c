/*
 * Description: the timed operations. Arguments are passed as long so the
 * registers a filter compares are fully defined (syscall(2) is variadic).
 */
#include "bench/syscost/op.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#define OP_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define OP_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "syscost: add this architecture's AUDIT_ARCH"
#endif

/* A unix stream socket queues one skb per send; 64 one-byte sends stay far
 * below the default send buffer, so sendto never blocks. */
#define SENDTO_BATCH 64

static const char devnull[] = "/dev/null";

static const struct op_desc ops[OP_COUNT] = {
	{OP_GETPPID, "getppid", "getppid()", {SYS_getppid, -1}, 1, 0, false},
	{OP_GETPID, "getpid", "getpid()", {SYS_getpid, -1}, 1, 0, false},
	{OP_OPENAT, "openat", "openat(/dev/null) + close()", {SYS_openat, SYS_close}, 2, 0, false},
	{OP_SOCKET, "socket", "socket(AF_UNIX, SOCK_DGRAM) + close()", {SYS_socket, SYS_close}, 2, 0, false},
	{OP_SENDTO, "sendto", "sendto(1 byte) on a unix stream socketpair", {SYS_sendto, -1}, 1,
	 SENDTO_BATCH, false},
	{OP_CLOCK_GETTIME, "clock_gettime", "clock_gettime(CLOCK_MONOTONIC) via the vDSO", {SYS_clock_gettime, -1},
	 1, 0, true},
};

uint32_t op_audit_arch(void)
{
	return OP_AUDIT_ARCH;
}

const struct op_desc *op_get(enum op_kind kind)
{
	return (unsigned)kind < OP_COUNT ? &ops[kind] : NULL;
}

const struct op_desc *op_find(const char *name)
{
	for (unsigned i = 0; i < OP_COUNT; i++)
		if (strcmp(ops[i].name, name) == 0)
			return &ops[i];
	return NULL;
}

int op_setup(enum op_kind kind, struct op_state *st)
{
	st->pair[0] = st->pair[1] = -1;
	st->failures = 0;
	if (kind == OP_SENDTO &&
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, st->pair) < 0)
		return -errno;
	return 0;
}

void op_teardown(struct op_state *st)
{
	for (int i = 0; i < 2; i++)
		if (st->pair[i] >= 0)
			close(st->pair[i]);
	st->pair[0] = st->pair[1] = -1;
}

void op_run(enum op_kind kind, struct op_state *st, unsigned n)
{
	unsigned fail = 0;
	struct timespec ts;
	long fd;
	char byte = 'x';

	switch (kind) {
	case OP_GETPPID:
		for (unsigned i = 0; i < n; i++)
			fail += syscall(SYS_getppid, 0L, 0L, 0L, 0L, 0L, 0L) < 0;
		break;
	case OP_GETPID:
		for (unsigned i = 0; i < n; i++)
			fail += syscall(SYS_getpid, 0L, 0L, 0L, 0L, 0L, 0L) < 0;
		break;
	case OP_OPENAT:
		for (unsigned i = 0; i < n; i++) {
			fd = syscall(SYS_openat, (long)AT_FDCWD, devnull, (long)(O_RDONLY | O_CLOEXEC), 0L);
			fail += fd < 0 || syscall(SYS_close, fd) < 0;
		}
		break;
	case OP_SOCKET:
		for (unsigned i = 0; i < n; i++) {
			fd = syscall(SYS_socket, (long)AF_UNIX, (long)(SOCK_DGRAM | SOCK_CLOEXEC), 0L);
			fail += fd < 0 || syscall(SYS_close, fd) < 0;
		}
		break;
	case OP_SENDTO:
		for (unsigned i = 0; i < n; i++)
			fail += syscall(SYS_sendto, (long)st->pair[0], &byte, 1L, (long)MSG_DONTWAIT,
					NULL, 0L) != 1;
		break;
	case OP_CLOCK_GETTIME:
		for (unsigned i = 0; i < n; i++)
			fail += clock_gettime(CLOCK_MONOTONIC, &ts) < 0;
		break;
	default:
		fail = n;
		break;
	}
	st->failures += fail;
}

int op_after_batch(enum op_kind kind, struct op_state *st)
{
	char buf[4096];

	if (kind != OP_SENDTO)
		return 0;
	for (;;) {
		ssize_t n = read(st->pair[1], buf, sizeof(buf));

		if (n > 0)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		return n < 0 ? -errno : -EPIPE;
	}
}

int op_seccomp_data(enum op_kind kind, unsigned i, struct seccomp_data *ret)
{
	const struct op_desc *d = op_get(kind);

	if (!d || i >= d->nnr)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	ret->nr = d->nr[i];
	ret->arch = OP_AUDIT_ARCH;
	switch (kind) {
	case OP_OPENAT:
		ret->args[0] = i == 0 ? (uint64_t)(long)AT_FDCWD : 3;
		break;
	case OP_SOCKET:
		ret->args[0] = i == 0 ? (uint64_t)AF_UNIX : 3;
		break;
	case OP_SENDTO:
		ret->args[0] = 3;
		break;
	default:
		break;
	}
	return 0;
}
