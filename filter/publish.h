/* publish: postseal-keys, publishing this gateway's own keys (see publish_*.c). */
#ifndef POSTSEAL_PUBLISH_H
#define POSTSEAL_PUBLISH_H

#include <stddef.h>

#include "cfg.h"

#define PUBLISH_MAX_DOMAINS 256
#define PUBLISH_MAX_FILES 1024

/* The [publish] section, validated (publish_cfg.c).  Defaults already applied;
 * *_line: where a value came from (0: a default). */
struct publish_conf {
    const char *path; /* the config file, for messages */
    char *domains[PUBLISH_MAX_DOMAINS];
    int ndomains;
    char *gnupg_home; /* [publish], else [inbound], else [filter] gnupg_home; may be NULL */
    int gnupg_home_line;
    int keys_all;      /* keys = all (else secret) */
    char *gateway_key; /* fingerprint, upper case, or NULL */
    int gateway_key_line;
    char *gateway_localpart; /* never NULL */
    char *wkd_dir;           /* may be NULL */
    int wkd_dir_line;
    int wkd_advanced, wkd_direct;
    char *ldif_file; /* may be NULL */
    int ldif_file_line;
    char *ldif_base;                      /* may be NULL */
    char *smime_certs[PUBLISH_MAX_FILES]; /* files or directories */
    int smime_lines[PUBLISH_MAX_FILES];
    int nsmime;
};

/* Validates [publish] (errors as FILE:LINE through diag) and reads the
 * defaults it takes from [inbound], [filter] and [keys].  NULL when
 * diag->errors > 0. */
struct publish_conf *publish_conf_load(const struct cfg *cfg, struct cfg_diag *diag);
void publish_conf_free(struct publish_conf *pc);
/* 1 when domain (any case) is one of domains. */
int publish_domain_ok(const struct publish_conf *pc, const char *domain);

/* Messages of the publishing run: "postseal-keys: TEXT" on stderr. */
void publish_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void publish_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void publish_set_verbose(int verbose);

/* OpenPGP keys to publish, one entry per address (publish_pgp.c). */
struct publish_addr {
    char addr[256];  /* lower case */
    char local[128]; /* lower case local part */
    char domain[256];
    char hash[40]; /* WKD hash of local */
    char *data;    /* binary keys, concatenated, only user IDs of addr */
    size_t len;
    int nkeys;
};
struct publish_keys {
    struct publish_addr *v;
    int n;
};
/* Collects every publishable key of gnupg_home by address, each exported
 * with only the user IDs of its address.  Skipped keys are reported with
 * publish_note.  Returns 0, or -1 after reporting the fault (gpg failure,
 * gateway key without its user ID, ...). */
int publish_pgp_collect(const struct publish_conf *pc, struct publish_keys *out);
void publish_keys_free(struct publish_keys *pk);
/* Walks the OpenPGP packets of data (binary): 0 when they are well-formed
 * and none is a secret key packet (tag 5 or 7), else -1 with why. */
int publish_pgp_public_only(const unsigned char *data, size_t len, char *why, size_t wlen);

/* Writes the WKD tree for keys into dir, replacing it atomically
 * (publish_wkd.c).  0 or -1 after reporting. */
int publish_wkd_write(const struct publish_conf *pc, const struct publish_keys *pk,
                      const char *dir);

/* Writes the LDIF of the S/MIME certificates to file, replacing it atomically
 * (publish_ldif.c).  nentries: how many entries were written.  0 or -1. */
int publish_ldif_write(const struct publish_conf *pc, const char *file, int *nentries);
/* The LDIF text into a malloc'd buffer (no file).  0 or -1 after reporting. */
int publish_ldif_build(const struct publish_conf *pc, char **text, size_t *len, int *nentries);

/* Atomic file system replacement (publish_fs.c). */
int publish_fs_tmpdir(const char *target, char *tmp, size_t len);
int publish_fs_mkdirs(const char *path);
int publish_fs_write(const char *path, const void *data, size_t len);
int publish_fs_replace_dir(const char *tmp, const char *target);
int publish_fs_replace_file(const char *target, const void *data, size_t len);
int publish_fs_rmtree(const char *path);

#endif
