/* tlsp_impl: what tlsp_conf.c (loading) and tlsp.c (deciding) share; not for
 * other modules (they use tlsp.h). */
#ifndef POSTSEAL_TLSP_IMPL_H
#define POSTSEAL_TLSP_IMPL_H

#include <stddef.h>

#include "sendmail_access.h"
#include "tlsp.h"

#define L_NONE 0
#define L_MAY 1
#define L_DANE 2
#define L_ENCRYPT 3
#define L_DANE_ONLY 4
#define L_FINGERPRINT 5
#define L_VERIFY 6
#define L_SECURE 7
#define L_NOTFOUND 8 /* [tlspolicy] default only */

extern const char *const tlsp_levels[]; /* by L_ value, NULL-terminated */
extern const char *const tlsp_protos[]; /* TLSv1 .. TLSv1.3, NULL-terminated */

#define SRC_MAX 512
#define FP_LEN 95 /* SHA-256 as 32 colon-separated hex pairs */

struct tlsp_rule {
    char *label;  /* section name after "tlspolicy " */
    char **dests; /* lower-cased lookup keys */
    size_t ndests;
    char source[SRC_MAX];
    int line;
    int level; /* -1 until given */
    char *match;
    char *tafile;
    int min_bits;  /* -1: [tlspolicy] min_cipher_bits */
    int min_proto; /* -1: [tlspolicy] min_protocol */
    int bounce;
    char *bounce_text;
};

struct tlsp_conf {
    struct tlsp_daemon d;
    char *policy_name;
    char *transport_name;
    int def_level;
    char def_source[SRC_MAX];
    int min_bits;
    int min_proto;
    struct tlsp_rule *rules;
    size_t nrules;
    struct sma_conf sm;
};

void tlsp_lower(char *s);

#endif
