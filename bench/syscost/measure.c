/*
 * Description: forked-child timing loops (see measure.h).
 */
#include "bench/syscost/measure.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/syscost/filter.h"
#include "bench/syscost/tsc.h"

/* What the child reports besides the samples. */
struct shared_head {
	int status; /* 0 or -errno */
	unsigned failures;
	struct measure_build build;
};

void measure_child_exit(int status)
{
	/* No loop after it: the compiler must not infer noreturn (see .h). */
	syscall(SYS_exit_group, (long)status);
}

int measure_install(const struct bpf_prog *prog)
{
	struct sock_fprog fprog = {.len = (unsigned short)prog->len, .filter = prog->insns};

	if (prog->len == 0 || prog->len > BPF_MAXINSNS)
		return -EINVAL;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0)
		return -errno;
	return 0;
}

static void *shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	/* Touch every page now, not inside a timed batch. */
	memset(p, 0, size);
	return p;
}

/* Waits for pid; 0 when it exited with status 0. */
static int reap(pid_t pid)
{
	int ws;

	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? 0 : -ECHILD;
}

/* The child: nothing here may need a syscall the filter denies, so no
 * stdio, no allocation; results go to the shared mapping. */
static void child_measure(const struct measure_spec *spec, struct shared_head *head, double *ns,
			  double *ticks)
{
	const struct op_desc *d = op_get(spec->op);
	unsigned size = spec->batch_size;
	struct op_state st;
	int r;

	if (d->max_batch && size > d->max_batch)
		size = d->max_batch;
	r = op_setup(spec->op, &st);
	if (r < 0)
		goto out;
	for (unsigned i = 0; i < spec->nfilters; i++) {
		r = measure_install(spec->prog);
		if (r < 0) {
			r = -EPERM;
			goto out;
		}
	}
	for (unsigned b = 0; b < spec->warmup; b++) {
		op_run(spec->op, &st, size);
		r = op_after_batch(spec->op, &st);
		if (r < 0)
			goto out;
	}
	for (unsigned b = 0; b < spec->batches; b++) {
		uint64_t n0, n1, t0 = 0, t1 = 0;

		n0 = tsc_now_ns();
		if (spec->use_tsc)
			t0 = tsc_read();
		op_run(spec->op, &st, size);
		if (spec->use_tsc)
			t1 = tsc_read();
		n1 = tsc_now_ns();
		ns[b] = (double)(n1 - n0) / size;
		ticks[b] = (double)(t1 - t0) / size;
		r = op_after_batch(spec->op, &st);
		if (r < 0)
			goto out;
	}
	r = st.failures ? -EIO : 0;
out:
	head->failures = st.failures;
	head->status = r;
	measure_child_exit(0);
}

int measure_run(const struct measure_spec *spec, double *ret_ns, double *ret_ticks)
{
	size_t size = sizeof(struct shared_head) + 2 * (size_t)spec->batches * sizeof(double);
	struct shared_head *head;
	double *ns, *ticks;
	pid_t pid;
	int r;

	if (spec->batches == 0 || spec->batch_size == 0 || !op_get(spec->op) ||
	    (spec->nfilters && !spec->prog))
		return -EINVAL;
	head = shared_alloc(size);
	if (!head)
		return -ENOMEM;
	ns = (double *)(head + 1);
	ticks = ns + spec->batches;
	head->status = -ECHILD;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out;
	}
	if (pid == 0)
		child_measure(spec, head, ns, ticks);
	r = reap(pid);
	if (r == 0)
		r = head->status;
	if (r == 0) {
		memcpy(ret_ns, ns, spec->batches * sizeof(double));
		memcpy(ret_ticks, ticks, spec->batches * sizeof(double));
	}
out:
	munmap(head, size);
	return r;
}

static double us_since(uint64_t t0)
{
	return (double)(tsc_now_ns() - t0) / 1000.0;
}

static void child_build(const char *const *names, size_t n, bool tree, struct shared_head *head)
{
	scmp_filter_ctx ctx = NULL;
	uint64_t t0;
	int r, fd;

	/* libseccomp's generation alone, into a memfd (not loaded). */
	fd = memfd_create("syscost-export", MFD_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = filter_allow_names(names, n, tree, &ctx, NULL);
	if (r < 0)
		goto out;
	t0 = tsc_now_ns();
	r = seccomp_export_bpf(ctx, fd);
	head->build.export_us = us_since(t0);
	seccomp_release(ctx);
	ctx = NULL;
	if (r < 0)
		goto out;

	/* The whole path systemd takes: build the context, then load it. */
	t0 = tsc_now_ns();
	r = filter_allow_names(names, n, tree, &ctx, NULL);
	head->build.build_us = us_since(t0);
	if (r < 0)
		goto out;
	t0 = tsc_now_ns();
	r = seccomp_load(ctx);
	head->build.load_us = us_since(t0);
out:
	head->status = r;
	measure_child_exit(0);
}

static void child_kernel(const struct bpf_prog *prog, struct shared_head *head)
{
	struct sock_fprog fprog = {.len = (unsigned short)prog->len, .filter = prog->insns};
	uint64_t t0;
	int r = 0;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		goto out;
	}
	t0 = tsc_now_ns();
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0)
		r = -errno;
	head->build.kernel_us = us_since(t0);
out:
	head->status = r;
	measure_child_exit(0);
}

int measure_build_load(const char *const *names, size_t n, bool tree, const struct bpf_prog *prog,
		       struct measure_build *ret)
{
	struct measure_build out;
	struct shared_head *head;
	pid_t pid;
	int r;

	head = shared_alloc(sizeof(*head));
	if (!head)
		return -ENOMEM;
	head->status = -ECHILD;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out;
	}
	if (pid == 0)
		child_build(names, n, tree, head);
	r = reap(pid);
	if (r == 0)
		r = head->status;
	if (r < 0)
		goto out;
	out = head->build;

	head->status = -ECHILD;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out;
	}
	if (pid == 0)
		child_kernel(prog, head);
	r = reap(pid);
	if (r == 0)
		r = head->status;
	if (r < 0)
		goto out;
	out.kernel_us = head->build.kernel_us;
	*ret = out;
out:
	munmap(head, sizeof(*head));
	return r;
}
