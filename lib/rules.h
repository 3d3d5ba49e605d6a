/* rules: THE postseal rule engine: scopes + requirements -> decision (see rules.c). */
#ifndef POSTSEAL_RULES_H
#define POSTSEAL_RULES_H

#include <stddef.h>

#include "buf.h"
#include "match.h"

/* Scope kinds in precedence order: a lower value is more specific.  Within a
 * kind, longer CIDR prefixes / more specific patterns come first, then the
 * order in which scopes were added.  RULES_GLOBAL is the [policy] section. */
enum rules_kind {
    RULES_SASL_USER,        /* glob on sasl_username ("*" = any authenticated session) */
    RULES_RECIPIENT,        /* address pattern on recipient */
    RULES_RECIPIENT_DOMAIN, /* domain pattern on the recipient's domain */
    RULES_SENDER,           /* address pattern on sender */
    RULES_SENDER_DOMAIN,    /* domain pattern on the sender's domain */
    RULES_CLIENT_NAME,      /* domain pattern on the verified client_name */
    RULES_CLIENT,           /* CIDR on client_address */
    RULES_SASL_METHOD,      /* glob on sasl_method */
    RULES_GLOBAL,
    RULES_KIND_COUNT
};

enum rules_outcome { RULES_TEMPORARY, RULES_PERMANENT, RULES_DISCONNECT, RULES_HOLD };

/* Where a setting came from, for explanations: "FILE:LINE". */
struct rules_src {
    const char *file;
    int line;
};

/* The facts of one request.  NULL or "" means unknown/absent. */
struct rules_facts {
    const char *client_address;
    const char *client_name; /* verified name; "unknown" is treated as absent */
    const char *sender;
    const char *recipient;
    const char *sasl_username;
    const char *sasl_method;
    const char *tls_protocol; /* "" for a plaintext session */
    const char *tls_cipher;
    long keysize; /* 0 for plaintext */
    const char *ccert_fingerprint;
    const char *ccert_pubkey_fingerprint;
    const char *ccert_subject; /* CN, decoded; only present for verified certs */
    const char *ccert_issuer;
};

#define RULES_TEXT_MAX 512

/* In a ccert_subject list: the CN must equal the verified client_name
 * (Sendmail's "CN" extension without a name). */
#define RULES_CLIENT_NAME_TOKEN "${client_name}"

struct rules_result {
    int failed;                        /* 0: every requirement met */
    enum rules_outcome outcome;        /* when failed */
    char reason[RULES_TEXT_MAX];       /* e.g. "TLS cipher key size 128 below required 256" */
    char action[RULES_TEXT_MAX + 400]; /* the complete Postfix action */
    struct rules_src src;              /* the setting that decided (line 0: built-in default) */
    const char *scope;                 /* its scope, e.g. "[policy client 10.0.0.0/8]" */
};

struct rules;
struct rules_scope;

struct rules *rules_new(void);
void rules_free(struct rules *r);

/* Kind names as used in section names: "client", "client_name", "sender",
 * "sender_domain", "recipient", "recipient_domain", "sasl_user", "sasl_method";
 * returns -1 for an unknown name. */
int rules_kind_parse(const char *name);
const char *rules_kind_name(enum rules_kind kind);

/* Finds or creates the scope KIND PATTERN (the pattern is validated; pattern
 * is ignored for RULES_GLOBAL).  src says where it was written.  Returns NULL
 * with err on a bad pattern. */
struct rules_scope *rules_scope(struct rules *r, enum rules_kind kind, const char *pattern,
                                const struct rules_src *src, char *err, size_t errlen);

/* Replaces a scope's label (by default "[policy KIND PATTERN]", "[policy]"),
 * shown by rules_explain and in rules_result.scope: for rules imported from
 * elsewhere, e.g. "TLS_Rcpt:user@example.com".  Returns 0 or -1 (no memory). */
int rules_scope_label(struct rules_scope *s, const char *label);

/* Sets one requirement in a scope, the same way a "key = value" line in the ini
 * file does (the keys are listed in conf/postseal.ini and postseal-policyd(8)).
 * List keys append; other keys may be set once per scope.  File references
 * (ccert_fingerprint_file) are read at once, relative paths against the
 * directory of src->file.  Returns 0, or -1 with err (the caller adds
 * FILE:LINE).  Returns -2 when key is not a rule key at all. */
int rules_set(struct rules *r, struct rules_scope *s, const char *key, const char *value,
              const struct rules_src *src, char *err, size_t errlen);

/* Ends configuration: sorts scopes by precedence.  Call once before deciding. */
void rules_finish(struct rules *r);
size_t rules_count(const struct rules *r); /* scopes, [policy] included */

/* Decides one request: every effective requirement is checked in a fixed
 * order (TLS, key size, protocol, cipher deny/allow, pins, verified cert,
 * subject, issuer); the first one that fails decides.  Never fails. */
void rules_decide(const struct rules *r, const struct rules_facts *f, struct rules_result *res);

/* Appends a human explanation: matching scopes and each effective setting
 * with its FILE:LINE. */
void rules_explain(const struct rules *r, const struct rules_facts *f, struct buf *out);

#endif
