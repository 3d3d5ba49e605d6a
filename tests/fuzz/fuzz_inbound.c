/* fuzz_inbound: inbound_process on arbitrary messages (forged headers,
 * multipart/signed splitting, S/MIME decryption and verification paths,
 * RFC 9788 header restoration, EFAIL classification).  The gateway holds
 * one S/MIME key pair (tests/fuzz/keys, a throw-away test key; the seeds
 * enveloped.eml, authenveloped.eml, signed.eml, opaque.eml are made for it
 * with openssl cms), so real decryption and a trusted signature are
 * reached.  No status checks are configured, so nothing leaves the process
 * except gpg for PGP/MIME inputs (a private GnuPG home).  Any crash, leak or
 * sanitizer report is a bug; refusals are expected. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cfg.h"
#include "inbound.h"
#include "log.h"

static struct inbound_cfg *fuzz_ic;
static struct cfg *fuzz_cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char dir[] = "/tmp/fuzz_inbound.XXXXXX", ini[64];
    struct cfg_diag d = {0};
    FILE *fp;

    (void)argc;
    (void)argv;
    log_open("fuzz_inbound", LOG_TO_STDERR, 0);
    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(ini, sizeof(ini), "%s/f.ini", dir);
    if ((fp = fopen(ini, "w")) == NULL)
        abort();
    fprintf(fp,
            "[inbound]\nlocal_domains = local.example\ngnupg_home = %s\nstatus_check = no\n"
            "authserv_id = gw.local.example\n",
            dir);
    {
        /* the key must not be readable by others: copy it with mode 0600 */
        char key[64], buf[8192];
        FILE *in = fopen("tests/fuzz/keys/inbound.key", "r");
        size_t n;
        int kfd;

        snprintf(key, sizeof(key), "%s/k.key", dir);
        if (in != NULL && (kfd = open(key, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0) {
            while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
                if (write(kfd, buf, n) != (ssize_t)n)
                    abort();
            close(kfd);
            fprintf(fp,
                    "smime_keypair = %s %s/tests/fuzz/keys/inbound.pem\n"
                    "ca_file = %s/tests/fuzz/keys/inbound.pem\n",
                    key, getcwd(buf, sizeof(buf)) ? buf : ".", buf);
        }
        if (in != NULL)
            fclose(in);
    }
    fclose(fp);
    if ((fuzz_cfg = cfg_load(ini, &d)) == NULL ||
        (fuzz_ic = inbound_cfg_load(fuzz_cfg, &d)) == NULL)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *rcpt[] = {"bob@local.example"};
    struct inbound_result res;
    struct ferr err;
    int fd = memfd_create("fuzz_inbound", 0);
    FILE *out = fopen("/dev/null", "w");

    if (fd >= 0 && out != NULL && write(fd, data, size) == (ssize_t)size)
        inbound_process(fuzz_ic, fd, 0, (off_t)size, "alice@ext.example", rcpt, 1, out, &res, &err);
    if (out != NULL)
        fclose(out);
    if (fd >= 0)
        close(fd);
    return 0;
}
