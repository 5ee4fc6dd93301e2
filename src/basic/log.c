#include "log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "strbuf.h"

static enum log_level current_level = LOG_LEVEL_WARN;
static enum log_format current_format = LOG_FORMAT_TEXT;
static int log_fd = -1;

void log_set_level(enum log_level level)
{
    current_level = level;
}

enum log_level log_get_level(void)
{
    return current_level;
}

void log_set_format(enum log_format format)
{
    current_format = format;
}

int log_set_file(const char *path)
{
    if (log_fd >= 0) {
        close(log_fd);
        log_fd = -1;
    }
    if (!path) {
        return 0;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -errno;
    }
    log_fd = fd;
    return 0;
}

int log_get_fd(void)
{
    return log_fd >= 0 ? log_fd : STDERR_FILENO;
}

static const char *level_name(enum log_level l)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    return names[l];
}

static void json_escape(struct strbuf *sb, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            strbuf_addc(sb, '\\');
            strbuf_addc(sb, (char)c);
        } else if (c == '\n') {
            strbuf_adds(sb, "\\n");
        } else if (c < 0x20) {
            strbuf_addf(sb, "\\u%04x", c);
        } else {
            strbuf_addc(sb, (char)c);
        }
    }
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > current_level) {
        return;
    }
    int saved = errno;
    struct strbuf msg = STRBUF_INIT, line = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(&msg, fmt, ap);
    va_end(ap);

    char ts[64] = "";
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

    if (current_format == LOG_FORMAT_JSON) {
        strbuf_addf(&line, "{\"level\":\"%s\",\"msg\":\"", level_name(level));
        json_escape(&line, strbuf_str(&msg));
        strbuf_addf(&line, "\",\"time\":\"%s.%09ldZ\"}\n", ts, now.tv_nsec);
    } else if (log_fd >= 0) {
        strbuf_addf(&line, "time=\"%s.%09ldZ\" level=%s msg=\"", ts, now.tv_nsec,
                    level_name(level));
        json_escape(&line, strbuf_str(&msg));
        strbuf_adds(&line, "\"\n");
    } else if (level == LOG_LEVEL_ERROR) {
        /* Plain stderr for a person: the message alone, the front end's prefix in it. */
        strbuf_addf(&line, "%s\n", strbuf_str(&msg));
    } else {
        strbuf_addf(&line, "%s: %s\n", level_name(level), strbuf_str(&msg));
    }
    (void)!write(log_get_fd(), line.buf, line.len);
    strbuf_release(&msg);
    strbuf_release(&line);
    errno = saved;
}

void log_trace_point(const char *what)
{
    if (current_level < LOG_LEVEL_DEBUG) {
        return;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    static struct timespec start;
    if (!start.tv_sec) {
        /* The process's own start time would need /proc; the first trace
         * point is the origin instead, and every later point is relative. */
        start = now;
    }
    double ms =
        (double)(now.tv_sec - start.tv_sec) * 1e3 + (double)(now.tv_nsec - start.tv_nsec) / 1e6;
    log_msg(LOG_LEVEL_DEBUG, "trace %8.3f ms [%d] %s", ms, (int)getpid(), what);
}
