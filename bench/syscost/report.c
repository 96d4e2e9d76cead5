/*
 * Description: table and JSON output of a run.
 */
#include "bench/syscost/report.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bench/syscost/stats.h"
#include "common/json.h"

static void json_num(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fputs("null", f);
	else
		fprintf(f, "%.3f", v);
}

static void json_tristate(FILE *f, int v)
{
	fputs(v < 0 ? "null" : v ? "true" : "false", f);
}

/* The no-filter baseline's minimum, if measured. */
static double baseline_min(struct plan *plan, int ticks)
{
	for (size_t i = 0; i < plan->n; i++) {
		struct plan_config *c = &plan->cfg[i];

		if (c->mode == MODE_NONE && c->status == 0 && c->n)
			return stats_min(ticks ? c->ticks : c->ns, c->n);
	}
	return NAN;
}

static const char *pos_name(int pos)
{
	return pos < 0 ? NULL : filter_pos_name((enum filter_pos)pos);
}

static void json_summary(FILE *f, double *v, size_t n)
{
	struct stats_summary s;

	if (stats_summarize(v, n, &s) < 0) {
		fputs("null", f);
		return;
	}
	fputs("{\"min\": ", f);
	json_num(f, s.min);
	fputs(", \"median\": ", f);
	json_num(f, s.median);
	fputs(", \"p90\": ", f);
	json_num(f, s.p90);
	fputs("}", f);
}

static void json_build_field(FILE *f, const char *key, const struct report_build *b, size_t off)
{
	double *v = malloc((b->n ? b->n : 1) * sizeof(double));

	fprintf(f, "\"%s\": ", key);
	if (!v) {
		fputs("null", f);
		return;
	}
	for (size_t i = 0; i < b->n; i++)
		memcpy(&v[i], (const char *)&b->reps[i] + off, sizeof(double));
	json_summary(f, v, b->n);
	free(v);
}

void report_json(FILE *f, const struct env *env, const struct report_params *params,
		 struct plan *plan, struct report_build *builds, size_t nbuilds)
{
	double base_ns = baseline_min(plan, 0), base_ticks = baseline_min(plan, 1);
	int tsc = env->tsc.invariant;

