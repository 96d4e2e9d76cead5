/*
 * Description: syscost — what one syscall costs under seccomp. The story
 * of a run: parse the options, pin to a CPU, record the machine, build and
 * analyse every filter configuration, then time them in rounds (a fresh
 * child per configuration per round, configurations shuffled each round so
 * a busy machine's slow phases spread over all of them), and print a table
 * or JSON.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/syscost/env.h"
#include "bench/syscost/filter.h"
#include "bench/syscost/measure.h"
#include "bench/syscost/op.h"
#include "bench/syscost/plan.h"
#include "bench/syscost/report.h"
#include "common/opt.h"
#include "common/version.h"

#define MAX_RULE_COUNTS 16
#define MAX_STACK 64
#define MAX_SAMPLES (1u << 22)

static const char usage_text[] =
	"usage: syscost [OPTIONS]\n"
	"Cost per syscall under seccomp filters, in ns and TSC ticks (min and median of\n"
	"timed batches). Each configuration runs in its own forked child.\n"
	"\n"
	"  --syscall NAME    getppid (default), getpid, openat (+close), socket (+close),\n"
	"                    sendto, clock_gettime (vDSO control)\n"
	"  --mode LIST       comma-separated, default all:\n"
	"                      none         no filter\n"
	"                      allow1       one BPF_RET ALLOW instruction (kernel selftest)\n"
	"                      allow        libseccomp filter, default ALLOW, no rules\n"
	"                      linear       N allow rules, the syscall at front/middle/end\n"
	"                      tree         the same, SCMP_FLTATR_CTL_OPTIMIZE=2\n"
	"                      linear-args  linear, the syscall's rule checks an argument\n"
	"                      stack        K stacked allow-all filters, K = 1..--stack-max\n"
	"                      stack-args   K stacked filters checking the syscall's argument\n"
	"                      af           RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n"
	"                      service      SystemCallFilter=@system-service (linear, tree)\n"
	"                      build        build + load time of the @system-service filter\n"
	"  --rules LIST      rule counts N for linear/tree/linear-args, numbers or 'full'\n"
	"                    (the whole syscall table); default 16,64,306,full\n"
	"  --stack-max K     stacked filters up to K (1..64, default 16)\n"
	"  --cpu N           pin to CPU N (default: not pinned)\n"
	"  --batches N       timed batches per configuration per round (default 200)\n"
	"  --batch-size N    iterations per batch (default 50)\n"
	"  --rounds N        rounds, configurations shuffled in each (default 5)\n"
	"  --build-reps N    build + load repetitions (default 40)\n"
	"  --seed N          shuffle seed (default 1)\n"
	"  --quick           batches 20, rounds 2, build-reps 4 (for tests)\n"
	"  --json            one JSON object (schema syscost/1) instead of the table\n"
	"  -h, --help        this text\n"
	"  --version         print the version and exit\n";

struct opts {
	const struct op_desc *op;
	bool modes[MODE_COUNT];
	char modes_text[256];
	unsigned rules[MAX_RULE_COUNTS];
	size_t nrules;
	unsigned stack_max, batches, batch_size, rounds, build_reps, seed;
	int cpu;
	bool json;
};

static int bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "syscost: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(syscost --help for usage)\n");
	return 2;
}

static int parse_modes(const char *s, struct opts *o)
{
	char buf[256], *save = NULL, *tok;

	if (strlen(s) >= sizeof(buf) || !*s)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", s);
	snprintf(o->modes_text, sizeof(o->modes_text), "%s", s);
	memset(o->modes, 0, sizeof(o->modes));
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int m;

		if (strcmp(tok, "all") == 0) {
			for (m = 0; m < MODE_COUNT; m++)
				o->modes[m] = true;
			continue;
		}
		m = plan_mode_find(tok);
		if (m < 0)
			return -EINVAL;
		o->modes[m] = true;
	}
	return 0;
}

static int parse_rules(const char *s, struct opts *o)
{
	char buf[256], *save = NULL, *tok;

	if (strlen(s) >= sizeof(buf) || !*s)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", s);
	o->nrules = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v = 0;

		if (o->nrules == MAX_RULE_COUNTS)
			return -EINVAL;
		if (strcmp(tok, "full") != 0 && parse_uint(tok, NULL, 1, 4096, &v) < 0)
			return -EINVAL;
		o->rules[o->nrules++] = (unsigned)v;
	}
	return o->nrules ? 0 : -EINVAL;
}

enum {
	O_SYSCALL = 256, O_MODE, O_RULES, O_STACK_MAX, O_CPU, O_BATCHES, O_BATCH_SIZE, O_ROUNDS,
	O_BUILD_REPS, O_SEED, O_QUICK, O_JSON,
};

static const struct opt options[] = {
	{ "syscall", O_SYSCALL, true },
	{ "mode", O_MODE, true },
	{ "rules", O_RULES, true },
	{ "stack-max", O_STACK_MAX, true },
	{ "cpu", O_CPU, true },
	{ "batches", O_BATCHES, true },
	{ "batch-size", O_BATCH_SIZE, true },
	{ "rounds", O_ROUNDS, true },
	{ "build-reps", O_BUILD_REPS, true },
	{ "seed", O_SEED, true },
	{ "quick", O_QUICK, false },
	{ "json", O_JSON, false },
	{ "help", 'h', false },
	{ 0 },
};

/* Returns 0 to run, 1 after --help, 2 for bad arguments. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	struct opt_parser p;
	int key;

	*o = (struct opts){
		.op = op_get(OP_GETPPID), .rules = {16, 64, 306, 0}, .nrules = 4, .stack_max = 16,
		.batches = 200, .batch_size = 50, .rounds = 5, .build_reps = 40, .seed = 1, .cpu = -1,
	};
	parse_modes("all", o);
	opt_init(&p, options, 0, argc, argv);
	while ((key = opt_next(&p)) != OPT_END) {
		const char *v = p.value;
		uint64_t u;

		switch (key) {
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		case O_JSON:
			o->json = true;
			break;
		case O_QUICK:
			o->batches = 20;
			o->rounds = 2;
			o->build_reps = 4;
			break;
		case O_SYSCALL:
			o->op = op_find(v);
			if (!o->op)
				return bad("unknown --syscall '%s' (getppid getpid openat socket sendto clock_gettime)", v);
			break;
		case O_MODE:
			if (parse_modes(v, o) < 0)
				return bad("bad --mode '%s' (see --help for the modes)", v);
			break;
		case O_RULES:
			if (parse_rules(v, o) < 0)
				return bad("bad --rules '%s' (up to 16 of: 1..4096 or full)", v);
			break;
		case O_STACK_MAX:
			if (parse_uint(v, NULL, 1, MAX_STACK, &u) < 0)
				return bad("bad --stack-max '%s' (1..64)", v);
			o->stack_max = (unsigned)u;
			break;
		case O_CPU:
			if (parse_uint(v, NULL, 0, CPU_SETSIZE - 1, &u) < 0)
				return bad("bad --cpu '%s'", v);
			o->cpu = (int)u;
			break;
		case O_BATCHES:
			if (parse_uint(v, NULL, 1, 1000000, &u) < 0)
				return bad("bad --batches '%s' (1..1000000)", v);
			o->batches = (unsigned)u;
			break;
		case O_BATCH_SIZE:
			if (parse_uint(v, NULL, 1, 1000000, &u) < 0)
				return bad("bad --batch-size '%s' (1..1000000)", v);
			o->batch_size = (unsigned)u;
			break;
		case O_ROUNDS:
			if (parse_uint(v, NULL, 1, 1000, &u) < 0)
				return bad("bad --rounds '%s' (1..1000)", v);
			o->rounds = (unsigned)u;
			break;
		case O_BUILD_REPS:
			if (parse_uint(v, NULL, 1, 4096, &u) < 0)
				return bad("bad --build-reps '%s' (1..4096)", v);
			o->build_reps = (unsigned)u;
			break;
		case O_SEED:
			if (parse_uint(v, NULL, 0, UINT_MAX, &u) < 0)
				return bad("bad --seed '%s'", v);
			o->seed = (unsigned)u;
			break;
		default:
			return bad("%s", p.err);
		}
	}
	if ((size_t)o->batches * o->rounds > MAX_SAMPLES)
		return bad("%s", "--batches x --rounds is too large");
	return 0;
}

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) < 0 ? -errno : 0;
}

static unsigned next_rand(unsigned *s)
{
	/* xorshift32: a reproducible order from --seed, no libc state. */
	unsigned x = *s ? *s : 0x9e3779b9u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static void shuffle(size_t *v, size_t n, unsigned *seed)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = next_rand(seed) % i, t = v[i - 1];

		v[i - 1] = v[j];
		v[j] = t;
	}
}

