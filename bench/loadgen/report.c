/*
 * Description: formatting of results. Latencies are kept in nanoseconds
 * and printed in microseconds with one decimal.
 */
#include "bench/loadgen/report.h"

#include <string.h>
#include <openssl/ssl.h>

#include "common/json.h"

static const char *const report_err_names[LG_ERR_COUNT] = {
	"connect", "tls", "timeout", "reset", "http_status", "parse", "unsolicited",
};

const char *report_mode(const struct lg_config *cfg)
{
	switch (cfg->mode) {
	case LG_CLOSE:
		return "close";
	case LG_RESUME:
		return "resume";
	default:
		return cfg->rate > 0 ? "open" : "closed";
	}
}

static void report_json_hist(FILE *f, const struct hist *h)
{
	struct hist_summary s;

	hist_summarize(h, &s);
	fprintf(f,
		"{\"count\":%llu,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p99.9\":%.1f,"
		"\"p99.99\":%.1f,\"max\":%.1f,\"mean\":%.1f,\"stdev\":%.1f}",
		(unsigned long long)s.count, s.p50 / 1e3, s.p90 / 1e3, s.p99 / 1e3, s.p999 / 1e3,
		s.p9999 / 1e3, s.max / 1e3, s.mean / 1e3, s.stdev / 1e3);
}

static uint64_t report_errors_total(const struct lg_stats *st)
{
	uint64_t t = 0;
	int i;

	for (i = 0; i < LG_ERR_COUNT; i++)
		t += st->errors[i];
	return t;
}

/* The figures of one stats block, from "duration_s" to "connections_opened". */
static void report_json_body(FILE *f, const struct lg_config *cfg, const struct lg_stats *st,
			     double duration_s)
{
	double rps = duration_s > 0 ? (double)st->requests / duration_s : 0.0;
	bool first;
	uint32_t i;

	fprintf(f, "\"duration_s\":%.6f,\"requests\":%llu,\"rps\":%.2f,\"bytes\":%llu,", duration_s,
		(unsigned long long)st->requests, rps, (unsigned long long)st->bytes);
	fprintf(f, "\"latency_us\":");
	report_json_hist(f, &st->latency);
	fprintf(f, ",\"latency_uncorrected_us\":");
	if (cfg->rate > 0)
		report_json_hist(f, &st->uncorrected);
	else
		fprintf(f, "null");
	fprintf(f, ",\"connect_us\":");
	report_json_hist(f, &st->connect);
	fprintf(f, ",\"handshake_us\":");
	report_json_hist(f, &st->handshake);
	fprintf(f, ",\"errors\":{");
	for (i = 0; i < LG_ERR_COUNT; i++)
		fprintf(f, "\"%s\":%llu,", report_err_names[i], (unsigned long long)st->errors[i]);
	fprintf(f, "\"total\":%llu}", (unsigned long long)report_errors_total(st));
	fprintf(f, ",\"error_detail\":{\"tls\":");
	json_string(f, st->tls_err);
	fprintf(f, ",\"socket\":");
	json_string(f, st->sys_err);
	fprintf(f, "},\"status\":{");
	first = true;
	for (i = 0; i < LG_STATUS_MAX; i++) {
		if (!st->status[i])
			continue;
		fprintf(f, "%s\"%u\":%llu", first ? "" : ",", i, (unsigned long long)st->status[i]);
		first = false;
	}
	fprintf(f, "},\"handshakes\":{\"full\":%llu,\"resumed\":%llu}",
		(unsigned long long)st->hs_full, (unsigned long long)st->hs_resumed);
	fprintf(f, ",\"connections_opened\":%llu", (unsigned long long)st->conns_opened);
}

static void report_json_wake(FILE *f, const struct cgcpu_wake *w)
{
	fprintf(f, "\"voluntary\":%llu,\"nonvoluntary\":%llu", (unsigned long long)w->vol,
		(unsigned long long)w->nonvol);
}

/*
 * "server_wakeups": the cgroups' threads' context switches over the window
 * and per request; null when not read (the CPU figure stands without it).
 */
