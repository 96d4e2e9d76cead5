/*
 * Description: the command line of every sandbench program. A table of
 * options is walked by opt_next, much like getopt_long, but all of the
 * walk's state is in the caller's struct opt_parser: nothing is global, so a
 * parse that stopped half way leaves nothing behind for the next one. And
 * parse_uint, the one way a number is read from an argument.
 *
 * The table says which options there are, the flags which spellings a
 * program accepts (its users' command lines must keep working, and what a
 * program refused it still refuses):
 *
 *   --name VALUE, -c VALUE    always (-c: a short option, see struct opt)
 *   --name=VALUE              OPT_EQUALS
 *   -name, -name=VALUE        OPT_ONE_DASH (then there are no short options)
 *   -abc, -cVALUE             OPT_CLUSTER
 *   --na for --name           OPT_PREFIX (an exact name wins; two others refuse)
 *   operands, and "--"        OPT_OPERANDS (else any operand is refused)
 *
 * OPT_GETOPT is getopt_long's set: loadgen's. The servers take
 * OPT_EQUALS | OPT_ONE_DASH, syscost none.
 */
#ifndef COMMON_OPT_H
#define COMMON_OPT_H

#include <stdbool.h>
#include <stdint.h>

enum {
	OPT_EQUALS = 1 << 0,
	OPT_ONE_DASH = 1 << 1,
	OPT_CLUSTER = 1 << 2,
	OPT_PREFIX = 1 << 3,
	OPT_OPERANDS = 1 << 4,
	OPT_GETOPT = OPT_EQUALS | OPT_CLUSTER | OPT_PREFIX | OPT_OPERANDS,
};

/* What opt_next returns besides an option's key and -EINVAL. */
enum { OPT_END = 0, OPT_OPERAND = 1 };

struct opt {
	const char *name; /* long name, without dashes; several entries may share a key */
	int key;          /* returned for it: >= 2, and 0 ends the table. An ASCII letter or
			     digit is also the short option -KEY (not with OPT_ONE_DASH) */
	bool value;       /* takes a value */
};

struct opt_parser {
	const struct opt *opts;
	unsigned flags;
	int argc;
	char **argv;
	int next;            /* the next argument to read */
	const char *cluster; /* the rest of "-abc" after -a, or NULL */
	bool operands;       /* after "--": every argument is an operand */
	const char *value;   /* the option's value or the operand; NULL for a flag */
	char err[256];       /* why opt_next returned -EINVAL, a whole sentence */
};

/* Starts a walk over argv[1..argc-1]. opts and argv are borrowed. */
void opt_init(struct opt_parser *p, const struct opt *opts, unsigned flags, int argc,
	      char **argv);

/*
 * The next option's key (p->value its value, pointing into argv), OPT_OPERAND
 * (p->value the argument), OPT_END, or -EINVAL with p->err saying why: an
 * unknown or ambiguous option, a value missing or given to a flag, an
 * operand where the program takes none.
 */
int opt_next(struct opt_parser *p);

/*
 * Reads a decimal number from s: digits only (no sign, no space, no base
 * prefix). With end NULL the whole of s must be the number, otherwise *end
 * is set to the first byte after its digits. Returns 0 and *ret, -EINVAL
 * when s does not start with a digit or has anything after it, -ERANGE when
 * the number is outside min..max (or past UINT64_MAX).
 */
int parse_uint(const char *s, const char **end, uint64_t min, uint64_t max, uint64_t *ret);

#endif