/* Two fresh children per repetition (see measure_build_load). */
static int run_build(struct plan *plan, bool tree, struct report_build *b, unsigned reps)
{
	scmp_filter_ctx ctx;
	struct bpf_prog prog;
	int r;

	r = filter_allow_names((const char *const *)plan->service.names, plan->service.n, tree, &ctx,
			       NULL);
	if (r < 0)
		return r;
	r = bpf_prog_export(ctx, &prog);
	seccomp_release(ctx);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < reps; i++) {
		r = measure_build_load((const char *const *)plan->service.names, plan->service.n, tree,
				       &prog, &b->reps[b->n]);
		if (r < 0)
			break;
		b->n++;
	}
	bpf_prog_free(&prog);
	return r;
}

int main(int argc, char **argv)
{
	struct report_build builds[2] = {{.variant = "linear"}, {.variant = "tree"}};
	struct opts o;
	struct plan plan = {0};
	struct env env;
	size_t *order = NULL, nbuilds = 0;
	unsigned seed;
	int r, rc = 1;

	if (version_requested(argc, argv, "syscost"))
		return 0;
	r = parse_args(argc, argv, &o);
	if (r)
		return r == 1 ? 0 : 2;
	if (o.cpu >= 0 && (r = pin(o.cpu)) < 0) {
		if (r != -EPERM) {
			fprintf(stderr, "syscost: cannot pin to CPU %d: %s\n", o.cpu, strerror(-r));
			return 2;
		}
		/* A sandbox may deny sched_setaffinity (SystemCallFilter=~@resources):
		 * measuring unpinned is still a result; env.cpu says so. */
		fprintf(stderr, "syscost: pinning to CPU %d denied, running unpinned\n", o.cpu);
		o.cpu = -1;
	}
	r = env_probe(o.cpu, 100, &env);
	if (r < 0) {
		fprintf(stderr, "syscost: probing the machine: %s\n", strerror(-r));
		return 1;
	}
	struct plan_opts po = {.op = o.op, .rules = o.rules, .nrules = o.nrules,
			       .stack_max = o.stack_max, .samples = (size_t)o.batches * o.rounds};

	memcpy(po.modes, o.modes, sizeof(po.modes));
	r = plan_build(&po, &plan);
	if (r < 0) {
		fprintf(stderr, "syscost: building the filters: %s\n", strerror(-r));
		/* a rule count outside the syscall table is a bad argument */
		return r == -ERANGE ? 2 : 1;
	}
	if (o.modes[MODE_BUILD]) {
		for (int t = 0; t < 2; t++) {
			builds[t].reps = calloc(o.build_reps, sizeof(struct measure_build));
			if (!builds[t].reps)
				goto out;
		}
		nbuilds = 2;
	}

	order = calloc(plan.n ? plan.n : 1, sizeof(*order));
	if (!order)
		goto out;
	seed = o.seed;
	for (unsigned round = 0; round < o.rounds; round++) {
		for (size_t i = 0; i < plan.n; i++)
			order[i] = i;
		shuffle(order, plan.n, &seed);
		for (size_t k = 0; k < plan.n; k++) {
			struct plan_config *c = &plan.cfg[order[k]];
			struct measure_spec spec = {
				.op = o.op->kind, .prog = c->nfilters ? &c->prog : NULL,
				.nfilters = c->nfilters, .batches = o.batches,
				.batch_size = o.batch_size, .warmup = 5, .use_tsc = env.tsc.invariant,
			};

			if (c->status)
				continue;
			r = measure_run(&spec, c->ns + c->n, c->ticks + c->n);
			if (r < 0) {
				c->status = r;
				c->n = 0;
				continue;
			}
			c->n += o.batches;
		}
		/* The build timings share the rounds, so they see the same machine. */
		for (size_t t = 0; t < nbuilds; t++) {
			unsigned want = (unsigned)((uint64_t)o.build_reps * (round + 1) / o.rounds);

			if (builds[t].status == 0 && want > builds[t].n)
				builds[t].status = run_build(&plan, t == 1, &builds[t],
							     want - (unsigned)builds[t].n);
		}
	}
	env.loadavg_end = env_loadavg();

	struct report_params params = {
		.batches = o.batches, .batch_size = o.batch_size, .rounds = o.rounds,
		.seed = o.seed, .build_reps = o.build_reps, .modes = o.modes_text,
	};
	if (o.json)
		report_json(stdout, &env, &params, &plan, builds, nbuilds);
	else
		report_table(stdout, &env, &params, &plan, builds, nbuilds);
	rc = 0;
	for (size_t i = 0; i < plan.n; i++)
		if (plan.cfg[i].status) {
			fprintf(stderr, "syscost: %s configuration %zu failed: %s\n",
				plan_mode_name(plan.cfg[i].mode), i, strerror(-plan.cfg[i].status));
			rc = 1;
		}
	for (size_t t = 0; t < nbuilds; t++)
		if (builds[t].status) {
			fprintf(stderr, "syscost: build (%s) failed: %s\n", builds[t].variant,
				strerror(-builds[t].status));
			rc = 1;
		}
out:
	free(order);
	free(builds[0].reps);
	free(builds[1].reps);
	plan_free(&plan);
	return rc;
}
