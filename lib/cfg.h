/* cfg: ini file loading (inih) with file:line for every entry (see cfg.c). */
#ifndef POSTSEAL_CFG_H
#define POSTSEAL_CFG_H

#include <stddef.h>

#define CFG_MAX_LINE 199 /* longest accepted ini line, in bytes */

struct cfg_entry {
    const char *section; /* as written between [ ], "" before the first section */
    const char *key;
    const char *value;
    int line;
};

struct cfg {
    char *path;
    struct cfg_entry *entries; /* in file order; repeated keys are kept */
    size_t count;
};

/* Error accounting shared by every validator: each error is logged as
 * "FILE:LINE: text" and counted; a config with errors is never used. */
struct cfg_diag {
    const char *path;
    int errors;
};

struct cfg *cfg_load(const char *path, struct cfg_diag *diag);
void cfg_free(struct cfg *cfg);

void cfg_error(struct cfg_diag *diag, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Strict value parsers: return 0 and store the value, or -1 after reporting
 * "FILE:LINE: KEY: ..." through diag. */
int cfg_uint(struct cfg_diag *diag, const struct cfg_entry *e, long min, long max, long *out);
int cfg_bool(struct cfg_diag *diag, const struct cfg_entry *e, int *out);
int cfg_enum(struct cfg_diag *diag, const struct cfg_entry *e, const char *const *names, int *out);
int cfg_seconds(struct cfg_diag *diag, const struct cfg_entry *e, long min, long max, long *out);

/* Section ownership: the first word of a section name says which part of
 * postseal reads it ("policy", "policy client 10.0.0.0/8", "filter rule x").
 * Every program reads the same file and ignores sections it does not own. */
int cfg_section_is(const char *section, const char *owner);
/* Reports every section whose first word is no known owner (typo guard). */
void cfg_check_owners(const struct cfg *cfg, struct cfg_diag *diag);

/* Splits a list value on commas and/or whitespace; calls fn for every item.
 * Returns the first non-zero value fn returned, else 0. */
int cfg_list(const char *value, int (*fn)(const char *item, size_t len, void *arg), void *arg);

#endif
