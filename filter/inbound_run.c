/*
 * inbound_run: glue between postseal-filter's main() and inbound_process:
 * the processed message goes to a temp file in [filter] temp_dir and is
 * reinjected with [filter] reinjection settings, once, for all local
 * recipients.  Recipients outside local_domains in the same delivery (an
 * outside sender's message also addressed elsewhere) never get the
 * decrypted copy: the original message goes to them through the outbound
 * path (outbound_run), as if it had arrived alone.
 *
 * Contract: reinjection happens only after inbound_process returned
 * FERR_OK; a message held in hold_dir is not reinjected; one held without
 * hold_dir goes (with X-Postseal-Hold) to [filter] hold_reinject, the smtpd
 * that puts everything in Postfix's hold queue (reinject_hold: never the
 * normal return path, so a missing hold wiring cannot deliver it; --check
 * refuses that configuration); the outbound part runs only
 * after the inbound part succeeded; every failure is FERR_TEMP or FERR_PERM
 * with err set (a later failure after an earlier success makes Postfix retry
 * both: duplicates, never loss).
 */
#include <stdio.h>
#include <stdlib.h>

#include "inbound_int.h"
#include "inbound_run.h"
#include "log.h"
#include "outbound.h"
#include "reinject.h"
#include "spool.h"

static int inbound_run_local(const struct fconf *fc, const struct inbound_cfg *ic, int fd,
                             off_t size, const char *sender, const char *const *rcpts, size_t n,
                             int dry_run, FILE *out, struct ferr *err)
{
    struct inbound_result res;
    FILE *tmp;
    int rc;

    if ((tmp = spool_tmpfp(fc->temp_dir, err)) == NULL)
        return err->code;
    inbound_set_tmpdir(fc->temp_dir);
    rc = inbound_process(ic, fd, 0, size, sender, rcpts, n, tmp, &res, err);
    if (dry_run) {
        fprintf(out, "inbound: X-Postseal-Verify: %s\n", res.verify);
        if (rc == FERR_OK && res.action == INBOUND_HOLD && res.held_path[0])
            fprintf(out, "inbound: held as %s\n", res.held_path);
        else if (rc != FERR_OK)
            fprintf(out, "inbound: exit %d: %s\n", ferr_exit_code(rc), err->text);
        else if (fseeko(tmp, 0, SEEK_SET) == 0)
            rc = spool_write_range(fileno(tmp), 0, -1, out, err);
    } else if (rc == FERR_OK && !(res.action == INBOUND_HOLD && res.held_path[0])) {
        if (fflush(tmp) != 0) {
            ferr_set(err, FERR_TEMP, "4.3.0 inbound: temp file write error");
            rc = FERR_TEMP;
        } else if (res.action == INBOUND_HOLD) { /* no hold_dir: Postfix's hold queue */
            rc = reinject_hold(&fc->reinject, &fc->hold, fileno(tmp), sender, rcpts, n, err);
        } else {
            rc = reinject_send(&fc->reinject, fileno(tmp), sender, rcpts, n, err);
        }
        if (rc == FERR_OK)
            log_info("inbound: from=<%s> nrcpt=%zu %s", sender, n,
                     res.action == INBOUND_HOLD ? "held (hold_reinject)" : "reinjected");
    }
    fclose(tmp);
    return rc;
}

int inbound_run(const struct fconf *fc, struct keys *keys, const struct inbound_cfg *ic, int fd,
                off_t size, const char *sender, const char *const *rcpts, size_t n, int dry_run,
                FILE *out, struct ferr *err)
{
    const char **local = calloc(n + 1, sizeof(*local)), **remote = calloc(n + 1, sizeof(*remote));
    size_t i, nl = 0, nr = 0;
    int rc = FERR_OK;

    if (local == NULL || remote == NULL) {
        free(local);
        free(remote);
        ferr_set(err, FERR_TEMP, "4.3.0 inbound: out of memory");
        return FERR_TEMP;
    }
    for (i = 0; i < n; i++) {
        if (inbound_domain_in(&ic->local_domains, inbound_domain(rcpts[i])))
            local[nl++] = rcpts[i];
        else
            remote[nr++] = rcpts[i];
    }
    if (nl > 0)
        rc = inbound_run_local(fc, ic, fd, size, sender, local, nl, dry_run, out, err);
    if (rc == FERR_OK && nr > 0) {
        log_info("inbound: from=<%s>: %zu recipient(s) outside local_domains take the outbound "
                 "path",
                 sender, nr);
        rc = outbound_run(fc, keys, fd, size, sender, remote, nr, dry_run, out, err);
    }
    free(local);
    free(remote);
    return rc;
}
