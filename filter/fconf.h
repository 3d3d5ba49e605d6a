/* fconf: the [filter], [filter rule NAME] and [filter signkey NAME] sections
 * (see fconf.c). */
#ifndef POSTSEAL_FCONF_H
#define POSTSEAL_FCONF_H

#include <regex.h>
#include <stddef.h>
#include <sys/types.h>

#include "cfg.h"
#include "keystore.h"
#include "reinject.h"

enum { FC_ENC_NEVER, FC_ENC_OPPORTUNISTIC, FC_ENC_REQUIRED };
enum { FC_NOKEY_DEFER, FC_NOKEY_BOUNCE, FC_NOKEY_HOLD, FC_NOKEY_NOTICE };
enum { FC_METH_PGP = 1, FC_METH_SMIME = 2 };
enum { FC_FIRST_MATCH, FC_MOST_SPECIFIC };
enum { FC_MALFORMED_DEFER, FC_MALFORMED_BOUNCE };
/* [filter] hidden_recipients: auto = hidden when one OpenPGP message has more than one recipient */
enum { FC_HIDDEN_AUTO, FC_HIDDEN_YES, FC_HIDDEN_NO };
enum { FC_CIPHER_CBC, FC_CIPHER_GCM };

/* What a rule (or [filter], for the defaults) sets; -1 / 0 methods = unset. */
struct fc_action {
    int encrypt;
    int sign;
    int no_key;
    int protect_subject;
    int smime_cipher;
    int methods[2]; /* preference order */
    int nmethods;
    char *signkey; /* a [filter signkey NAME] forced by the rule, or NULL */
};

/* A list of patterns of one kind (any may match). */
struct fc_plist {
    char **v;
    size_t n;
};

struct fc_hdrcond {
    char *field;
    char *src; /* the regex as written, for --dry-run */
    regex_t re;
};

struct fc_rule {
    char *name;
    int line; /* first line of the section */
    struct fc_plist rcpt, rcpt_domain, sender, sender_domain;
    struct fc_hdrcond *hdr;
    size_t nhdr;
    struct fc_hdrcond *body; /* field unused */
    size_t nbody;
    struct fc_action act;
};

struct fc_signkey {
    char *name;
    int line;
    struct fc_plist sender, sender_domain;
    char *pgp_key;    /* fingerprint or address of a secret key in gnupg_home */
    char *smime_cert; /* PEM: signer certificate (+ chain) */
    char *smime_key;  /* PEM: its private key, mode 0600/0400 */
};

struct fconf {
    struct reinject_conf reinject;
    struct reinject_conf hold; /* no_key = hold: the holding smtpd (hold.host "" = none) */
    int hold_line;
    char *temp_dir;
    off_t max_size;
    long time_limit; /* seconds for the whole run, 0 = none */
    int malformed;
    int order;
    int hidden_recipients; /* FC_HIDDEN_* */
    char *notice_from;
    struct fc_action defaults;
    struct keystore_conf ks;
    struct fc_rule *rules;
    size_t nrules;
    struct fc_signkey *signkeys;
    size_t nsignkeys;
};

/* Validates every [filter ...] section of cfg: each error is reported as
 * FILE:LINE through diag.  Returns NULL when diag->errors > 0. */
struct fconf *fconf_load(const struct cfg *cfg, struct cfg_diag *diag);
void fconf_free(struct fconf *fc);

const char *fconf_encrypt_name(int v);
const char *fconf_nokey_name(int v);
const char *fconf_method_name(int v);

#endif
