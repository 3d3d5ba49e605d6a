/* inbound_sig: the result of one signature verification, filled by
 * smime_in.c and pgp_in.c, judged by inbound.c. */
#ifndef POSTSEAL_INBOUND_SIG_H
#define POSTSEAL_INBOUND_SIG_H

#include "status.h"

struct inbound_sig {
    int present;         /* a signature was found */
    int valid;           /* the signature verifies over the signed bytes */
    int from_match;      /* the signer's identity includes the From address */
    int trusted;         /* chain to a trusted CA / OpenPGP key validity full */
    int expired;         /* the signer's certificate or key is expired */
    int revoked_key;     /* OpenPGP: the key itself is marked revoked locally */
    int key_unreachable; /* the signer's key is missing and its lookup failed temporarily */
    char method[8];      /* "smime" or "pgp" */
    char signer[256];    /* matching identity, else the first one, else key id */
    char why[240];       /* first problem found, for the header and the log */
    struct status_answer status;
};

#endif
