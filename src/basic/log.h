/* log.h - leveled logging for front ends and debug traces for the library.
 *
 * Library code logs at debug level only. Front ends choose the target (stderr
 * or a file) and the format: "text" (logfmt, as runc writes it) or "json"
 * ({"level":..,"msg":..,"time":..}, which containerd and conmon parse to show
 * a runtime's error). Secrets never reach a log.
 */
#ifndef BERTH_BASIC_LOG_H
#define BERTH_BASIC_LOG_H

#include <stdbool.h>

#include "macro.h"

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Log to this file (appended, created 0600) instead of stderr; NULL resets.
 * Returns -errno if it cannot be opened. */
int log_set_file(const char *path);
void log_set_format(enum log_format format);
/* The descriptor log lines go to (stderr unless log_set_file was used). */
int log_get_fd(void);
void log_msg(enum log_level level, const char *fmt, ...) _printf_(2, 3);
/* At debug level: "<ms since process start> <what>", to see where time goes. */
void log_trace_point(const char *what);

#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (_unlikely_(log_get_level() >= LOG_LEVEL_DEBUG))                                        \
            log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__);                                                 \
    } while (0)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
