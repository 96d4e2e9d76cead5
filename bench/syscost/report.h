/*
 * Description: syscost's output, a table for people or one JSON object
 * (schema "syscost/1", described in bench/README.md).
 */
#ifndef SYSCOST_REPORT_H
#define SYSCOST_REPORT_H

#include <stdio.h>

#include "bench/syscost/env.h"
#include "bench/syscost/measure.h"
#include "bench/syscost/plan.h"

struct report_params {
	unsigned batches, batch_size, rounds, seed, build_reps;
	const char *modes; /* as given */
};

/* Build + load timings of one filter variant over repetitions. */
struct report_build {
	const char *variant; /* "linear" or "tree" */
	struct measure_build *reps; /* borrowed */
	size_t n;
	int status;
};

/* Writes the JSON object. builds may be NULL (nbuilds 0). Sorts the
 * samples in place. */
void report_json(FILE *f, const struct env *env, const struct report_params *params,
		 struct plan *plan, struct report_build *builds, size_t nbuilds);

/* Writes the table. Sorts the samples in place. */
void report_table(FILE *f, const struct env *env, const struct report_params *params,
		  struct plan *plan, struct report_build *builds, size_t nbuilds);

#endif
