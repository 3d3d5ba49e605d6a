/* rules_impl: the rule engine's private data, shared by rules.c (building)
 * and rules_decide.c (deciding).  Nothing outside lib/rules*.c includes it. */
#ifndef POSTSEAL_RULES_IMPL_H
#define POSTSEAL_RULES_IMPL_H

#include "rules.h"

enum rules_key {
    RK_REQUIRE_TLS,
    RK_KEYSIZE,
    RK_TLS_PROTOCOL,
    RK_CIPHER_DENY,
    RK_CIPHER_ALLOW,
    RK_FP,   /* ccert_fingerprint (+ ccert_fingerprint_file) */
    RK_PKFP, /* ccert_pubkey_fingerprint (+ ccert_pubkey_fingerprint_file) */
    RK_VERIFIED,
    RK_SUBJECT,
    RK_ISSUER,
    RK_OUTCOME,
    RK_TEMP_REPLY,
    RK_PERM_REPLY,
    RK_DISC_REPLY,
    RK_PASS_ACTION,
    RK_INHERIT,
    RK_MSG_STYLE, /* message_style: postseal or sendmail refusal texts */
    RK_COUNT
};

extern const char *const rules_keys[RK_COUNT];          /* ini key names */
extern const char *const rules_kinds[RULES_KIND_COUNT]; /* scope kind names */
extern const char *const rules_outcomes[];              /* outcome names, NULL-ended */

struct rules_list {
    char **item;
    size_t n;
    size_t alloc;
};

struct rules_scope {
    enum rules_kind kind;
    char *pattern;
    char *label; /* "[policy client 10.0.0.0/8]" */
    struct match_cidr cidr;
    int spec;
    int order;
    size_t rank;  /* position in precedence order, set by rules_finish */
    unsigned set; /* bit per enum rules_key */
    struct rules_src src[RK_COUNT];
    int require_tls;
    long keysize;
    int protocol; /* rank, 0 = none */
    char *protocol_name;
    int verified;
    int outcome;
    int inherit;
    int sendmail_style;
    char *text[RK_COUNT]; /* replies and pass_action */
    struct rules_list list[RK_COUNT];
};

struct rules {
    struct rules_scope **scope; /* sorted by precedence after rules_finish */
    size_t n;
    size_t alloc;
    struct rules_scope *global;
    char **files; /* interned file names */
    size_t nfiles;
    int finished;
    struct rules_index *index;  /* NULL: walk every scope */
    struct rules_scope **dedup; /* open addressing on (kind, pattern): finds a scope again */
    size_t dmask;
};

int rules_cmpstr(const void *a, const void *b);
/* Protocol rank: SSLv2 2, SSLv3 3, TLSv1 10, TLSv1.N 10+N; -1 unknown. */
int rules_protocol_rank(const char *p);

/* rules_decide.c */
int rules_matches(const struct rules_scope *s, const struct rules_facts *f,
                  const struct match_ip *ip, int have_ip);

/* rules_index.c: built by rules_finish when there are at least
 * rules_index_min scopes (tests lower or raise it). */
struct rules_index;
extern size_t rules_index_min;
void rules_index_build(struct rules *r);
void rules_index_free(struct rules *r);
/* The matching scopes in precedence order (at most max), or -1 when there is
 * no index or it cannot answer (then walk every scope). */
long rules_index_match(const struct rules *r, const struct rules_facts *f,
                       const struct match_ip *ip, int have_ip, const struct rules_scope **out,
                       size_t max);

#endif
