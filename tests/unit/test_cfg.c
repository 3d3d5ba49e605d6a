/* test_cfg: ini loading keeps order and line numbers, limits are enforced. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "log.h"

static const char *write_tmp(const char *text)
{
    static char path[64];
    FILE *fp;

    snprintf(path, sizeof(path), "/tmp/test_cfg.%d.ini", (int)getpid());
    fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

Test(cfg, entries_in_order_with_lines)
{
    struct cfg_diag d = {0};
    struct cfg *c = cfg_load(
        write_tmp("# c\n[global]\na = 1\n\n[client 10.0.0.0/8]\na = 2 ; note\na = 3\n"), &d);

    cr_assert_not_null(c);
    cr_assert_eq(d.errors, 0);
    cr_assert_eq(c->count, 3);
    cr_assert_str_eq(c->entries[0].section, "global");
    cr_assert_eq(c->entries[0].line, 3);
    cr_assert_str_eq(c->entries[1].section, "client 10.0.0.0/8");
    cr_assert_str_eq(c->entries[1].value, "2");
    cr_assert_eq(c->entries[2].line, 7);
    cfg_free(c);
}

Test(cfg, long_line_is_an_error_with_line_number, .init = cr_redirect_stderr)
{
    char text[600];
    struct cfg_diag d = {0};

    log_open("t", LOG_TO_STDERR, 0);
    memset(text, 0, sizeof(text));
    strcpy(text, "[a]\nk = ");
    memset(text + strlen(text), 'x', 300);
    strcat(text, "\nj = 1\n");
    cr_assert_null(cfg_load(write_tmp(text), &d));
    cr_assert_eq(d.errors, 1);
    fflush(stderr);
    cr_assert_stderr_neq_str("");
}

Test(cfg, syntax_error_reports_line, .init = cr_redirect_stderr)
{
    struct cfg_diag d = {0};

    log_open("t", LOG_TO_STDERR, 0);
    cr_assert_null(cfg_load(write_tmp("[a]\nok = 1\nbroken line\n"), &d));
    cr_assert_eq(d.errors, 1);
}

Test(cfg, missing_file)
{
    struct cfg_diag d = {0};

    log_open("t", LOG_TO_STDERR, 0);
    cr_assert_null(cfg_load("/nonexistent/postseal.ini", &d));
    cr_assert_eq(d.errors, 1);
}

Test(cfg, strict_numbers)
{
    struct cfg_diag d = {.path = "x"};
    struct cfg_entry e = {"s", "encryption_keysize", "128", 4};
    long v;

    cr_assert_eq(cfg_uint(&d, &e, 0, 512, &v), 0);
    cr_assert_eq(v, 128);
    e.value = "128bits";
    cr_assert_eq(cfg_uint(&d, &e, 0, 512, &v), -1);
    e.value = "-1";
    cr_assert_eq(cfg_uint(&d, &e, 0, 512, &v), -1);
    e.value = "1024";
    cr_assert_eq(cfg_uint(&d, &e, 0, 512, &v), -1);
    e.value = "2h";
    cr_assert_eq(cfg_seconds(&d, &e, 0, 86400, &v), 0);
    cr_assert_eq(v, 7200);
    e.value = "2x";
    cr_assert_eq(cfg_seconds(&d, &e, 0, 86400, &v), -1);
    cr_assert_eq(d.errors, 4);
}

static int count_items(const char *item, size_t len, void *arg)
{
    (void)item;
    (void)len;
    (*(int *)arg)++;
    return 0;
}

Test(cfg, lists)
{
    int n = 0;

    cr_assert_eq(cfg_list(" a, b  c,,d ", count_items, &n), 0);
    cr_assert_eq(n, 4);
}

Test(cfg, section_owners)
{
    struct cfg_diag d = {0};
    struct cfg *c;

    log_open("t", LOG_TO_STDERR, 0);
    c = cfg_load(write_tmp("[policy]\na=1\n[policy client ::1/128]\na=2\n[polcy]\nb=1\n"), &d);
    cr_assert_not_null(c);
    cr_assert(cfg_section_is("policy client ::1/128", "policy"));
    cr_assert(!cfg_section_is("policyd", "policy"));
    cfg_check_owners(c, &d);
    cr_assert_eq(d.errors, 1);
    cfg_free(c);
}
