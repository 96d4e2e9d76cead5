/*
 * Description: building and analysing the configurations of a run.
 */
#include "bench/syscost/plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const char *const mode_names[MODE_COUNT] = {
	"none", "allow1", "allow", "linear", "tree", "linear-args",
	"stack", "stack-args", "af", "service", "build",
};

const char *plan_mode_name(enum plan_mode m)
{
	return (unsigned)m < MODE_COUNT ? mode_names[m] : "?";
}

int plan_mode_find(const char *name)
{
	for (int i = 0; i < MODE_COUNT; i++)
		if (strcmp(mode_names[i], name) == 0)
			return i;
	return -1;
}

int plan_rank(const struct bpf_prog *prog, const struct op_desc *op)
{
	int table[1024];
	struct seccomp_data d;
	unsigned target, steps;
	uint32_t action;
	size_t nt;
	int r, rank = 0;

	r = filter_syscall_table(table, 1024, &nt);
	if (r < 0)
		return r;
	op_seccomp_data(op->kind, 0, &d);
	r = bpf_match_step(prog->insns, prog->len, &d, &target);
	if (r < 0)
		return r;
	if (target == 0)
		return -ENOENT;
	for (size_t i = 0; i < nt; i++) {
		if (table[i] == op->nr[0])
			continue;
		memset(&d, 0, sizeof(d));
		d.nr = table[i];
		d.arch = op_audit_arch();
		r = bpf_run(prog->insns, prog->len, &d, &action, NULL);
		if (r == 0)
			r = bpf_match_step(prog->insns, prog->len, &d, &steps);
		if (r < 0)
			return r;
		if (action == SECCOMP_RET_ALLOW && steps && steps < target)
			rank++;
	}
	return rank;
}

/* Steps and cacheability of one filter for every syscall of the op;
 * fails when the filter would not allow the op. */
static int analyse(struct plan_config *c, const struct op_desc *op)
{
	unsigned total = 0;
	bool cached = true;

	for (unsigned i = 0; i < op->nnr; i++) {
		struct seccomp_data d;
		uint32_t action;
		unsigned steps;
		int r;

		op_seccomp_data(op->kind, i, &d);
		r = bpf_run(c->prog.insns, c->prog.len, &d, &action, &steps);
		if (r < 0)
			return r;
		if (action != SECCOMP_RET_ALLOW) {
			fprintf(stderr, "syscost: %s: the %s filter does not allow syscall %d\n", __func__,
				plan_mode_name(c->mode), op->nr[i]);
			return -EACCES;
		}
		total += steps;
		cached = cached && bpf_const_allow(c->prog.insns, c->prog.len, (int)d.nr, d.arch);
	}
	c->steps = total * c->nfilters;
	c->cacheable = cached;
	return 0;
}

static struct plan_config *add(struct plan *p, size_t *cap, enum plan_mode mode)
{
	struct plan_config *c;

	if (p->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 32;
		struct plan_config *nc = realloc(p->cfg, ncap * sizeof(*nc));

		if (!nc)
			return NULL;
		p->cfg = nc;
		*cap = ncap;
	}
	c = &p->cfg[p->n++];
	memset(c, 0, sizeof(*c));
	c->mode = mode;
	c->pos = -1;
	c->index = -1;
	c->cacheable = -1;
	return c;
}

/* Exports ctx into c->prog and releases ctx. */
static int take(struct plan_config *c, scmp_filter_ctx ctx, unsigned nfilters)
{
	int r = bpf_prog_export(ctx, &c->prog);

	seccomp_release(ctx);
	c->nfilters = nfilters;
	return r;
}

static int load_service(struct plan *p)
{
	scmp_filter_ctx ctx;
	int r;

	if (p->service.n)
		return 0;
	r = sysset_from_systemd("@system-service", &p->service);
	p->service_source = "systemd-analyze";
	if (r < 0) {
		r = sysset_builtin_system_service(&p->service);
		p->service_source = "builtin";
		if (r < 0)
			return r;
	}
	r = filter_allow_names((const char *const *)p->service.names, p->service.n, false, &ctx,
			       &p->service_rules);
	if (r < 0)
		return r;
	seccomp_release(ctx);
	return 0;
}

