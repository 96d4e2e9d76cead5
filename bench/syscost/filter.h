/*
 * Description: builders of the seccomp filters syscost measures, all with
 * libseccomp. Each returns a new context (the caller releases it with
 * seccomp_release) that is not loaded: syscost exports it to BPF and loads
 * it in a forked child, because a loaded filter can never be removed.
 */
#ifndef SYSCOST_FILTER_H
#define SYSCOST_FILTER_H

#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>

#define FILTER_MAX_TARGETS 2

/*
 * Argument value that argument-checking filters refuse: an arg-checked
 * rule allows its syscall only when argument 0 differs from it, so the
 * verdict depends on the arguments and the kernel cannot cache it.
 */
#define FILTER_ARG_MAGIC 0x5ecc0517u

enum filter_pos { FILTER_FRONT, FILTER_MIDDLE, FILTER_END };

/* "front", "middle", "end". */
const char *filter_pos_name(enum filter_pos pos);

/*
 * Syscalls a measuring child needs after its filter is loaded (exit,
 * exit_group, read to drain a socket, clock_gettime in case the vDSO
 * falls back to the syscall). Every allow-list filter allows them.
 */
extern const int filter_required[];
extern const size_t filter_required_len;

/*
 * Every syscall number of the native architecture libseccomp 2.5 knows,
 * ascending, into nrs (cap entries). *ret_n gets the count. Returns 0, or
 * -ENOSPC when cap is too small.
 */
int filter_syscall_table(int *nrs, size_t cap, size_t *ret_n);

/* Default action ALLOW and no rules: the cheapest libseccomp filter (an
 * architecture check and a return). */
int filter_allow_all(scmp_filter_ctx *ret_ctx);

struct filter_linear_spec {
	const int *targets; /* measured syscalls, placed next to each other */
	unsigned ntargets;  /* 1..FILTER_MAX_TARGETS */
	unsigned nrules;    /* allow rules in total, targets and filter_required included */
	enum filter_pos pos; /* where the targets are evaluated (ignored by tree) */
	bool tree;          /* SCMP_FLTATR_CTL_OPTIMIZE = 2: binary tree by number */
	bool arg_check;     /* target rules allow only when arg 0 != FILTER_ARG_MAGIC */
};

/*
 * An allow-list of spec->nrules syscalls, default action ERRNO(EPERM)
 * (systemd's SystemCallFilter= shape): the targets, filter_required and
 * the lowest other syscall numbers. Without tree, the rules are evaluated
 * one after the other and syscall priorities put the targets first, in the
 * middle ((nrules - ntargets) / 2 rules before them) or last. Returns 0,
 * -EINVAL for a bad spec, -ERANGE when nrules is smaller than the targets
 * plus filter_required or larger than the syscall table, or a libseccomp
 * error.
 */
int filter_linear(const struct filter_linear_spec *spec, scmp_filter_ctx *ret_ctx);

/*
 * Default ALLOW; the targets return ERRNO(EPERM) when arg 0 equals
 * FILTER_ARG_MAGIC. One such filter per directive, stacked, is what makes
 * the kernel run every filter for the targets (no cached verdict).
 */
int filter_arg_guard(const int *targets, unsigned ntargets, scmp_filter_ctx *ret_ctx);

/*
 * The filter systemd's RestrictAddressFamilies= allow-list installs for
 * socket() (src/shared/seccomp-util.c, seccomp_restrict_address_families):
 * default ALLOW; socket() returns ERRNO(EAFNOSUPPORT) when arg 0 is below
 * the lowest allowed family, above the highest, or equal to any family in
 * between that is not allowed. families: n distinct values in 1..AF_MAX-1.
 */
int filter_restrict_af(const int *families, unsigned n, scmp_filter_ctx *ret_ctx);

/*
 * Default ERRNO(EPERM), one allow rule per name (names libseccomp does not
 * know, or that do not exist on this architecture, are skipped like
 * systemd skips them); tree selects SCMP_FLTATR_CTL_OPTIMIZE = 2.
 * *ret_rules (may be NULL) gets the number of rules added.
 */
int filter_allow_names(const char *const *names, size_t n, bool tree, scmp_filter_ctx *ret_ctx,
		       size_t *ret_rules);

#endif