	fputs("{\n\"schema\": \"syscost/1\",\n\"env\": {\"kernel\": ", f);
	json_string(f, env->kernel);
	fputs(", \"machine\": ", f);
	json_string(f, env->machine);
	fputs(", \"cpu_model\": ", f);
	json_string(f, env->cpu_model);
	fprintf(f, ", \"cpus_online\": %d, \"cpu\": ", env->cpus_online);
	if (env->cpu < 0)
		fputs("null", f);
	else
		fprintf(f, "%d", env->cpu);
	fprintf(f, ",\n  \"tsc\": {\"present\": %s, \"constant\": %s, \"nonstop\": %s, \"invariant\": %s, "
		   "\"ticks_per_ns\": ",
		env->tsc.present ? "true" : "false", env->tsc.constant ? "true" : "false",
		env->tsc.nonstop ? "true" : "false", env->tsc.invariant ? "true" : "false");
	json_num(f, env->tsc.present ? env->tsc.ticks_per_ns : NAN);
	fputs("},\n  \"libseccomp\": ", f);
	json_string(f, env->libseccomp);
	fprintf(f, ", \"syscall_table\": %d, \"bpf_jit_enable\": %d, \"seccomp_mode\": %d, "
		   "\"seccomp_filters\": %d, \"no_new_privs\": %d, \"vdso_clock_gettime\": ",
		env->syscall_table, env->bpf_jit, env->seccomp_mode, env->seccomp_filters,
		env->no_new_privs);
	json_tristate(f, env->vdso_clock_gettime);
	fputs(", \"loadavg_start\": ", f);
	json_num(f, env->loadavg_start);
	fputs(", \"loadavg_end\": ", f);
	json_num(f, env->loadavg_end);
	fputs("},\n\"params\": {\"syscall\": ", f);
	json_string(f, plan->op->name);
	fputs(", \"what\": ", f);
	json_string(f, plan->op->what);
	fputs(", \"modes\": ", f);
	json_string(f, params->modes);
	fprintf(f, ", \"batches\": %u, \"batch_size\": %u, \"rounds\": %u, \"seed\": %u, "
		   "\"build_reps\": %u, \"clock\": \"CLOCK_MONOTONIC_RAW\", \"tsc_read\": \"lfence;rdtsc;lfence\"},\n",
		params->batches, params->batch_size, params->rounds, params->seed, params->build_reps);
	fputs("\"results\": [", f);
	for (size_t i = 0; i < plan->n; i++) {
		struct plan_config *c = &plan->cfg[i];
		double mn = c->n ? stats_min(c->ns, c->n) : NAN;
		double mt = c->n ? stats_min(c->ticks, c->n) : NAN;

		fprintf(f, "%s\n  {\"mode\": \"%s\", \"rules\": ", i ? "," : "", plan_mode_name(c->mode));
		if (c->rules)
			fprintf(f, "%u", c->rules);
		else
			fputs("null", f);
		fputs(", \"position\": ", f);
		if (pos_name(c->pos))
			json_string(f, pos_name(c->pos));
		else
			fputs("null", f);
		fprintf(f, ", \"tree\": %s, \"filters\": %u, \"bpf_insns\": %zu, \"steps\": %u, \"index\": ",
			c->tree ? "true" : "false", c->nfilters, c->prog.len, c->steps);
		if (c->index >= 0)
			fprintf(f, "%d", c->index);
		else
			fputs("null", f);
		fputs(", \"cacheable\": ", f);
		json_tristate(f, c->cacheable);
		fputs(",\n   \"status\": ", f);
		json_string(f, c->status == 0 ? "ok" : strerror(-c->status));
		fprintf(f, ", \"batches\": %zu, \"ns\": ", c->n);
		json_summary(f, c->ns, c->n);
		fputs(", \"ticks\": ", f);
		if (tsc)
			json_summary(f, c->ticks, c->n);
		else
			fputs("null", f);
		fputs(", \"overhead_ns_min\": ", f);
		json_num(f, c->mode == MODE_NONE ? NAN : mn - base_ns);
		fputs(", \"overhead_ticks_min\": ", f);
		json_num(f, c->mode == MODE_NONE || !tsc ? NAN : mt - base_ticks);
		fputs("}", f);
	}
	fputs("\n],\n\"build\": ", f);
	if (!nbuilds) {
		fputs("null\n}\n", f);
		return;
	}
	fputs("{\"set\": \"@system-service\", \"source\": ", f);
	json_string(f, plan->service_source ? plan->service_source : "none");
	fprintf(f, ", \"names\": %zu, \"rules\": %zu, \"variants\": [", plan->service.n,
		plan->service_rules);
	for (size_t i = 0; i < nbuilds; i++) {
		struct report_build *b = &builds[i];

		fprintf(f, "%s\n  {\"variant\": \"%s\", \"status\": ", i ? "," : "", b->variant);
		json_string(f, b->status == 0 ? "ok" : strerror(-b->status));
		fprintf(f, ", \"reps\": %zu, ", b->n);
		json_build_field(f, "build_us", b, offsetof(struct measure_build, build_us));
		fputs(", ", f);
		json_build_field(f, "export_us", b, offsetof(struct measure_build, export_us));
		fputs(", ", f);
		json_build_field(f, "load_us", b, offsetof(struct measure_build, load_us));
		fputs(", ", f);
		json_build_field(f, "kernel_us", b, offsetof(struct measure_build, kernel_us));
		fputs("}", f);
	}
	fputs("\n]}\n}\n", f);
}