static void report_json_server_wake(FILE *f, const struct lg_report *r,
				    const struct cgcpu_wake *w, uint64_t requests)
{
	fprintf(f, "\"server_wakeups\":");
	if (!r->wakeups) {
		fprintf(f, "null");
		return;
	}
	fprintf(f, "{");
	report_json_wake(f, w);
	fprintf(f, ",\"voluntary_per_request\":");
	if (requests)
		fprintf(f, "%.4f", (double)w->vol / (double)requests);
	else
		fprintf(f, "null");
	fprintf(f, "}");
}

/*
 * "server_cpu": usec over the window and per request, and each cgroup's own
 * usec (of target `only`, or of all when only < 0); null when not measured.
 */
static void report_json_server_cpu(FILE *f, const struct lg_report *r, uint64_t usec,
				   uint64_t requests, int only)
{
	bool first = true;
	int i;

	fprintf(f, "\"server_cpu\":");
	if (!r->server_cpu) {
		fprintf(f, "null");
		return;
	}
	fprintf(f, "{\"usec\":%llu,\"ns_per_request\":", (unsigned long long)usec);
	if (requests)
		fprintf(f, "%.1f", (double)usec * 1e3 / (double)requests);
	else
		fprintf(f, "null");
	fprintf(f, ",\"cgroups\":[");
	for (i = 0; i < r->ncgroups; i++) {
		if (only >= 0 && r->cgroup[i].target != (uint32_t)only)
			continue;
		fprintf(f, "%s{\"path\":", first ? "" : ",");
		json_string(f, r->cgroup[i].path);
		fprintf(f, ",\"usec\":%llu", (unsigned long long)r->cgroup[i].usec);
		if (r->wakeups) {
			fprintf(f, ",");
			report_json_wake(f, &r->cgroup[i].wake);
		}
		fprintf(f, "}");
		first = false;
	}
	fprintf(f, "]}");
}

/*
 * "loadgen_cpu": a load thread's (or the threads' summed) own CPU time over
 * the measured window, and per request; null when not measured.
 */
static void report_json_thread_cpu(FILE *f, const struct lg_thread_cpu *c, uint64_t requests)
{
	fprintf(f, "\"loadgen_cpu\":");
	if (!c->valid) {
		fprintf(f, "null");
		return;
	}
	fprintf(f, "{\"usec\":%llu,\"ns_per_request\":", (unsigned long long)(c->ns / 1000));
	if (requests)
		fprintf(f, "%.1f", (double)c->ns / (double)requests);
	else
		fprintf(f, "null");
	fprintf(f, ",\"user_s\":%.6f,\"sys_s\":%.6f}", c->user_s, c->sys_s);
}

static void report_json_netns(FILE *f, const struct lg_target *tg)
{
	fprintf(f, "\"netns\":");
	if (tg->netns)
		json_string(f, tg->netns);
	else
		fprintf(f, "null");
}

