/*
 * Description: the configurations of one syscost run. A configuration is
 * a filter shape (mode), its parameters and its BPF, analysed before it
 * runs: how many BPF instructions the kernel executes per iteration, where
 * the measured syscall sits, and whether the action cache can skip it.
 */
#ifndef SYSCOST_PLAN_H
#define SYSCOST_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "bench/syscost/bpf.h"
#include "bench/syscost/filter.h"
#include "bench/syscost/op.h"
#include "bench/syscost/sysset.h"

enum plan_mode {
	MODE_NONE,        /* no filter */
	MODE_ALLOW1,      /* one BPF_RET ALLOW instruction (the kernel selftest's) */
	MODE_ALLOW,       /* libseccomp, default ALLOW, no rules */
	MODE_LINEAR,      /* N allow rules, target at the front / middle / end */
	MODE_TREE,        /* the same with SCMP_FLTATR_CTL_OPTIMIZE = 2 */
	MODE_LINEAR_ARGS, /* linear, the target's rule checks argument 0 */
	MODE_STACK,       /* K stacked allow-all filters */
	MODE_STACK_ARGS,  /* K stacked filters checking the target's argument 0 */
	MODE_AF,          /* RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 */
	MODE_SERVICE,     /* SystemCallFilter=@system-service, linear and tree */
	MODE_BUILD,       /* build + load time of @system-service */
	MODE_COUNT,
};

const char *plan_mode_name(enum plan_mode m);
/* Returns the mode called name, or -1. */
int plan_mode_find(const char *name);

struct plan_config {
	enum plan_mode mode;
	unsigned rules;     /* allow rules (linear, tree, service); 0 otherwise */
	int pos;            /* enum filter_pos, or -1 */
	bool tree;          /* service: tree variant */
	unsigned nfilters;  /* how many times prog is loaded */
	struct bpf_prog prog; /* owned; len 0 when nfilters == 0 */
	/* analysis */
	unsigned steps;     /* BPF instructions per iteration, over all filters */
	int index;          /* linear modes: allowed syscalls decided before the target */
	int cacheable;      /* 1/0: the action cache allows every target; -1 no filter */
	/* samples */
	double *ns, *ticks; /* owned, cap entries */
	size_t n, cap;
	int status;         /* 0 or -errno of the first failed run */
};

struct plan {
	const struct op_desc *op;
	struct plan_config *cfg; /* owned */
	size_t n;
	struct sysset service;   /* @system-service names (service, build) */
	const char *service_source; /* "systemd-analyze" or "builtin" */
	size_t service_rules;    /* rules the names resolved to */
};

struct plan_opts {
	const struct op_desc *op;
	bool modes[MODE_COUNT];
	const unsigned *rules; /* rule counts; 0 means the full syscall table */
	size_t nrules;
	unsigned stack_max;
	size_t samples;        /* batches each configuration will collect */
};

/*
 * Builds and analyses every configuration opts asks for. Returns 0, or
 * -errno with a message on stderr (bad rule count, a filter that would
 * deny the op, a libseccomp failure). Release with plan_free.
 */
int plan_build(const struct plan_opts *opts, struct plan *ret);

void plan_free(struct plan *p);

/*
 * Allowed syscalls of the native table whose own rule prog reaches before
 * the rule of the op's first syscall (bpf_match_step): for a linear
 * filter, the target's position. Returns the count, -ENOENT when prog has
 * no rule for the op's syscall, or -errno.
 */
int plan_rank(const struct bpf_prog *prog, const struct op_desc *op);

#endif
