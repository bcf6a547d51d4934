/* Logging for the station's programs: one line per event to stderr
 * (journald adds the timestamp), with the calling function's name. */
#ifndef UKEY_LOG_H
#define UKEY_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR = 3, LOG_LVL_WARN = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

/* Sets the program name and the lowest level printed. Call once at start. */
void log_init(const char *progname, enum log_level max_level);

/* Prefixes every following line with "[tag] " (a worker uses "bay 3"). */
void log_set_tag(const char *tag);

void log_msg(enum log_level lvl, const char *func, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __func__, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __func__, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __func__, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __func__, __VA_ARGS__)

#endif
