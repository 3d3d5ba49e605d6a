/* inbound_int: configuration structures shared by inbound.c and
 * inbound_cfg.c only (not for other modules). */
#ifndef POSTSEAL_INBOUND_INT_H
#define POSTSEAL_INBOUND_INT_H

#include "inbound.h"
#include "status.h"

/* Message kinds, as seen at the top level before processing (bit mask). */
#define INBOUND_KIND_PLAIN 0x01
#define INBOUND_KIND_SIGNED 0x02
#define INBOUND_KIND_ENCRYPTED 0x04

enum inbound_verify { INBOUND_VERIFY_OFF, INBOUND_VERIFY_OPTIONAL, INBOUND_VERIFY_REQUIRED };

struct inbound_list {
    char **item;
    size_t n;
};

/* One [inbound rule NAME]; -1 / NULL fields inherit from [inbound]. */
struct inbound_rule {
    char *name;
    int line;
    struct inbound_list senders;    /* sender domains: "x.org" exact, ".x.org" below */
    struct inbound_list recipients; /* "user@x.org", "@x.org" or "x.org" */
    int content;                    /* INBOUND_KIND_* mask, 0 = any */
    int verify;                     /* enum inbound_verify */
    int require;                    /* INBOUND_REQ_* mask */
    int on_fail;                    /* enum inbound_action (not DEFER) */
    int on_unreachable;             /* enum inbound_action */
    int on_decrypt_fail;            /* enum inbound_action (not DEFER) */
    char *tag;
};

struct inbound_keypair {
    char *key;
    char *cert;
    int line;
};

struct inbound_cfg {
    char *path;
    struct inbound_list local_domains;
    char *gnupg_home;
    struct inbound_keypair *smime;
    size_t n_smime;
    char *hold_dir;
    char *ca_file;
    char *ca_path;
    char *authserv_id;
    long max_decrypt_size;
    int signer_lookup;      /* -1 = default (on with [keys] OpenPGP methods) */
    int signer_lookup_line; /* where signer_lookup was set, 0 = not set */
    int trust_wkd;
    struct keys *keys; /* borrowed, for signer_lookup (inbound_cfg_set_keys) */
    struct status_cfg status;
    struct inbound_rule defaults; /* [inbound]: every field set */
    struct inbound_rule *rules;
    size_t n_rules;
};

/* The rule that applies (first matching [inbound rule], else defaults),
 * with inherited fields filled in. */
void inbound_rule_pick(const struct inbound_cfg *icfg, const char *sender_domain,
                       const char *const *rcpts, size_t n, int kind, struct inbound_rule *out);

/* Domain of an address ("" when none); case is kept. */
const char *inbound_domain(const char *addr);
/* 1 when domain matches the list ("x.org" exact, ".x.org" any subdomain). */
int inbound_domain_in(const struct inbound_list *l, const char *domain);

#endif