void report_json(FILE *f, const struct lg_report *r)
{
	const struct lg_config *cfg = r->cfg;
	const struct lg_stats *st = r->st;
	uint32_t i;

	fprintf(f, "{\"schema\":\"sandbench-loadgen/1\",\"url\":");
	json_string(f, cfg->target[0].url_text);
	fprintf(f, ",");
	report_json_netns(f, &cfg->target[0]);
	fprintf(f, ",\"mode\":\"%s\",\"connections\":%u,\"threads\":%u,\"thread_per_target\":%s,",
		report_mode(cfg), cfg->conns, cfg->threads,
		cfg->thread_per_target ? "true" : "false");
	if (cfg->rate > 0)
		fprintf(f, "\"rate\":%.3f,\"arrivals\":\"%s\",", cfg->rate,
			cfg->arrivals == SCHED_POISSON ? "poisson" : "uniform");
	else
		fprintf(f, "\"rate\":null,");
	report_json_body(f, cfg, st, r->duration_s);
	fprintf(f, ",\"timeline\":[");
	for (i = 0; i < r->timeline_len; i++)
		fprintf(f, "%s%llu", i ? "," : "", (unsigned long long)st->timeline[i]);
	fprintf(f, "],\"cpu\":{\"user_s\":%.6f,\"sys_s\":%.6f,\"per_100k_requests_s\":", r->user_s,
		r->sys_s);
	if (st->requests)
		fprintf(f, "%.6f", (r->user_s + r->sys_s) * 1e5 / (double)st->requests);
	else
		fprintf(f, "null");
	fprintf(f, "},");
	report_json_thread_cpu(f, &r->threads_cpu, st->requests);
	fprintf(f, ",");
	report_json_server_cpu(f, r, r->server_cpu_usec, st->requests, -1);
	fprintf(f, ",");
	report_json_server_wake(f, r, &r->server_wake, st->requests);
	if (r->ntargets > 1) {
		fprintf(f, ",\"targets\":[");
		for (i = 0; i < r->ntargets; i++) {
			fprintf(f, "%s{\"url\":", i ? "," : "");
			json_string(f, cfg->target[i].url_text);
			fprintf(f, ",");
			report_json_netns(f, &cfg->target[i]);
			fprintf(f, ",\"connections\":%u,", cfg->conns / r->ntargets);
			if (cfg->rate > 0)
				fprintf(f, "\"rate\":%.3f,", cfg->rate / r->ntargets);
			else
				fprintf(f, "\"rate\":null,");
			report_json_body(f, cfg, r->target_st[i], r->duration_s);
			fprintf(f, ",");
			report_json_thread_cpu(f, &r->target_cpu[i], r->target_st[i]->requests);
			fprintf(f, ",");
			report_json_server_cpu(f, r, r->target_cpu_usec[i], r->target_st[i]->requests,
					       (int)i);
			fprintf(f, ",");
			report_json_server_wake(f, r, &r->target_wake[i], r->target_st[i]->requests);
			fprintf(f, "}");
		}
		fprintf(f, "]");
	}
	fprintf(f, ",\"pipeline\":%u,\"warmup_s\":%.3f,\"timeout_ms\":%u,\"batch\":%s",
		cfg->pipeline, cfg->warmup_s, cfg->timeout_ms, cfg->batch ? "true" : "false");
	fprintf(f, ",\"tls_version\":%s",
		cfg->tls_version == TLS1_2_VERSION   ? "\"1.2\""
		: cfg->tls_version == TLS1_3_VERSION ? "\"1.3\""
						     : "null");
	fprintf(f,
		",\"io_uring\":{\"single_issuer_defer_taskrun\":%s,\"coop_taskrun\":%s,"
		"\"registered_ring_fd\":%s,\"buf_ring\":%s,\"multishot_recv\":%s,"
		"\"min_wait\":%s}",
		r->feat.single_issuer ? "true" : "false", r->feat.coop_taskrun ? "true" : "false",
		r->feat.ring_fd_registered ? "true" : "false", r->feat.buf_ring ? "true" : "false",
		r->feat.multishot ? "true" : "false", r->feat.min_wait ? "true" : "false");
	fprintf(f, ",\"interrupted\":%s}\n", r->interrupted ? "true" : "false");
}

static void report_text_hist(FILE *f, const char *name, const struct hist *h)
{
	struct hist_summary s;

	hist_summarize(h, &s);
	fprintf(f, "  %-10s %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f\n", name,
		s.mean / 1e3, s.stdev / 1e3, s.p50 / 1e3, s.p90 / 1e3, s.p99 / 1e3, s.p999 / 1e3,
		s.p9999 / 1e3, s.max / 1e3);
}

