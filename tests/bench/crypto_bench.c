/* crypto_bench: runs one outbound crypto function on a file and prints time and peak RSS
 * (self and children: gpg runs as a child of gpgme).  Built and run by tests/bench/crypto.sh.
 * usage: crypto_bench MODE INPUT OUTPUT FIXDIR
 *   MODE: pgp-encrypt pgp-sign pgp-sign-encrypt smime-encrypt smime-sign smime-sign-encrypt */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "keystore.h"
#include "log.h"
#include "pgp.h"
#include "smime.h"

static void die(const char *what, const struct ferr *err)
{
    fprintf(stderr, "%s: %s\n", what, err ? err->text : "");
    exit(1);
}

int main(int argc, char **argv)
{
    struct keystore_conf kc = {0};
    struct keystore *ks;
    struct ferr err;
    struct timespec t0, t1;
    struct rusage self, kids;
    char bob[64], alice[64], path[4096];
    const char *mode;
    FILE *out;
    int fd, rc;

    if (argc != 5) {
        fprintf(stderr, "usage: crypto_bench MODE INPUT OUTPUT FIXDIR\n");
        return 2;
    }
    mode = argv[1];
    log_open("crypto_bench", LOG_TO_STDERR, 0);
    snprintf(path, sizeof(path), "%s/gnupg", argv[4]);
    kc.gnupg_home = strdup(path);
    snprintf(path, sizeof(path), "%s/smime/certs", argv[4]);
    kc.smime_certs = strdup(path);
    snprintf(path, sizeof(path), "%s/smime/ca.pem", argv[4]);
    kc.smime_ca = strdup(path);
    if ((fd = open(argv[2], O_RDONLY)) < 0 || (out = fopen(argv[3], "w")) == NULL)
        die("open", NULL);
    if (keystore_open(&ks, &kc, &err) != FERR_OK)
        die("keystore", &err);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (strncmp(mode, "pgp-", 4) == 0) {
        struct pgp *p;
        const char *r[1] = {bob};

        if (keystore_pgp_find(ks, "bob@example.org", bob, sizeof(bob), &err) != FERR_OK ||
            keystore_pgp_signer(ks, "alice@example.org", alice, sizeof(alice), &err) != FERR_OK ||
            pgp_open(&p, kc.gnupg_home, &err) != FERR_OK)
            die("pgp setup", &err);
        if (strcmp(mode, "pgp-sign") == 0)
            rc = pgp_sign(p, fd, alice, out, &err);
        else
            rc = pgp_encrypt(p, fd, r, 1, strcmp(mode, "pgp-sign-encrypt") == 0 ? alice : NULL, out,
                             &err);
        pgp_close(p);
    } else {
        STACK_OF(X509) *rc_certs = sk_X509_new_null();
        struct smime_signer *s = NULL;
        X509 *x;

        if (keystore_smime_find(ks, "bob@example.org", &x, &err) != FERR_OK)
            die("smime setup", &err);
        sk_X509_push(rc_certs, x);
        if (strstr(mode, "sign")) {
            char cert[4096];

            snprintf(cert, sizeof(cert), "%s/smime/alice.pem", argv[4]);
            snprintf(path, sizeof(path), "%s/smime/alice.key", argv[4]);
            if (keystore_smime_signer(cert, path, &s, &err) != FERR_OK)
                die("signer", &err);
        }
        if (strcmp(mode, "smime-sign") == 0)
            rc = smime_sign(fd, s, NULL, out, &err);
        else
            rc = smime_encrypt(fd, rc_certs, NULL, s, out, &err);
        keystore_smime_signer_free(s);
        sk_X509_pop_free(rc_certs, X509_free);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc != FERR_OK)
        die(mode, &err);
    if (fclose(out) != 0)
        die("close", NULL);
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
#define TV(t) ((t).tv_sec + (t).tv_usec / 1e6)
    printf("%-20s %7.2f s  cpu %5.2f s  maxrss self %6ld KiB  children %6ld KiB (postseal)\n",
           mode, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
           TV(self.ru_utime) + TV(self.ru_stime) + TV(kids.ru_utime) + TV(kids.ru_stime),
           self.ru_maxrss, kids.ru_maxrss);
    keystore_close(ks);
    keystore_conf_free(&kc);
    return 0;
}
