/*
 * Description: JSON output shared by the bench programs (loadgen, syscost).
 */
#ifndef COMMON_JSON_H
#define COMMON_JSON_H

#include <stdio.h>

/*
 * Writes s as a JSON string literal, quotes included: '"' and '\' are
 * escaped, control characters and DEL become \u00XX, every other byte is
 * written as it is (UTF-8 passes through).
 */
void json_string(FILE *f, const char *s);

#endif
