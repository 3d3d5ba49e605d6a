/* log: message classes for every postseal program (see log.c). */
#ifndef POSTSEAL_LOG_H
#define POSTSEAL_LOG_H

#include <stdarg.h>

#define LOG_TO_STDERR 0
#define LOG_TO_SYSLOG 1

void log_open(const char *progname, int where, int verbose);
void log_set_verbose(int verbose);
/* Event-loop daemons: stderr becomes fully buffered; the loop calls
 * log_flush_due() before it waits, which writes the lines out once the oldest
 * is 20 ms old (or the 64 KiB buffer fills) and returns how many ms until that
 * (-1: nothing pending), so the loop can wake in time.  One write per batch
 * instead of one per line; exit() and log_flush() write everything at once.
 * No effect on syslog. */
void log_buffer_stderr(void);
void log_flush(void);
int log_flush_due(void);
int log_verbose(void);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_fatal(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
void log_fatalx(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

#endif
