#include "opts.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "parse.h"
#include "strbuf.h"
#include "strv.h"

static const struct opt_def *find_long(const struct opt_def *defs, const char *name, size_t len)
{
    for (const struct opt_def *d = defs; d->name; d++) {
        if (strlen(d->name) == len && strneq(d->name, name, len)) {
            return d;
        }
    }
    return NULL;
}

static const struct opt_def *find_short(const struct opt_def *defs, char c)
{
    for (const struct opt_def *d = defs; d->name; d++) {
        if (d->shortc == c) {
            return d;
        }
    }
    return NULL;
}

static int parse_bool(const char *v, bool *ret)
{
    if (!strcasecmp(v, "true") || streq(v, "1") || streq(v, "t")) {
        *ret = true;
    } else if (!strcasecmp(v, "false") || streq(v, "0") || streq(v, "f")) {
        *ret = false;
    } else {
        return -EINVAL;
    }
    return 0;
}

/* Store value v for flag d; display is how the user wrote the flag. */
static int assign(const struct opt_def *d, const char *display, const char *v,
                  struct berth_error **err)
{
    if (d->seen) {
        *d->seen = true;
    }
    switch (d->type) {
    case OPT_BOOL:
        if (!v) {
            *(bool *)d->dest = true;
        } else if (parse_bool(v, d->dest) < 0) {
            return berth_error_set(err, EINVAL, "invalid boolean value \"%s\" for flag %s", v,
                                   display);
        }
        return 0;
    case OPT_STRING:
        *(const char **)d->dest = v;
        return 0;
    case OPT_LIST:
        strv_push((char ***)d->dest, v);
        return 0;
    case OPT_INT:
        if (parse_int(v, d->dest) < 0) {
            return berth_error_set(err, EINVAL, "invalid value \"%s\" for flag %s", v, display);
        }
        return 0;
    }
    return -EINVAL;
}

int opts_parse(const struct opt_def *defs, int argc, char **argv, unsigned flags, char ***ret_args,
               struct berth_error **err)
{
    _cleanup_strv_free_ char **args = xcalloc(1, sizeof(char *));
    int i = 0;
    for (; i < argc; i++) {
        char *a = argv[i];
        if (streq(a, "--")) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (!(flags & OPTS_INTERSPERSED)) {
                break;
            }
            strv_push(&args, a);
            continue;
        }
        bool dbl = a[1] == '-';
        const char *body = a + (dbl ? 2 : 1);
        const char *eq = strchr(body, '=');
        size_t nlen = eq ? (size_t)(eq - body) : strlen(body);
        const struct opt_def *d = NULL;
        if (dbl || (flags & OPTS_GO) || nlen == 0) {
            d = find_long(defs, body, nlen);
            if (!d && !dbl && nlen == 1) {
                d = find_short(defs, body[0]);
            }
            if (!d) {
                return berth_error_set(err, EINVAL, "unknown flag: %.*s%.*s", dbl ? 2 : 1, "--",
                                       (int)nlen, body);
            }
            const char *v = eq ? eq + 1 : NULL;
            if (!v && d->type != OPT_BOOL) {
                if (i + 1 >= argc) {
                    return berth_error_set(err, EINVAL, "flag needs an argument: %s", a);
                }
                v = argv[++i];
            }
            int r = assign(d, a, v, err);
            if (r < 0) {
                return r;
            }
            continue;
        }
        /* POSIX short flags, possibly bundled: -it, -p8080:80, -e=X. */
        for (const char *p = body; *p; p++) {
            d = find_short(defs, *p);
            if (!d) {
                return berth_error_set(err, EINVAL, "unknown shorthand flag: '%c' in %s", *p, a);
            }
            char disp[3] = {'-', *p, 0};
            if (d->type == OPT_BOOL) {
                const char *v = NULL;
                if (p[1] == '=') {
                    v = p + 2;
                }
                int r = assign(d, disp, v, err);
                if (r < 0) {
                    return r;
                }
                if (v) {
                    break;
                }
                continue;
            }
            const char *v = p[1] ? p + 1 : NULL;
            if (v && *v == '=') {
                v++;
            }
            if (!v) {
                if (i + 1 >= argc) {
                    return berth_error_set(err, EINVAL, "flag needs an argument: '%c' in %s", *p,
                                           a);
                }
                v = argv[++i];
            }
            int r = assign(d, disp, v, err);
            if (r < 0) {
                return r;
            }
            break;
        }
    }
    for (; i < argc; i++) {
        strv_push(&args, argv[i]);
    }
    if (ret_args) {
        *ret_args = TAKE_PTR(args);
    }
    return 0;
}

void opts_usage(const struct opt_def *defs, int fd)
{
    struct strbuf sb = STRBUF_INIT;
    for (const struct opt_def *d = defs; d->name; d++) {
        if (!d->help) {
            continue;
        }
        struct strbuf left = STRBUF_INIT;
        if (d->shortc) {
            strbuf_addf(&left, "  -%c, --%s", d->shortc, d->name);
        } else {
            strbuf_addf(&left, "      --%s", d->name);
        }
        if (d->type == OPT_STRING || d->type == OPT_LIST) {
            strbuf_adds(&left, d->type == OPT_LIST ? " list" : " string");
        } else if (d->type == OPT_INT) {
            strbuf_adds(&left, " int");
        }
        strbuf_addf(&sb, "%-32s %s\n", strbuf_str(&left), d->help);
        strbuf_release(&left);
    }
    (void)!write(fd, strbuf_str(&sb), sb.len);
    strbuf_release(&sb);
}
