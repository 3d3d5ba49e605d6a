/*
 * fuzz_cfg: libFuzzer target for the ini loader (lib/cfg) and the strict value
 * parsers every program's validator is built on.
 *
 * Each input is written to a memfd and loaded through /proc/self/fd/N, the same
 * path cfg_load() takes for /etc/postseal/postseal.ini.  A loaded config is then
 * run through cfg_check_owners() and every value through cfg_uint, cfg_seconds,
 * cfg_bool, cfg_enum and cfg_list, and through each program's validator:
 * postseal-policyd's pol_conf_load ([global], [policy ...]), postseal-tlspolicyd's
 * tlsp_load ([tlspolicy ...], [sendmail]), the filter's inbound_cfg_load
 * ([inbound ...]) and keys_new ([keys ...]).  Findings: any sanitizer report, leak, or a config that loads
 * with an entry whose line number is out of range.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cfg.h"
#include "inbound.h"
#include "keys.h"
#include "log.h"
#include "policyd.h"
#include "tlsp.h"

static int fuzz_fd = -1;
static char fuzz_path[64];

static int fuzz_item(const char *item, size_t len, void *arg)
{
    size_t *total = arg;

    if (len == 0 || memchr(item, ',', len) != NULL)
        abort(); /* an empty item or an unsplit separator is a cfg_list bug */
    *total += len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"temporary", "permanent", "disconnect", "hold", NULL};
    struct cfg_diag diag = {0};
    struct cfg *cfg;
    size_t i, lines = 1;
    int errors = 0;
    struct pol_conf *pol;

    if (fuzz_fd < 0) {
        log_open("fuzz_cfg", LOG_TO_STDERR, 0);
        if ((fuzz_fd = memfd_create("fuzz_cfg", 0)) < 0)
            abort();
        snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d", fuzz_fd);
    }
    if (ftruncate(fuzz_fd, 0) < 0 || pwrite(fuzz_fd, data, size, 0) != (ssize_t)size)
        abort();
    for (i = 0; i < size; i++)
        lines += data[i] == '\n';
    if ((pol = pol_conf_load(fuzz_path, &errors)) != NULL)
        pol_conf_free(pol);
    if ((cfg = cfg_load(fuzz_path, &diag)) == NULL)
        return 0;
    {
        struct cfg_diag d2 = {.path = fuzz_path};
        struct tlsp_conf *tl = tlsp_load(cfg, &d2);
        struct inbound_cfg *ib;

        tlsp_free(tl);
        d2.errors = 0;
        if ((ib = inbound_cfg_load(cfg, &d2)) != NULL)
            inbound_cfg_free(ib);
        d2.errors = 0;
        keys_free(keys_new(cfg, &d2)); /* [keys ...] */
    }
    cfg_check_owners(cfg, &diag);
    for (i = 0; i < cfg->count; i++) {
        const struct cfg_entry *e = &cfg->entries[i];
        long l;
        int b;
        size_t total = 0;

        if (e->line < 1 || (size_t)e->line > lines)
            abort(); /* file:line in every message must point into the file */
        (void)cfg_uint(&diag, e, 0, 1000000, &l);
        (void)cfg_seconds(&diag, e, 1, 86400 * 365, &l);
        (void)cfg_bool(&diag, e, &b);
        (void)cfg_enum(&diag, e, names, &b);
        (void)cfg_list(e->value, fuzz_item, &total);
        (void)cfg_section_is(e->section, "policy");
    }
    cfg_free(cfg);
    return 0;
}
