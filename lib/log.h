/* log: message classes for every postseal program (see log.c). */
#ifndef POSTSEAL_LOG_H
#define POSTSEAL_LOG_H

#include <stdarg.h>

#define LOG_TO_STDERR 0
#define LOG_TO_SYSLOG 1

void log_open(const char *progname, int where, int verbose);
void log_set_verbose(int verbose);
/* Event-loop daemons: stderr becomes fully buffered and log_flush() (called by
 * the loop before it waits) writes it out, one write per loop turn instead of
 * one per line.  No effect on syslog. */
void log_buffer_stderr(void);
void log_flush(void);
int log_verbose(void);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_fatal(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
void log_fatalx(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

#endif