void report_text(FILE *f, const struct lg_report *r)
{
	const struct lg_config *cfg = r->cfg;
	const struct lg_stats *st = r->st;
	double rps = r->duration_s > 0 ? (double)st->requests / r->duration_s : 0.0;
	uint32_t i;

	fprintf(f, "%s %s%s, %s loop%s, %u connections, %u threads", "loadgen",
		cfg->target[0].url_text, cfg->ntargets > 1 ? " and more" : "",
		cfg->rate > 0 ? "open" : "closed",
		cfg->mode == LG_CLOSE ? ", new connection per request"
		: cfg->mode == LG_RESUME ? ", new resumed connection per request" : "",
		cfg->conns, cfg->threads);
	if (cfg->rate > 0)
		fprintf(f, ", %.0f req/s scheduled (%s)", cfg->rate,
			cfg->arrivals == SCHED_POISSON ? "poisson" : "uniform");
	fprintf(f, "\n  latency us       mean      stdev        p50        p90        p99      p99.9"
		   "     p99.99        max\n");
	report_text_hist(f, cfg->rate > 0 ? "corrected" : "request", &st->latency);
	if (cfg->rate > 0)
		report_text_hist(f, "sent", &st->uncorrected);
	if (st->connect.total)
		report_text_hist(f, "connect", &st->connect);
	if (st->handshake.total)
		report_text_hist(f, "handshake", &st->handshake);
	fprintf(f, "  %llu requests in %.2fs, %.2f MB read%s\n", (unsigned long long)st->requests,
		r->duration_s, (double)st->bytes / 1e6, r->interrupted ? " (interrupted)" : "");
	fprintf(f, "  Requests/sec: %.2f\n", rps);
	fprintf(f, "  Connections opened: %llu (TLS full %llu, resumed %llu)\n",
		(unsigned long long)st->conns_opened, (unsigned long long)st->hs_full,
		(unsigned long long)st->hs_resumed);
	fprintf(f, "  CPU: user %.2fs sys %.2fs", r->user_s, r->sys_s);
	if (st->requests)
		fprintf(f, " = %.3fs per 100k requests", (r->user_s + r->sys_s) * 1e5 / (double)st->requests);
	if (r->threads_cpu.valid && st->requests)
		fprintf(f, "; load threads %.2f us per request",
			(double)r->threads_cpu.ns / 1e3 / (double)st->requests);
	fprintf(f, "\n");
	if (r->server_cpu) {
		fprintf(f, "  Server CPU: %.3fs", (double)r->server_cpu_usec / 1e6);
		if (st->requests)
			fprintf(f, " = %.2f us per request",
				(double)r->server_cpu_usec / (double)st->requests);
		fprintf(f, "\n");
	}
	if (report_errors_total(st)) {
		fprintf(f, "  Errors:");
		for (i = 0; i < LG_ERR_COUNT; i++)
			if (st->errors[i])
				fprintf(f, " %s %llu", report_err_names[i], (unsigned long long)st->errors[i]);
		fprintf(f, "\n");
		if (st->tls_err[0])
			fprintf(f, "  first TLS error: %s\n", st->tls_err);
		if (st->sys_err[0])
			fprintf(f, "  first socket error: %s\n", st->sys_err);
	}
	fprintf(f, "  Status:");
	for (i = 0; i < LG_STATUS_MAX; i++)
		if (st->status[i])
			fprintf(f, " %u=%llu", i, (unsigned long long)st->status[i]);
	fprintf(f, "\n");
	for (i = 0; r->ntargets > 1 && i < r->ntargets; i++) {
		const struct lg_stats *ts = r->target_st[i];
		struct hist_summary s;

		hist_summarize(&ts->latency, &s);
		fprintf(f, "  target %u %s: %llu requests, %.2f/s, p50 %.1f us, p99 %.1f us, %llu errors",
			i, cfg->target[i].url_text, (unsigned long long)ts->requests,
			r->duration_s > 0 ? (double)ts->requests / r->duration_s : 0.0, s.p50 / 1e3,
			s.p99 / 1e3, (unsigned long long)report_errors_total(ts));
		if (r->server_cpu && ts->requests)
			fprintf(f, ", server %.2f us per request",
				(double)r->target_cpu_usec[i] / (double)ts->requests);
		if (r->target_cpu[i].valid && ts->requests)
			fprintf(f, ", loadgen %.2f us per request",
				(double)r->target_cpu[i].ns / 1e3 / (double)ts->requests);
		if (cfg->target[i].netns)
			fprintf(f, ", netns %s", cfg->target[i].netns);
		fprintf(f, "\n");
	}
}
