/* progress.c - Docker's pull/push progress display (see progress.h).
 *
 * The terminal drawing follows the docker CLI's jsonmessage package: a new
 * id writes "\n" to open its line; every update of the id at line L of a
 * block of N lines moves the cursor up N-L lines, erases the line, writes
 * "\r<id>: <status> <bar>\r" and moves down again, so the cursor always
 * rests below the block and anything printed afterwards lands beneath it.
 */
#include "progress.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/units.h"
#include "basic/strbuf.h"

#define REDRAW_NS (100 * 1000 * 1000ULL)

struct progress_line {
    char *id;
    char *status; /* last drawn: a new status always draws */
    uint64_t last_draw_ns;
};

struct progress {
    FILE *out;
    enum progress_mode mode;
    pthread_mutex_t lock;
    struct progress_line *lines; /* the current block, in order of appearance */
    size_t n_lines, alloc_lines;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct progress *progress_new(FILE *out, enum progress_mode mode)
{
    struct progress *p = xcalloc(1, sizeof(*p));
    p->out = out;
    if (mode == PROGRESS_AUTO) {
        mode = isatty(fileno(out)) ? PROGRESS_TERMINAL : PROGRESS_PLAIN;
    }
    p->mode = mode;
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

static void reset_block(struct progress *p)
{
    for (size_t i = 0; i < p->n_lines; i++) {
        free(p->lines[i].id);
        free(p->lines[i].status);
    }
    p->n_lines = 0;
}

void progress_free(struct progress *p)
{
    if (!p) {
        return;
    }
    reset_block(p);
    free(p->lines);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

int progress_is_terminal(const struct progress *p)
{
    return p->mode == PROGRESS_TERMINAL;
}

char *progress_human_size(double bytes)
{
    return human_size(bytes, 4);
}

static int term_width(struct progress *p)
{
    struct winsize ws;
    if (ioctl(fileno(p->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        return ws.ws_col;
    }
    return 200; /* docker's default when the size is unknown */
}

/* JSONProgress.String() of the docker CLI, without the time-left box (the
 * daemon no longer sends a start time for pulls and pushes). */
static void format_bar(struct progress *p, struct strbuf *sb, uint64_t current, uint64_t total)
{
    if (current == 0 && total == 0) {
        return;
    }
    _cleanup_free_ char *cur = progress_human_size((double)current);
    if (total == 0) {
        strbuf_addf(sb, "%8s", cur);
        return;
    }
    int pct = (int)((double)current / (double)total * 100.0) / 2;
    if (pct > 50) {
        pct = 50;
    }
    if (term_width(p) > 110) {
        strbuf_addc(sb, '[');
        for (int i = 0; i < pct; i++) {
            strbuf_addc(sb, '=');
        }
        strbuf_addc(sb, '>');
        for (int i = pct; i < 50; i++) {
            strbuf_addc(sb, ' ');
        }
        strbuf_adds(sb, "] ");
    }
    if (current > total) {
        strbuf_addf(sb, "%8s", cur);
    } else {
        _cleanup_free_ char *tot = progress_human_size((double)total);
        strbuf_addf(sb, "%8s/%s", cur, tot);
    }
}

static struct progress_line *find_line(struct progress *p, const char *id, size_t *ret_index)
{
    for (size_t i = 0; i < p->n_lines; i++) {
        if (streq(p->lines[i].id, id)) {
            *ret_index = i;
            return &p->lines[i];
        }
    }
    return NULL;
}

/* Draw one id line in place (terminal mode); bar may be NULL. */
static void draw(struct progress *p, const char *id, const char *status, const char *bar,
                 bool is_bytes, bool last)
{
    size_t idx;
    struct progress_line *l = find_line(p, id, &idx);
    uint64_t t = now_ns();
    if (!l) {
        p->lines = xgrow(p->lines, sizeof(*p->lines), p->n_lines, &p->alloc_lines);
        idx = p->n_lines++;
        l = &p->lines[idx];
        l->id = xstrdup(id);
        l->status = NULL;
        l->last_draw_ns = 0;
        fputc('\n', p->out);
    } else if (is_bytes && !last && l->status && streq(l->status, status) &&
               t - l->last_draw_ns < REDRAW_NS) {
        return;
    }
    l->last_draw_ns = t;
    if (!l->status || !streq(l->status, status)) {
        free(l->status);
        l->status = xstrdup(status);
    }
    size_t up = p->n_lines - idx;
    fprintf(p->out, "\x1b[%zuA\x1b[2K\r%s: %s %s\r\x1b[%zuB", up, id, status, bar ? bar : "", up);
}

void progress_message(struct progress *p, const char *id, const char *fmt, ...)
{
    if (p->mode == PROGRESS_QUIET) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *text = xvasprintf(fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&p->lock);
    reset_block(p);
    if (id) {
        fprintf(p->out, "%s: %s\n", id, text);
    } else {
        fprintf(p->out, "%s\n", text);
    }
    fflush(p->out);
    pthread_mutex_unlock(&p->lock);
}

void progress_status(struct progress *p, const char *id, const char *status)
{
    if (p->mode == PROGRESS_QUIET) {
        return;
    }
    pthread_mutex_lock(&p->lock);
    if (p->mode == PROGRESS_TERMINAL) {
        draw(p, id, status, NULL, false, true);
    } else {
        fprintf(p->out, "%s: %s\n", id, status);
    }
    fflush(p->out);
    pthread_mutex_unlock(&p->lock);
}

void progress_bytes(struct progress *p, const char *id, const char *status, uint64_t current,
                    uint64_t total)
{
    if (p->mode != PROGRESS_TERMINAL) {
        return;
    }
    struct strbuf bar = STRBUF_INIT;
    pthread_mutex_lock(&p->lock);
    format_bar(p, &bar, current, total);
    draw(p, id, status, strbuf_str(&bar), true, total > 0 && current >= total);
    fflush(p->out);
    pthread_mutex_unlock(&p->lock);
    strbuf_release(&bar);
}
