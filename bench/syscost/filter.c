/*
 * Description: libseccomp filter builders (see filter.h).
 */
#include "bench/syscost/filter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>

/* libseccomp orders the syscalls of a linear filter by priority, higher
 * first; three levels are enough to put the targets anywhere. */
#define PRIO_BEFORE 200
#define PRIO_TARGET 100
#define PRIO_AFTER 10

/* Largest syscall number probed on the native architecture. */
#define FILTER_NR_LIMIT 1024

const int filter_required[] = {SYS_exit_group, SYS_exit, SYS_read, SYS_clock_gettime};
const size_t filter_required_len = sizeof(filter_required) / sizeof(filter_required[0]);

const char *filter_pos_name(enum filter_pos pos)
{
	switch (pos) {
	case FILTER_FRONT: return "front";
	case FILTER_MIDDLE: return "middle";
	case FILTER_END: return "end";
	}
	return "?";
}

int filter_syscall_table(int *nrs, size_t cap, size_t *ret_n)
{
	size_t n = 0;

	for (int nr = 0; nr < FILTER_NR_LIMIT; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (!name)
			continue;
		free(name);
		if (n == cap)
			return -ENOSPC;
		nrs[n++] = nr;
	}
	*ret_n = n;
	return 0;
}

int filter_allow_all(scmp_filter_ctx *ret_ctx)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

	if (!ctx)
		return -ENOMEM;
	*ret_ctx = ctx;
	return 0;
}

static bool contains(const int *v, size_t n, int x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

int filter_linear(const struct filter_linear_spec *spec, scmp_filter_ctx *ret_ctx)
{
	int table[FILTER_NR_LIMIT], others[FILTER_NR_LIMIT];
	size_t ntable, nothers = 0, before;
	scmp_filter_ctx ctx = NULL;
	int r;

	if (!spec->targets || spec->ntargets == 0 || spec->ntargets > FILTER_MAX_TARGETS)
		return -EINVAL;
	for (unsigned i = 0; i < spec->ntargets; i++)
		if (spec->targets[i] < 0 || contains(spec->targets, i, spec->targets[i]))
			return -EINVAL;
	r = filter_syscall_table(table, FILTER_NR_LIMIT, &ntable);
	if (r < 0)
		return r;
	if (spec->nrules > ntable)
		return -ERANGE;

	/* The other rules: the required syscalls, then the lowest numbers. */
	for (size_t i = 0; i < filter_required_len; i++)
		if (!contains(spec->targets, spec->ntargets, filter_required[i]))
			others[nothers++] = filter_required[i];
	if (spec->nrules < spec->ntargets + nothers)
		return -ERANGE;
	for (size_t i = 0; i < ntable && spec->ntargets + nothers < spec->nrules; i++)
		if (!contains(spec->targets, spec->ntargets, table[i]) &&
		    !contains(others, nothers, table[i]))
			others[nothers++] = table[i];

	switch (spec->pos) {
	case FILTER_FRONT: before = 0; break;
	case FILTER_MIDDLE: before = nothers / 2; break;
	case FILTER_END: before = nothers; break;
	default: return -EINVAL;
	}

	ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	if (!ctx)
		return -ENOMEM;
	if (spec->tree) {
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
		if (r < 0)
			goto err;
	}
	for (unsigned i = 0; i < spec->ntargets; i++) {
		if (spec->arg_check)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, spec->targets[i], 1,
					     SCMP_A0(SCMP_CMP_NE, FILTER_ARG_MAGIC));
		else
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, spec->targets[i], 0);
		if (r < 0)
			goto err;
		r = seccomp_syscall_priority(ctx, spec->targets[i], PRIO_TARGET);
		if (r < 0)
			goto err;
	}
	for (size_t i = 0; i < nothers; i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, others[i], 0);
		if (r < 0)
			goto err;
		r = seccomp_syscall_priority(ctx, others[i], i < before ? PRIO_BEFORE : PRIO_AFTER);
		if (r < 0)
			goto err;
	}
	*ret_ctx = ctx;
	return 0;
err:
	seccomp_release(ctx);
	return r;
}

int filter_arg_guard(const int *targets, unsigned ntargets, scmp_filter_ctx *ret_ctx)
{
	scmp_filter_ctx ctx;
	int r = 0;

	if (!targets || ntargets == 0 || ntargets > FILTER_MAX_TARGETS)
		return -EINVAL;
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return -ENOMEM;
	for (unsigned i = 0; i < ntargets; i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), targets[i], 1,
				     SCMP_A0(SCMP_CMP_EQ, FILTER_ARG_MAGIC));
		if (r < 0)
			goto err;
	}
	*ret_ctx = ctx;
	return 0;
err:
	seccomp_release(ctx);
	return r;
}

int filter_restrict_af(const int *families, unsigned n, scmp_filter_ctx *ret_ctx)
{
	scmp_filter_ctx ctx;
	int first = 0, last = 0, r;

	if (!families || n == 0)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (families[i] <= 0 || families[i] >= AF_MAX || contains(families, i, families[i]))
			return -EINVAL;
		if (first == 0 || families[i] < first)
			first = families[i];
		if (families[i] > last)
			last = families[i];
	}
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return -ENOMEM;
	r = seccomp_rule_add_exact(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
				   SCMP_A0(SCMP_CMP_LT, (scmp_datum_t)first));
	if (r < 0)
		goto err;
	r = seccomp_rule_add_exact(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
				   SCMP_A0(SCMP_CMP_GT, (scmp_datum_t)last));
	if (r < 0)
		goto err;
	for (int af = first + 1; af < last; af++) {
		if (contains(families, n, af))
			continue;
		r = seccomp_rule_add_exact(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
					   SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)af));
		if (r < 0)
			goto err;
	}
	*ret_ctx = ctx;
	return 0;
err:
	seccomp_release(ctx);
	return r;
}

int filter_allow_names(const char *const *names, size_t n, bool tree, scmp_filter_ctx *ret_ctx,
		       size_t *ret_rules)
{
	bool seen[FILTER_NR_LIMIT] = {false};
	scmp_filter_ctx ctx;
	size_t rules = 0;
	int r;

	ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	if (!ctx)
		return -ENOMEM;
	if (tree) {
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
		if (r < 0)
			goto err;
	}
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);

		/* Unknown names, and names of other architectures (negative
		 * pseudo numbers), are skipped, as systemd does. */
		if (nr < 0 || nr >= FILTER_NR_LIMIT || seen[nr])
			continue;
		seen[nr] = true;
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r < 0)
			goto err;
		rules++;
	}
	*ret_ctx = ctx;
	if (ret_rules)
		*ret_rules = rules;
	return 0;
err:
	seccomp_release(ctx);
	return r;
}
