/*
 * log: the message classes of every postseal program.
 *
 * log_info/log_debug report, log_warn appends strerror(errno) and log_warnx does not
 * (OpenSMTPD's pairing), log_fatal/log_fatalx report and exit with the status the
 * caller chose (the filter passes 75 so Postfix keeps the message).  Output goes to
 * syslog (facility mail) or to stderr as "progname: level: text".  Messages longer
 * than LOG_MAX are truncated, never split.  Bad input from a peer is a warning and a
 * -1 return in the caller, never a fatal.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

#define LOG_MAX 2048
#define LOG_DELAY_MS 20 /* buffered stderr: longest a line waits to be written */

static const char *log_prog = "postseal";
static int log_where = LOG_TO_STDERR;
static int log_verb = 0;

void log_open(const char *progname, int where, int verbose)
{
    log_prog = progname;
    log_where = where;
    log_verb = verbose;
    if (where == LOG_TO_SYSLOG)
        openlog(progname, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

static int log_buffered;          /* stderr fully buffered by log_buffer_stderr */
static struct timespec log_first; /* when the oldest unwritten line was logged */
static int log_pending;           /* lines not yet written */

void log_buffer_stderr(void)
{
    static char buf[64 * 1024];

    if (log_where == LOG_TO_STDERR) {
        setvbuf(stderr, buf, _IOFBF, sizeof(buf));
        log_buffered = 1;
    }
}

void log_flush(void)
{
    if (log_where == LOG_TO_STDERR)
        fflush(stderr);
    log_pending = 0;
}

int log_flush_due(void)
{
    struct timespec now;
    long age;

    if (!log_buffered || log_pending == 0)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &now);
    age = (now.tv_sec - log_first.tv_sec) * 1000 + (now.tv_nsec - log_first.tv_nsec) / 1000000;
    if (age >= LOG_DELAY_MS) {
        log_flush();
        return -1;
    }
    return (int)(LOG_DELAY_MS - age);
}

void log_set_verbose(int verbose)
{
    log_verb = verbose;
}

int log_verbose(void)
{
    return log_verb;
}

static void log_emit(int prio, const char *level, int with_errno, const char *fmt, va_list ap)
{
    char text[LOG_MAX];
    int saved = errno;

    vsnprintf(text, sizeof(text), fmt, ap);
    if (with_errno) {
        size_t len = strlen(text);
        snprintf(text + len, sizeof(text) - len, ": %s", strerror(saved));
    }
    if (log_where == LOG_TO_SYSLOG)
        syslog(prio, "%s: %s", level, text);
    else
        fprintf(stderr, "%s: %s: %s\n", log_prog, level, text);
    if (log_buffered && log_pending++ == 0)
        clock_gettime(CLOCK_MONOTONIC, &log_first);
    errno = saved;
}

void log_debug(const char *fmt, ...)
{
    va_list ap;

    if (!log_verb)
        return;
    va_start(ap, fmt);
    log_emit(LOG_DEBUG, "debug", 0, fmt, ap);
    va_end(ap);
}

void log_info(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(LOG_INFO, "info", 0, fmt, ap);
    va_end(ap);
}

void log_warn(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(LOG_WARNING, "warning", 1, fmt, ap);
    va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(LOG_WARNING, "warning", 0, fmt, ap);
    va_end(ap);
}

void log_fatal(int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(LOG_CRIT, "fatal", 1, fmt, ap);
    va_end(ap);
    exit(status);
}

void log_fatalx(int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(LOG_CRIT, "fatal", 0, fmt, ap);
    va_end(ap);
    exit(status);
}