static void build_cell(FILE *f, const struct report_build *b, size_t off)
{
	double v[4096];
	size_t n = b->n < 4096 ? b->n : 4096;

	for (size_t i = 0; i < n; i++)
		memcpy(&v[i], (const char *)&b->reps[i] + off, sizeof(double));
	if (n == 0) {
		fprintf(f, " %9s %9s", "-", "-");
		return;
	}
	fprintf(f, " %9.1f", stats_min(v, n));
	fprintf(f, " %9.1f", stats_median(v, n));
}

void report_table(FILE *f, const struct env *env, const struct report_params *params,
		  struct plan *plan, struct report_build *builds, size_t nbuilds)
{
	double base_ns = baseline_min(plan, 0);
	int tsc = env->tsc.invariant;

	fprintf(f, "syscost: %s, kernel %s, %s, libseccomp %s, CPU %d, TSC %s (%.3f ticks/ns)\n",
		plan->op->what, env->kernel, env->cpu_model, env->libseccomp, env->cpu,
		tsc ? "invariant" : "not invariant", env->tsc.ticks_per_ns);
	fprintf(f, "%u rounds x %u batches x %u iterations; per iteration: min and median over "
		   "batches; this process already had %d seccomp filter(s)\n\n",
		params->rounds, params->batches, params->batch_size, env->seccomp_filters);
	fprintf(f, "%-11s %5s %-6s %3s %5s %5s %5s %5s %9s %9s %9s %9s %9s\n", "mode", "rules", "pos",
		"K", "insns", "steps", "index", "cache", "ns min", "ns med", "tick min", "tick med",
		"+ns min");
	for (size_t i = 0; i < plan->n; i++) {
		struct plan_config *c = &plan->cfg[i];
		char rules[16] = "-", idx[16] = "-";

		if (c->rules)
			snprintf(rules, sizeof(rules), "%u", c->rules);
		if (c->index >= 0)
			snprintf(idx, sizeof(idx), "%d", c->index);
		fprintf(f, "%-11s %5s %-6s %3u %5zu %5u %5s %5s", plan_mode_name(c->mode), rules,
			c->tree ? "tree" : pos_name(c->pos) ? pos_name(c->pos) : "-", c->nfilters,
			c->prog.len, c->steps, idx,
			c->cacheable < 0 ? "-" : c->cacheable ? "yes" : "no");
		if (c->status) {
			fprintf(f, "  error: %s\n", strerror(-c->status));
			continue;
		}
		if (c->n == 0) {
			fputc('\n', f);
			continue;
		}
		double mn = stats_min(c->ns, c->n), md = stats_median(c->ns, c->n);

		fprintf(f, " %9.1f %9.1f", mn, md);
		if (tsc)
			fprintf(f, " %9.0f %9.0f", stats_min(c->ticks, c->n),
				stats_median(c->ticks, c->n));
		else
			fprintf(f, " %9s %9s", "-", "-");
		if (c->mode != MODE_NONE && !isnan(base_ns))
			fprintf(f, " %+9.1f", mn - base_ns);
		fputc('\n', f);
	}
	if (!nbuilds)
		return;
	fprintf(f, "\n@system-service (%zu names from %s, %zu rules): build + load, µs, min / median\n",
		plan->service.n, plan->service_source, plan->service_rules);
	fprintf(f, "%-8s %4s %19s %19s %19s %19s\n", "variant", "reps", "build (rule_add)",
		"export (BPF gen)", "seccomp_load", "kernel install");
	for (size_t i = 0; i < nbuilds; i++) {
		struct report_build *b = &builds[i];

		fprintf(f, "%-8s %4zu", b->variant, b->n);
		if (b->status) {
			fprintf(f, "  error: %s\n", strerror(-b->status));
			continue;
		}
		build_cell(f, b, offsetof(struct measure_build, build_us));
		build_cell(f, b, offsetof(struct measure_build, export_us));
		build_cell(f, b, offsetof(struct measure_build, load_us));
		build_cell(f, b, offsetof(struct measure_build, kernel_us));
		fputc('\n', f);
	}
}