int plan_build(const struct plan_opts *o, struct plan *ret)
{
	static const struct sock_filter allow1 = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	static const int families[] = {AF_UNIX, AF_INET, AF_INET6};
	const struct op_desc *op = o->op;
	struct plan p = {.op = op};
	struct plan_config *c;
	scmp_filter_ctx ctx;
	int table[1024];
	size_t cap = 0, ntable;
	int r;

	r = filter_syscall_table(table, 1024, &ntable);
	if (r < 0)
		return r;
	for (int m = 0; m < MODE_COUNT; m++) {
		if (!o->modes[m])
			continue;
		switch (m) {
		case MODE_NONE:
			if (!add(&p, &cap, m))
				goto nomem;
			break;
		case MODE_ALLOW1:
			if (!(c = add(&p, &cap, m)))
				goto nomem;
			r = bpf_prog_from(&allow1, 1, &c->prog);
			if (r < 0)
				goto err;
			c->nfilters = 1;
			break;
		case MODE_ALLOW:
			if (!(c = add(&p, &cap, m)))
				goto nomem;
			r = filter_allow_all(&ctx);
			if (r < 0 || (r = take(c, ctx, 1)) < 0)
				goto err;
			break;
		case MODE_LINEAR:
		case MODE_TREE:
		case MODE_LINEAR_ARGS:
			for (size_t i = 0; i < o->nrules; i++) {
				unsigned rules = o->rules[i] ? o->rules[i] : (unsigned)ntable;

				for (int pos = FILTER_FRONT; pos <= FILTER_END; pos++) {
					struct filter_linear_spec spec = {
						.targets = op->nr, .ntargets = op->nnr, .nrules = rules,
						.pos = pos, .tree = m == MODE_TREE,
						.arg_check = m == MODE_LINEAR_ARGS,
					};

					if (m == MODE_TREE && pos != FILTER_FRONT)
						break; /* a tree has no front or end */
					if (!(c = add(&p, &cap, m)))
						goto nomem;
					c->rules = rules;
					c->pos = m == MODE_TREE ? -1 : pos;
					c->tree = m == MODE_TREE;
					r = filter_linear(&spec, &ctx);
					if (r < 0) {
						fprintf(stderr, "syscost: %s: %s filter of %u rules: %s\n",
							__func__, plan_mode_name(m), rules, strerror(-r));
						goto err;
					}
					r = take(c, ctx, 1);
					if (r < 0)
						goto err;
					if (m != MODE_TREE) {
						r = plan_rank(&c->prog, op);
						if (r < 0)
							goto err;
						c->index = r;
					}
				}
			}
			break;
		case MODE_STACK:
		case MODE_STACK_ARGS:
			for (unsigned k = 1; k <= o->stack_max; k++) {
				if (!(c = add(&p, &cap, m)))
					goto nomem;
				r = m == MODE_STACK ? filter_allow_all(&ctx)
						    : filter_arg_guard(op->nr, op->nnr, &ctx);
				if (r < 0 || (r = take(c, ctx, k)) < 0)
					goto err;
			}
			break;
		case MODE_AF:
			if (!(c = add(&p, &cap, m)))
				goto nomem;
			r = filter_restrict_af(families, 3, &ctx);
			if (r < 0 || (r = take(c, ctx, 1)) < 0)
				goto err;
			break;
		case MODE_SERVICE:
			r = load_service(&p);
			if (r < 0)
				goto err;
			for (int tree = 0; tree <= 1; tree++) {
				if (!(c = add(&p, &cap, m)))
					goto nomem;
				c->tree = tree;
				r = filter_allow_names((const char *const *)p.service.names, p.service.n,
						       tree, &ctx, NULL);
				if (r < 0 || (r = take(c, ctx, 1)) < 0)
					goto err;
				c->rules = (unsigned)p.service_rules;
				if (!tree) {
					r = plan_rank(&c->prog, op);
					if (r < 0)
						goto err;
					c->index = r;
				}
			}
			break;
		case MODE_BUILD:
			r = load_service(&p);
			if (r < 0)
				goto err;
			break;
		}
	}
	for (size_t i = 0; i < p.n; i++) {
		c = &p.cfg[i];
		if (c->nfilters) {
			r = analyse(c, op);
			if (r < 0)
				goto err;
		}
		c->cap = o->samples;
		c->ns = calloc(c->cap ? c->cap : 1, sizeof(double));
		c->ticks = calloc(c->cap ? c->cap : 1, sizeof(double));
		if (!c->ns || !c->ticks)
			goto nomem;
	}
	*ret = p;
	return 0;
nomem:
	r = -ENOMEM;
err:
	plan_free(&p);
	return r;
}

void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		bpf_prog_free(&p->cfg[i].prog);
		free(p->cfg[i].ns);
		free(p->cfg[i].ticks);
	}
	free(p->cfg);
	p->cfg = NULL;
	p->n = 0;
	sysset_free(&p->service);
}
