/* template.c - Go text/template (the subset Docker's --format uses) over
 * jansson values, Docker's "table" formats and Go's tabwriter.
 *
 * The format is lexed into tokens, parsed into a tree (as Go's
 * text/template/parse does) and walked per row. Values are json_t
 * references; NULL stands for Go's "invalid" reflect.Value (a missing map
 * key), json null for a nil interface. Go turns a nil interface produced by a
 * pipeline command into an invalid value, which is why both print as
 * "<no value>" at top level while null inside a container prints "<nil>".
 *
 * Every quantity that input controls is capped: the format length, nesting
 * of control structures and parentheses, the output and every intermediate
 * string of one execution, the number of evaluation steps (nested ranges
 * multiply iterations), and the depth of values printed.
 */
#include "libberth/common/template.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"

#define TEMPLATE_MAX_LEN (64 * 1024)
#define TEMPLATE_MAX_NESTING 100
#define TEMPLATE_MAX_OUTPUT (16 * 1024 * 1024)
/* Nested ranges multiply: {{range .L}}{{range $.L}}... over 1000 elements
 * would run forever without producing output. */
#define TEMPLATE_MAX_STEPS (1 << 22)
#define TEMPLATE_MAX_VALUE_DEPTH 256
/* Go's fmt refuses widths and precisions beyond this (%!(BADWIDTH)). */
#define FMT_MAX_WIDTH 1000000

/* ------------------------------------------------------------------ */
/* Tokens                                                              */

enum tok_type {
    T_EOF,
    T_TEXT,
    T_LDELIM,
    T_RDELIM,
    T_FIELD, /* .Name: val is "Name" */
    T_DOT,
    T_VAR, /* $ or $name: val includes the '$' */
    T_IDENT,
    T_BOOL,
    T_NIL,
    T_STRING, /* val is the decoded string */
    T_NUMBER, /* val is the source text */
    T_CHAR,   /* val is the decoded rune as decimal text */
    T_PIPE,
    T_LPAREN,
    T_RPAREN,
    T_DECLARE,
    T_ASSIGN,
    T_COMMA,
};

struct token {
    enum tok_type type;
    size_t pos, end; /* span in the source */
    bool space_before;
    char *val;
    size_t val_len;
};

struct lexer {
    const char *src;
    size_t len;
    struct token *toks;
    size_t ntoks, atoks;
    struct berth_error **err;
};

/* ------------------------------------------------------------------ */
/* Tree                                                                */

enum node_type { N_TEXT, N_ACTION, N_IF, N_RANGE, N_WITH, N_BREAK, N_CONTINUE };

struct node;
struct pipe;

struct list {
    struct node **v;
    size_t n, alloc;
};

enum fn_id {
    F_AND,
    F_OR,
    F_NOT,
    F_LEN,
    F_INDEX,
    F_SLICE,
    F_PRINT,
    F_PRINTF,
    F_PRINTLN,
    F_EQ,
    F_NE,
    F_LT,
    F_LE,
    F_GT,
    F_GE,
    F_JSON,
    F_JOIN,
    F_SPLIT,
    F_LOWER,
    F_UPPER,
    F_TITLE,
    F_TRUNCATE,
    F_PAD,
};

static const struct fn_def {
    const char *name;
    enum fn_id id;
    int min_args, max_args; /* max -1: variadic */
    bool header_identity;   /* Docker's HeaderFunctions return the input */
} fn_defs[] = {
    {"and", F_AND, 1, -1, false},
    {"or", F_OR, 1, -1, false},
    {"not", F_NOT, 1, 1, false},
    {"len", F_LEN, 1, 1, false},
    {"index", F_INDEX, 1, -1, false},
    {"slice", F_SLICE, 1, 4, false},
    {"print", F_PRINT, 0, -1, false},
    {"printf", F_PRINTF, 1, -1, false},
    {"println", F_PRINTLN, 0, -1, false},
    {"eq", F_EQ, 2, -1, false},
    {"ne", F_NE, 2, 2, false},
    {"lt", F_LT, 2, 2, false},
    {"le", F_LE, 2, 2, false},
    {"gt", F_GT, 2, 2, false},
    {"ge", F_GE, 2, 2, false},
    {"json", F_JSON, 1, 1, true},
    {"join", F_JOIN, 2, 2, true},
    {"split", F_SPLIT, 2, 2, true},
    {"lower", F_LOWER, 1, 1, true},
    {"upper", F_UPPER, 1, 1, true},
    {"title", F_TITLE, 1, 1, true},
    {"truncate", F_TRUNCATE, 2, 2, true},
    {"pad", F_PAD, 3, 3, true},
};

enum arg_type { A_FIELD, A_DOT, A_VAR, A_NIL, A_BOOL, A_NUMBER, A_STRING, A_FUNC, A_PIPE };

struct arg {
    enum arg_type type;
    size_t pos, end;
    char *name; /* A_VAR: "$x" */
    char **fields;
    size_t nfields;
    json_t *lit; /* A_BOOL, A_NUMBER, A_STRING */
    const struct fn_def *fn;
    struct pipe *pipe;
};

struct cmd {
    size_t pos, end;
    struct arg **args;
    size_t nargs;
};

struct pipe {
    size_t pos, end;
    bool is_assign;
    char *decl[2];
    size_t ndecl;
    struct cmd **cmds;
    size_t ncmds;
};

struct node {
    enum node_type type;
    size_t pos;
    char *text;
    size_t text_len;
    struct pipe *pipe;
    struct list list, else_list;
};

struct template
{
    char *src; /* the row template after Docker's preprocessing */
    size_t src_len;
    bool is_table;
    json_t *headers;
    struct list root;
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Go accepts Unicode letters in identifiers; bytes of multi-byte UTF-8
 * sequences stand in for them. */
static bool is_alnum(char c)
{
    return c == '_' || isalnum((unsigned char)c) || (unsigned char)c >= 0x80;
}

static void pos_to_line_col(const char *src, size_t pos, size_t *line, size_t *col)
{
    size_t l = 1, start = 0;
    for (size_t i = 0; i < pos; i++) {
        if (src[i] == '\n') {
            l++;
            start = i + 1;
        }
    }
    *line = l;
    *col = pos - start;
}

static int parse_error(const char *src, size_t pos, struct berth_error **err, const char *fmt, ...)
    _printf_(4, 5);
static int parse_error(const char *src, size_t pos, struct berth_error **err, const char *fmt, ...)
{
    size_t line, col;
    pos_to_line_col(src, pos, &line, &col);
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    return berth_error_set(err, EINVAL, "template: :%zu:%zu: %s", line, col, msg);
}

static void list_add(struct list *l, struct node *n)
{
    if (l->n == l->alloc) {
        l->v = xgrow(l->v, sizeof(*l->v), l->n, &l->alloc);
    }
    l->v[l->n++] = n;
}

static void pipe_free(struct pipe *p);

static void arg_free(struct arg *a)
{
    if (!a) {
        return;
    }
    free(a->name);
    for (size_t i = 0; i < a->nfields; i++) {
        free(a->fields[i]);
    }
    free(a->fields);
    json_decref(a->lit);
    pipe_free(a->pipe);
    free(a);
}

static void cmd_free(struct cmd *c)
{
    if (!c) {
        return;
    }
    for (size_t i = 0; i < c->nargs; i++) {
        arg_free(c->args[i]);
    }
    free(c->args);
    free(c);
}

static void pipe_free(struct pipe *p)
{
    if (!p) {
        return;
    }
    for (size_t i = 0; i < p->ndecl; i++) {
        free(p->decl[i]);
    }
    for (size_t i = 0; i < p->ncmds; i++) {
        cmd_free(p->cmds[i]);
    }
    free(p->cmds);
    free(p);
}

static void list_release(struct list *l);

static void node_free(struct node *n)
{
    if (!n) {
        return;
    }
    free(n->text);
    pipe_free(n->pipe);
    list_release(&n->list);
    list_release(&n->else_list);
    free(n);
}

static void list_release(struct list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        node_free(l->v[i]);
    }
    free(l->v);
    l->v = NULL;
    l->n = l->alloc = 0;
}

/* ------------------------------------------------------------------ */
/* Lexer                                                               */

static struct token *lex_emit(struct lexer *lx, enum tok_type type, size_t pos, size_t end,
                              bool space_before)
{
    if (lx->ntoks == lx->atoks) {
        lx->toks = xgrow(lx->toks, sizeof(*lx->toks), lx->ntoks, &lx->atoks);
    }
    struct token *t = &lx->toks[lx->ntoks++];
    *t = (struct token){.type = type, .pos = pos, .end = end, .space_before = space_before};
    return t;
}

static void utf8_encode(struct strbuf *sb, uint32_t r)
{
    char b[4];
    if (r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff)) {
        r = 0xfffd;
    }
    if (r < 0x80) {
        strbuf_addc(sb, (char)r);
    } else if (r < 0x800) {
        b[0] = (char)(0xc0 | (r >> 6));
        b[1] = (char)(0x80 | (r & 0x3f));
        strbuf_add(sb, b, 2);
    } else if (r < 0x10000) {
        b[0] = (char)(0xe0 | (r >> 12));
        b[1] = (char)(0x80 | ((r >> 6) & 0x3f));
        b[2] = (char)(0x80 | (r & 0x3f));
        strbuf_add(sb, b, 3);
    } else {
        b[0] = (char)(0xf0 | (r >> 18));
        b[1] = (char)(0x80 | ((r >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((r >> 6) & 0x3f));
        b[3] = (char)(0x80 | (r & 0x3f));
        strbuf_add(sb, b, 4);
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decode one Go escape sequence starting after the backslash at *p; quote is
 * the enclosing quote character. Appends the result to sb. */
static int lex_escape(struct lexer *lx, size_t *p, char quote, struct strbuf *sb)
{
    size_t i = *p;
    if (i >= lx->len) {
        return parse_error(lx->src, i, lx->err, "unterminated quoted string");
    }
    char c = lx->src[i++];
    int ndig = 0, base = 16;
    switch (c) {
    case 'a':
        strbuf_addc(sb, '\a');
        break;
    case 'b':
        strbuf_addc(sb, '\b');
        break;
    case 'f':
        strbuf_addc(sb, '\f');
        break;
    case 'n':
        strbuf_addc(sb, '\n');
        break;
    case 'r':
        strbuf_addc(sb, '\r');
        break;
    case 't':
        strbuf_addc(sb, '\t');
        break;
    case 'v':
        strbuf_addc(sb, '\v');
        break;
    case '\\':
        strbuf_addc(sb, '\\');
        break;
    case '"':
    case '\'':
        if (c != quote) {
            return parse_error(lx->src, i - 1, lx->err, "invalid syntax: unknown escape \\%c", c);
        }
        strbuf_addc(sb, c);
        break;
    case 'x':
        ndig = 2;
        break;
    case 'u':
        ndig = 4;
        break;
    case 'U':
        ndig = 8;
        break;
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
        ndig = 3;
        base = 8;
        i--;
        break;
    default:
        return parse_error(lx->src, i - 1, lx->err, "invalid syntax: unknown escape \\%c",
                           isprint((unsigned char)c) ? c : '?');
    }
    if (ndig > 0) {
        uint32_t v = 0;
        for (int k = 0; k < ndig; k++, i++) {
            int d = i < lx->len ? hexval(lx->src[i]) : -1;
            if (d < 0 || d >= base) {
                return parse_error(lx->src, i, lx->err, "invalid syntax: bad escape digit");
            }
            v = v * (uint32_t)base + (uint32_t)d;
        }
        if (c == 'x' || base == 8) {
            if (v > 255) {
                return parse_error(lx->src, i, lx->err, "invalid syntax: octal value over 255");
            }
            strbuf_addc(sb, (char)v);
        } else {
            if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
                return parse_error(lx->src, i, lx->err, "invalid syntax: invalid code point");
            }
            utf8_encode(sb, v);
        }
    }
    *p = i;
    return 0;
}

/* The byte after an identifier, field, variable or number must end it. */
static int lex_check_terminator(struct lexer *lx, size_t p)
{
    if (p >= lx->len) {
        return 0;
    }
    char c = lx->src[p];
    if (is_space(c) || c == '.' || c == ',' || c == '|' || c == ':' || c == ')' || c == '(') {
        return 0;
    }
    if (c == '}' && p + 1 < lx->len && lx->src[p + 1] == '}') {
        return 0;
    }
    if (c == '}' && p + 1 == lx->len) {
        return parse_error(lx->src, p, lx->err, "unclosed action");
    }
    return parse_error(lx->src, p, lx->err, "bad character %s'%c'",
                       isprint((unsigned char)c) ? "" : "code ",
                       isprint((unsigned char)c) ? c : '?');
}

static int lex_number(struct lexer *lx, size_t *pp, bool space)
{
    size_t p = *pp, start = p;
    const char *s = lx->src;
    if (p < lx->len && (s[p] == '+' || s[p] == '-')) {
        p++;
    }
    const char *digits = "0123456789_";
    bool hex = false;
    if (p + 1 < lx->len && s[p] == '0' && strchr("xXoObB", s[p + 1])) {
        hex = true;
        char b = (char)tolower((unsigned char)s[p + 1]);
        digits = b == 'x' ? "0123456789abcdefABCDEF_" : b == 'o' ? "01234567_" : "01_";
        p += 2;
    }
    while (p < lx->len && strchr(digits, s[p])) {
        p++;
    }
    if (!hex) {
        if (p < lx->len && s[p] == '.') {
            p++;
            while (p < lx->len && strchr(digits, s[p])) {
                p++;
            }
        }
        if (p < lx->len && (s[p] == 'e' || s[p] == 'E')) {
            p++;
            if (p < lx->len && (s[p] == '+' || s[p] == '-')) {
                p++;
            }
            while (p < lx->len && isdigit((unsigned char)s[p])) {
                p++;
            }
        }
    }
    if (p < lx->len && is_alnum(s[p])) {
        return parse_error(lx->src, start, lx->err, "bad number syntax: \"%.*s\"",
                           (int)(p - start + 1), s + start);
    }
    struct token *t = lex_emit(lx, T_NUMBER, start, p, space);
    t->val = xstrndup(s + start, p - start);
    t->val_len = p - start;
    *pp = p;
    return lex_check_terminator(lx, p);
}

static int lex_quote(struct lexer *lx, size_t *pp, bool space)
{
    size_t p = *pp, start = p;
    char q = lx->src[p++];
    _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
    for (;;) {
        if (p >= lx->len || (q != '`' && lx->src[p] == '\n')) {
            return parse_error(lx->src, start, lx->err,
                               q == '`'   ? "unterminated raw quoted string"
                               : q == '"' ? "unterminated quoted string"
                                          : "unterminated character constant");
        }
        char c = lx->src[p];
        if (c == q) {
            p++;
            break;
        }
        if (c == '\\' && q != '`') {
            p++;
            int r = lex_escape(lx, &p, q, &sb);
            if (r < 0) {
                return r;
            }
            continue;
        }
        /* Go drops carriage returns from raw strings. */
        if (!(q == '`' && c == '\r')) {
            strbuf_addc(&sb, c);
        }
        p++;
    }
    struct token *t;
    if (q == '\'') {
        /* A character constant is a number: decode exactly one rune. */
        const unsigned char *b = (const unsigned char *)strbuf_str(&sb);
        uint32_t r;
        size_t n;
        if (sb.len == 0) {
            return parse_error(lx->src, start, lx->err, "empty character constant");
        }
        if (b[0] < 0x80) {
            r = b[0], n = 1;
        } else if ((b[0] & 0xe0) == 0xc0 && sb.len >= 2) {
            r = (uint32_t)(b[0] & 0x1f) << 6 | (b[1] & 0x3f), n = 2;
        } else if ((b[0] & 0xf0) == 0xe0 && sb.len >= 3) {
            r = (uint32_t)(b[0] & 0x0f) << 12 | (uint32_t)(b[1] & 0x3f) << 6 | (b[2] & 0x3f), n = 3;
        } else if ((b[0] & 0xf8) == 0xf0 && sb.len >= 4) {
            r = (uint32_t)(b[0] & 0x07) << 18 | (uint32_t)(b[1] & 0x3f) << 12 |
                (uint32_t)(b[2] & 0x3f) << 6 | (b[3] & 0x3f),
            n = 4;
        } else {
            r = b[0], n = 1;
        }
        if (n != sb.len) {
            return parse_error(lx->src, start, lx->err, "malformed character constant");
        }
        t = lex_emit(lx, T_CHAR, start, p, space);
        t->val = xasprintf("%" PRIu32, r);
        t->val_len = strlen(t->val);
    } else {
        t = lex_emit(lx, T_STRING, start, p, space);
        t->val_len = sb.len;
        t->val = strbuf_detach(&sb, NULL);
        if (!t->val) {
            t->val = xstrdup("");
        }
    }
    *pp = p;
    return 0;
}

static bool at_right_delim(const struct lexer *lx, size_t p, bool *trim)
{
    const char *s = lx->src;
    if (p + 1 < lx->len && s[p] == '}' && s[p + 1] == '}') {
        *trim = false;
        return true;
    }
    if (p + 3 < lx->len && is_space(s[p]) && s[p + 1] == '-' && s[p + 2] == '}' &&
        s[p + 3] == '}') {
        *trim = true;
        return true;
    }
    return false;
}

/* Lex the inside of one action starting at *pp (after "{{" and any trim
 * marker); stops after the closing delimiter, setting *trim_after. */
static int lex_action(struct lexer *lx, size_t *pp, bool *trim_after)
{
    size_t p = *pp;
    const char *s = lx->src;
    int parens = 0;
    for (;;) {
        bool space = false, trim;
        while (p < lx->len && !at_right_delim(lx, p, &trim) && is_space(s[p])) {
            space = true;
            p++;
        }
        if (p >= lx->len) {
            return parse_error(lx->src, *pp, lx->err, "unclosed action");
        }
        if (at_right_delim(lx, p, &trim)) {
            if (parens > 0) {
                return parse_error(lx->src, p, lx->err, "unclosed left paren");
            }
            size_t e = p + (trim ? 4 : 2);
            lex_emit(lx, T_RDELIM, p, e, space);
            *trim_after = trim;
            *pp = e;
            return 0;
        }
        char c = s[p];
        size_t start = p;
        int r = 0;
        switch (c) {
        case '|':
            lex_emit(lx, T_PIPE, p, p + 1, space);
            p++;
            break;
        case '(':
            if (++parens > TEMPLATE_MAX_NESTING) {
                return parse_error(lx->src, p, lx->err, "parentheses nested too deeply");
            }
            lex_emit(lx, T_LPAREN, p, p + 1, space);
            p++;
            break;
        case ')':
            if (--parens < 0) {
                return parse_error(lx->src, p, lx->err, "unexpected right paren");
            }
            lex_emit(lx, T_RPAREN, p, p + 1, space);
            p++;
            break;
        case ',':
            lex_emit(lx, T_COMMA, p, p + 1, space);
            p++;
            break;
        case '=':
            lex_emit(lx, T_ASSIGN, p, p + 1, space);
            p++;
            break;
        case ':':
            if (p + 1 >= lx->len || s[p + 1] != '=') {
                return parse_error(lx->src, p, lx->err, "expected :=");
            }
            lex_emit(lx, T_DECLARE, p, p + 2, space);
            p += 2;
            break;
        case '"':
        case '`':
        case '\'':
            r = lex_quote(lx, &p, space);
            break;
        case '$': {
            p++;
            while (p < lx->len && is_alnum(s[p])) {
                p++;
            }
            struct token *t = lex_emit(lx, T_VAR, start, p, space);
            t->val = xstrndup(s + start, p - start);
            t->val_len = p - start;
            r = lex_check_terminator(lx, p);
            break;
        }
        case '.':
            if (p + 1 < lx->len && isdigit((unsigned char)s[p + 1])) {
                r = lex_number(lx, &p, space);
            } else if (p + 1 < lx->len && is_alnum(s[p + 1])) {
                p++;
                while (p < lx->len && is_alnum(s[p])) {
                    p++;
                }
                struct token *t = lex_emit(lx, T_FIELD, start, p, space);
                t->val = xstrndup(s + start + 1, p - start - 1);
                t->val_len = p - start - 1;
                r = lex_check_terminator(lx, p);
            } else {
                lex_emit(lx, T_DOT, p, p + 1, space);
                p++;
                r = lex_check_terminator(lx, p);
            }
            break;
        default:
            if (c == '+' || c == '-' || isdigit((unsigned char)c)) {
                r = lex_number(lx, &p, space);
            } else if (is_alnum(c)) {
                while (p < lx->len && is_alnum(s[p])) {
                    p++;
                }
                size_t n = p - start;
                enum tok_type ty = T_IDENT;
                if ((n == 4 && strneq(s + start, "true", 4)) ||
                    (n == 5 && strneq(s + start, "false", 5))) {
                    ty = T_BOOL;
                } else if (n == 3 && strneq(s + start, "nil", 3)) {
                    ty = T_NIL;
                }
                struct token *t = lex_emit(lx, ty, start, p, space);
                t->val = xstrndup(s + start, n);
                t->val_len = n;
                r = lex_check_terminator(lx, p);
            } else {
                return parse_error(lx->src, p, lx->err, "unrecognized character in action: %s'%c'",
                                   isprint((unsigned char)c) ? "" : "code ",
                                   isprint((unsigned char)c) ? c : '?');
            }
        }
        if (r < 0) {
            return r;
        }
    }
}

static int lex(struct lexer *lx)
{
    const char *s = lx->src;
    size_t pos = 0;
    while (pos < lx->len) {
        const char *open = memmem(s + pos, lx->len - pos, "{{", 2);
        size_t at = open ? (size_t)(open - s) : lx->len;
        size_t text_end = at;
        bool trim_before = open && at + 3 < lx->len && s[at + 2] == '-' && is_space(s[at + 3]);
        if (trim_before) {
            while (text_end > pos && is_space(s[text_end - 1])) {
                text_end--;
            }
        }
        if (text_end > pos) {
            struct token *t = lex_emit(lx, T_TEXT, pos, text_end, false);
            t->val = xstrndup(s + pos, text_end - pos);
            t->val_len = text_end - pos;
        }
        if (!open) {
            break;
        }
        size_t p = at + 2 + (trim_before ? 2 : 0);
        bool trim_after = false;
        if (p + 1 < lx->len && s[p] == '/' && s[p + 1] == '*') {
            const char *close = memmem(s + p + 2, lx->len - p - 2, "*/", 2);
            if (!close) {
                return parse_error(s, at, lx->err, "unclosed comment");
            }
            p = (size_t)(close - s) + 2;
            if (!at_right_delim(lx, p, &trim_after)) {
                return parse_error(s, p, lx->err, "comment ends before closing delimiter");
            }
            p += trim_after ? 4 : 2;
        } else {
            lex_emit(lx, T_LDELIM, at, p, false);
            int r = lex_action(lx, &p, &trim_after);
            if (r < 0) {
                return r;
            }
        }
        if (trim_after) {
            while (p < lx->len && is_space(s[p])) {
                p++;
            }
        }
        pos = p;
    }
    lex_emit(lx, T_EOF, lx->len, lx->len, false);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Parser                                                              */

struct parser {
    const char *src;
    struct token *toks;
    size_t i;
    int depth;
    int range_depth;
    char **vars; /* names in scope, for "undefined variable" at parse time */
    size_t nvars, avars;
    struct berth_error **err;
};

static struct token *peek(struct parser *ps)
{
    return &ps->toks[ps->i];
}

static struct token *next(struct parser *ps)
{
    struct token *t = &ps->toks[ps->i];
    if (t->type != T_EOF) {
        ps->i++;
    }
    return t;
}

static const char *tok_desc(const struct token *t)
{
    switch (t->type) {
    case T_EOF:
        return "EOF";
    case T_TEXT:
        return "text";
    case T_LDELIM:
        return "\"{{\"";
    case T_RDELIM:
        return "\"}}\"";
    case T_PIPE:
        return "\"|\"";
    case T_LPAREN:
        return "\"(\"";
    case T_RPAREN:
        return "\")\"";
    case T_DECLARE:
        return "\":=\"";
    case T_ASSIGN:
        return "\"=\"";
    case T_COMMA:
        return "\",\"";
    default:
        return NULL;
    }
}

static int unexpected(struct parser *ps, const struct token *t, const char *context)
{
    const char *d = tok_desc(t);
    if (d) {
        return parse_error(ps->src, t->pos, ps->err, "unexpected %s in %s", d, context);
    }
    return parse_error(ps->src, t->pos, ps->err, "unexpected \"%.*s\" in %s",
                       (int)(t->end - t->pos), ps->src + t->pos, context);
}

static void push_var(struct parser *ps, const char *name)
{
    if (ps->nvars == ps->avars) {
        ps->vars = xgrow(ps->vars, sizeof(*ps->vars), ps->nvars, &ps->avars);
    }
    ps->vars[ps->nvars++] = xstrdup(name);
}

static void pop_vars(struct parser *ps, size_t to)
{
    while (ps->nvars > to) {
        free(ps->vars[--ps->nvars]);
    }
}

static bool has_var(struct parser *ps, const char *name)
{
    for (size_t i = ps->nvars; i > 0; i--) {
        if (streq(ps->vars[i - 1], name)) {
            return true;
        }
    }
    return false;
}

static const struct fn_def *find_fn(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(fn_defs); i++) {
        if (streq(fn_defs[i].name, name)) {
            return &fn_defs[i];
        }
    }
    return NULL;
}

static int parse_pipeline(struct parser *ps, const char *context, enum tok_type end,
                          struct pipe **ret);

static void arg_add_field(struct arg *a, const char *name)
{
    a->fields = xrealloc(a->fields, (a->nfields + 1) * sizeof(*a->fields));
    a->fields[a->nfields++] = xstrdup(name);
}

static int parse_number(struct parser *ps, const struct token *t, json_t **ret)
{
    /* Go accepts '_' between digits. */
    _cleanup_free_ char *clean = xmalloc(t->val_len + 1);
    size_t n = 0;
    for (size_t i = 0; i < t->val_len; i++) {
        if (t->val[i] != '_') {
            clean[n++] = t->val[i];
        }
    }
    clean[n] = '\0';
    if (t->type == T_CHAR) {
        *ret = json_integer(strtoll(clean, NULL, 10));
        return 0;
    }
    const char *d = clean;
    bool neg = false;
    if (*d == '+' || *d == '-') {
        neg = *d == '-';
        d++;
    }
    int base = 10;
    bool prefixed = false;
    if (d[0] == '0' && d[1] && strchr("xXoObB", d[1])) {
        base = strchr("xX", d[1]) ? 16 : strchr("oO", d[1]) ? 8 : 2;
        d += 2;
        prefixed = true;
    } else if (d[0] == '0' && d[1] && !strpbrk(d, ".eE")) {
        base = 8; /* 017, and 09 is an error */
    }
    if (*d == '\0') {
        return parse_error(ps->src, t->pos, ps->err, "illegal number syntax: \"%s\"", t->val);
    }
    char *end;
    if (base != 10 || !strpbrk(d, ".eE")) {
        errno = 0;
        unsigned long long u = strtoull(d, &end, base);
        if (*end == '\0' && errno == 0 && u <= (unsigned long long)INT64_MAX + (neg ? 1 : 0)) {
            *ret = json_integer(neg ? (json_int_t)(0 - u) : (json_int_t)u);
            return 0;
        }
        if (prefixed) {
            return parse_error(ps->src, t->pos, ps->err, "illegal number syntax: \"%s\"", t->val);
        }
        /* Go reads integers that do not fit (and 09) as an overflow. */
        return parse_error(ps->src, t->pos, ps->err, "integer overflow: \"%s\"", t->val);
    }
    errno = 0;
    double f = strtod(clean, &end);
    if (*end != '\0' || !isfinite(f)) {
        return parse_error(ps->src, t->pos, ps->err, "illegal number syntax: \"%s\"", t->val);
    }
    *ret = json_real(f);
    return 0;
}

/* term: a single operand, before any field chain. */
static int parse_term(struct parser *ps, struct arg **ret)
{
    struct token *t = next(ps);
    struct arg *a = xcalloc(1, sizeof(*a));
    a->pos = t->pos;
    a->end = t->end;
    int r = 0;
    switch (t->type) {
    case T_FIELD:
        a->type = A_FIELD;
        arg_add_field(a, t->val);
        break;
    case T_DOT:
        a->type = A_DOT;
        break;
    case T_VAR:
        if (!has_var(ps, t->val)) {
            r = parse_error(ps->src, t->pos, ps->err, "undefined variable \"%s\"", t->val);
            break;
        }
        a->type = A_VAR;
        a->name = xstrdup(t->val);
        break;
    case T_NIL:
        a->type = A_NIL;
        break;
    case T_BOOL:
        a->type = A_BOOL;
        a->lit = json_boolean(streq(t->val, "true"));
        break;
    case T_NUMBER:
    case T_CHAR:
        a->type = A_NUMBER;
        r = parse_number(ps, t, &a->lit);
        break;
    case T_STRING:
        a->type = A_STRING;
        a->lit = json_stringn_nocheck(t->val, t->val_len);
        break;
    case T_IDENT:
        a->type = A_FUNC;
        a->fn = find_fn(t->val);
        if (!a->fn) {
            if (streq(t->val, "html") || streq(t->val, "js") || streq(t->val, "urlquery") ||
                streq(t->val, "call")) {
                r = parse_error(ps->src, t->pos, ps->err, "function \"%s\" not supported", t->val);
            } else {
                r = parse_error(ps->src, t->pos, ps->err, "function \"%s\" not defined", t->val);
            }
        }
        break;
    case T_LPAREN:
        if (++ps->depth > TEMPLATE_MAX_NESTING) {
            r = parse_error(ps->src, t->pos, ps->err, "template nested too deeply");
            break;
        }
        a->type = A_PIPE;
        r = parse_pipeline(ps, "parenthesized pipeline", T_RPAREN, &a->pipe);
        ps->depth--;
        if (r >= 0) {
            a->end = ps->toks[ps->i - 1].end;
        }
        break;
    default:
        r = unexpected(ps, t, "operand");
    }
    if (r < 0) {
        arg_free(a);
        return r;
    }
    *ret = a;
    return 0;
}

static int parse_operand(struct parser *ps, struct arg **ret)
{
    struct arg *a = NULL;
    int r = parse_term(ps, &a);
    if (r < 0) {
        return r;
    }
    if (peek(ps)->type == T_FIELD && !peek(ps)->space_before) {
        switch (a->type) {
        case A_BOOL:
        case A_STRING:
        case A_NUMBER:
        case A_NIL:
        case A_DOT:
        case A_FUNC:
            r = parse_error(ps->src, peek(ps)->pos, ps->err, "unexpected . after term \"%.*s\"",
                            (int)(a->end - a->pos), ps->src + a->pos);
            arg_free(a);
            return r;
        default:
            break;
        }
        while (peek(ps)->type == T_FIELD && !peek(ps)->space_before) {
            struct token *f = next(ps);
            arg_add_field(a, f->val);
            a->end = f->end;
        }
    }
    *ret = a;
    return 0;
}

static int parse_command(struct parser *ps, enum tok_type end, struct cmd **ret)
{
    struct cmd *c = xcalloc(1, sizeof(*c));
    c->pos = peek(ps)->pos;
    for (;;) {
        struct arg *a = NULL;
        int r = parse_operand(ps, &a);
        if (r < 0) {
            cmd_free(c);
            return r;
        }
        c->args = xrealloc(c->args, (c->nargs + 1) * sizeof(*c->args));
        c->args[c->nargs++] = a;
        c->end = a->end;
        struct token *t = peek(ps);
        if (t->type == end || t->type == T_PIPE) {
            break;
        }
        if (!t->space_before) {
            r = unexpected(ps, t, "operand");
            cmd_free(c);
            return r;
        }
        if (t->type == T_RDELIM || t->type == T_RPAREN || t->type == T_EOF) {
            r = unexpected(ps, t, "operand");
            cmd_free(c);
            return r;
        }
    }
    *ret = c;
    return 0;
}

static int parse_pipeline(struct parser *ps, const char *context, enum tok_type end,
                          struct pipe **ret)
{
    struct pipe *p = xcalloc(1, sizeof(*p));
    p->pos = peek(ps)->pos;
    int r = 0;
    /* Declarations: $x := / $x = / (range) $i, $v := */
    if (peek(ps)->type == T_VAR) {
        size_t save = ps->i;
        struct token *v = next(ps);
        struct token *n = peek(ps);
        if (n->type == T_DECLARE || n->type == T_ASSIGN) {
            next(ps);
            p->is_assign = n->type == T_ASSIGN;
            p->decl[p->ndecl++] = xstrdup(v->val);
        } else if (n->type == T_COMMA && streq(context, "range")) {
            next(ps);
            struct token *v2 = next(ps);
            struct token *op = next(ps);
            if (v2->type != T_VAR || (op->type != T_DECLARE && op->type != T_ASSIGN)) {
                r = parse_error(ps->src, v2->pos, ps->err, "range can only initialize variables");
                goto fail;
            }
            p->is_assign = op->type == T_ASSIGN;
            p->decl[p->ndecl++] = xstrdup(v->val);
            p->decl[p->ndecl++] = xstrdup(v2->val);
        } else {
            ps->i = save;
        }
        for (size_t k = 0; k < p->ndecl; k++) {
            if (p->is_assign && !has_var(ps, p->decl[k])) {
                r = parse_error(ps->src, v->pos, ps->err, "undefined variable \"%s\"", p->decl[k]);
                goto fail;
            }
            if (streq(p->decl[k], "$")) {
                r = parse_error(ps->src, v->pos, ps->err, "cannot assign to \"$\"");
                goto fail;
            }
        }
    }
    for (;;) {
        struct token *t = peek(ps);
        if (t->type == end) {
            next(ps);
            break;
        }
        if (t->type == T_RDELIM || t->type == T_RPAREN || t->type == T_EOF) {
            r = unexpected(ps, t, context);
            goto fail;
        }
        struct cmd *c = NULL;
        r = parse_command(ps, end, &c);
        if (r < 0) {
            goto fail;
        }
        p->cmds = xrealloc(p->cmds, (p->ncmds + 1) * sizeof(*p->cmds));
        p->cmds[p->ncmds++] = c;
        p->end = c->end;
        if (peek(ps)->type == T_PIPE) {
            struct token *bar = next(ps);
            if (peek(ps)->type == end) {
                r = parse_error(ps->src, bar->pos, ps->err, "missing command after \"|\"");
                goto fail;
            }
        }
    }
    if (p->ncmds == 0) {
        r = parse_error(ps->src, p->pos, ps->err, "missing value for %s", context);
        goto fail;
    }
    for (size_t k = 1; k < p->ncmds; k++) {
        switch (p->cmds[k]->args[0]->type) {
        case A_BOOL:
        case A_DOT:
        case A_NIL:
        case A_NUMBER:
        case A_STRING:
            r = parse_error(ps->src, p->cmds[k]->pos, ps->err,
                            "non executable command in pipeline stage %zu", k + 1);
            goto fail;
        default:
            break;
        }
    }
    /* Declared variables come into scope after the pipeline. */
    if (!p->is_assign) {
        for (size_t k = 0; k < p->ndecl; k++) {
            push_var(ps, p->decl[k]);
        }
    }
    *ret = p;
    return 0;
fail:
    pipe_free(p);
    return r;
}

enum list_end { END_EOF, END_END, END_ELSE };

static int parse_list(struct parser *ps, struct list *l, enum list_end *ret_end);

static bool at_keyword(struct parser *ps, const char *kw)
{
    struct token *t = peek(ps);
    return t->type == T_IDENT && streq(t->val, kw);
}

/* if/range/with after the keyword: pipeline "}}" list [else ...] end. An
 * "{{else if ...}}" ({{else with}} for with) becomes an if nested in the
 * else list that consumes the shared {{end}}. */
static int parse_control(struct parser *ps, enum node_type type, size_t pos, struct node **ret)
{
    static const char *const names[] = {[N_IF] = "if", [N_RANGE] = "range", [N_WITH] = "with"};
    if (++ps->depth > TEMPLATE_MAX_NESTING) {
        return parse_error(ps->src, pos, ps->err, "template nested too deeply");
    }
    size_t vars_mark = ps->nvars;
    struct node *n = xcalloc(1, sizeof(*n));
    n->type = type;
    n->pos = pos;
    enum list_end end;
    int r = parse_pipeline(ps, names[type], T_RDELIM, &n->pipe);
    if (r < 0) {
        goto out;
    }
    if (type == N_RANGE) {
        ps->range_depth++;
    }
    r = parse_list(ps, &n->list, &end);
    if (type == N_RANGE) {
        ps->range_depth--;
    }
    if (r < 0) {
        goto out;
    }
    if (end == END_EOF) {
        r = parse_error(ps->src, ps->toks[ps->i].pos, ps->err, "unexpected EOF");
        goto out;
    }
    if (end == END_ELSE) {
        if ((type == N_IF && at_keyword(ps, "if")) || (type == N_WITH && at_keyword(ps, "with"))) {
            struct token *kw = next(ps);
            struct node *inner = NULL;
            r = parse_control(ps, type, kw->pos, &inner);
            if (r < 0) {
                goto out;
            }
            list_add(&n->else_list, inner);
        } else {
            struct token *t = next(ps);
            if (t->type != T_RDELIM) {
                r = unexpected(ps, t, "else");
                goto out;
            }
            r = parse_list(ps, &n->else_list, &end);
            if (r < 0) {
                goto out;
            }
            if (end != END_END) {
                r = parse_error(ps->src, ps->toks[ps->i > 0 ? ps->i - 1 : 0].pos, ps->err,
                                end == END_EOF ? "unexpected EOF" : "expected end; found {{else}}");
                goto out;
            }
        }
    }
out:
    pop_vars(ps, vars_mark);
    ps->depth--;
    if (r < 0) {
        node_free(n);
        return r;
    }
    *ret = n;
    return 0;
}

/* After "{{": a control keyword or a pipeline. *ret_end tells the caller
 * about {{end}} and {{else}}, which close its list; *ret is NULL then. */
static int parse_action(struct parser *ps, size_t pos, struct node **ret, enum list_end *ret_end)
{
    struct token *t = peek(ps);
    *ret = NULL;
    *ret_end = END_EOF;
    if (t->type == T_IDENT) {
        const char *kw = t->val;
        if (streq(kw, "end")) {
            next(ps);
            struct token *d = next(ps);
            if (d->type != T_RDELIM) {
                return unexpected(ps, d, "end");
            }
            *ret_end = END_END;
            return 0;
        }
        if (streq(kw, "else")) {
            next(ps);
            *ret_end = END_ELSE;
            return 0;
        }
        if (streq(kw, "if") || streq(kw, "range") || streq(kw, "with")) {
            next(ps);
            enum node_type ty = streq(kw, "if") ? N_IF : streq(kw, "range") ? N_RANGE : N_WITH;
            return parse_control(ps, ty, t->pos, ret);
        }
        if (streq(kw, "break") || streq(kw, "continue")) {
            next(ps);
            if (ps->range_depth == 0) {
                return parse_error(ps->src, t->pos, ps->err, "{{%s}} outside {{range}}", kw);
            }
            struct token *d = next(ps);
            if (d->type != T_RDELIM) {
                return unexpected(ps, d, kw);
            }
            struct node *n = xcalloc(1, sizeof(*n));
            n->type = streq(kw, "break") ? N_BREAK : N_CONTINUE;
            n->pos = t->pos;
            *ret = n;
            return 0;
        }
        if (streq(kw, "define") || streq(kw, "template") || streq(kw, "block")) {
            return parse_error(ps->src, t->pos, ps->err, "{{%s}} is not supported", kw);
        }
    }
    struct node *n = xcalloc(1, sizeof(*n));
    n->type = N_ACTION;
    n->pos = pos;
    int r = parse_pipeline(ps, "command", T_RDELIM, &n->pipe);
    if (r < 0) {
        node_free(n);
        return r;
    }
    *ret = n;
    return 0;
}

static int parse_list(struct parser *ps, struct list *l, enum list_end *ret_end)
{
    for (;;) {
        struct token *t = next(ps);
        if (t->type == T_EOF) {
            *ret_end = END_EOF;
            return 0;
        }
        if (t->type == T_TEXT) {
            struct node *n = xcalloc(1, sizeof(*n));
            n->type = N_TEXT;
            n->pos = t->pos;
            n->text = TAKE_PTR(t->val);
            n->text_len = t->val_len;
            list_add(l, n);
            continue;
        }
        /* The lexer emits only text, actions and EOF at this level. */
        struct node *n = NULL;
        enum list_end end;
        int r = parse_action(ps, t->pos, &n, &end);
        if (r < 0) {
            return r;
        }
        if (!n) {
            *ret_end = end;
            return 0;
        }
        list_add(l, n);
    }
}

static int parse_root(struct template *t, struct berth_error **err)
{
    struct lexer lx = {.src = t->src, .len = t->src_len, .err = err};
    int r = lex(&lx);
    if (r >= 0) {
        struct parser ps = {.src = t->src, .toks = lx.toks, .err = err};
        push_var(&ps, "$");
        enum list_end end;
        r = parse_list(&ps, &t->root, &end);
        if (r >= 0 && end != END_EOF) {
            const struct token *at = &lx.toks[ps.i > 0 ? ps.i - 1 : 0];
            r = parse_error(t->src, at->pos, err, "unexpected {{%s}}",
                            end == END_END ? "end" : "else");
        }
        pop_vars(&ps, 0);
        free(ps.vars);
    }
    for (size_t i = 0; i < lx.ntoks; i++) {
        free(lx.toks[i].val);
    }
    free(lx.toks);
    return r;
}

/* ------------------------------------------------------------------ */
/* Execution state                                                     */

struct var {
    const char *name;
    json_t *val; /* owned; NULL: no value */
};

enum loop_ctl { LOOP_NONE, LOOP_BREAK, LOOP_CONTINUE };

struct state {
    const struct template *t;
    struct strbuf *out;
    size_t out_start;
    struct var *vars;
    size_t nvars, avars;
    size_t steps;
    bool header;
    enum loop_ctl loop;
    size_t at_pos, at_end; /* the node being evaluated, for errors */
    struct berth_error **err;
};

static int exec_error(struct state *s, const char *fmt, ...) _printf_(2, 3);
static int exec_error(struct state *s, const char *fmt, ...)
{
    size_t line, col;
    pos_to_line_col(s->t->src, s->at_pos, &line, &col);
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    size_t n = s->at_end > s->at_pos ? s->at_end - s->at_pos : 0;
    const char *ell = "";
    if (n > 20) {
        n = 20;
        ell = "...";
    }
    return berth_error_set(s->err, EINVAL, "template: :%zu:%zu: executing \"\" at <%.*s%s>: %s",
                           line, col, (int)n, s->t->src + s->at_pos, ell, msg);
}

static void at(struct state *s, size_t pos, size_t end)
{
    s->at_pos = pos;
    s->at_end = end;
}

static int step(struct state *s)
{
    if (++s->steps > TEMPLATE_MAX_STEPS) {
        return exec_error(s, "execution exceeds %d steps", TEMPLATE_MAX_STEPS);
    }
    return 0;
}

/* Every string a template makes (output, printf, pad, join...) is held to
 * the output cap, so doubling a variable in a loop cannot exhaust memory. */
static int check_room(struct state *s, size_t have, size_t extra)
{
    if (extra > TEMPLATE_MAX_OUTPUT || have > TEMPLATE_MAX_OUTPUT - extra) {
        return exec_error(s, "output exceeds %d bytes", TEMPLATE_MAX_OUTPUT);
    }
    return 0;
}

static int emit(struct state *s, const char *p, size_t n)
{
    int r = check_room(s, s->out->len - s->out_start, n);
    if (r < 0) {
        return r;
    }
    strbuf_add(s->out, p, n);
    return 0;
}

static void var_push(struct state *s, const char *name, json_t *val)
{
    if (s->nvars == s->avars) {
        s->vars = xgrow(s->vars, sizeof(*s->vars), s->nvars, &s->avars);
    }
    s->vars[s->nvars++] = (struct var){.name = name, .val = val ? json_incref(val) : NULL};
}

static void var_pop(struct state *s, size_t mark)
{
    while (s->nvars > mark) {
        json_decref(s->vars[--s->nvars].val);
    }
}

static struct var *var_find(struct state *s, const char *name)
{
    for (size_t i = s->nvars; i > 0; i--) {
        if (streq(s->vars[i - 1].name, name)) {
            return &s->vars[i - 1];
        }
    }
    return NULL;
}

static void var_set(struct var *v, json_t *val)
{
    json_decref(v->val);
    v->val = val ? json_incref(val) : NULL;
}

static const char *go_type(const json_t *v)
{
    if (!v || json_is_null(v)) {
        return "<nil>";
    }
    switch (json_typeof(v)) {
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "int";
    case JSON_REAL:
        return "float64";
    case JSON_TRUE:
    case JSON_FALSE:
        return "bool";
    case JSON_ARRAY:
        return "[]interface {}";
    case JSON_OBJECT:
        return "map[string]interface {}";
    default:
        return "interface {}";
    }
}

static bool truth(const json_t *v)
{
    if (!v) {
        return false;
    }
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_FALSE:
        return false;
    case JSON_TRUE:
        return true;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0;
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_ARRAY:
        return json_array_size(v) > 0;
    case JSON_OBJECT:
        return json_object_size(v) > 0;
    }
    return false;
}

static json_t *mkstr(const char *p, size_t n)
{
    return json_stringn_nocheck(p ? p : "", n);
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Object keys in Go's order for maps: sorted. The caller frees the array,
 * not the keys (they belong to the object). */
static const char **sorted_keys(json_t *o, size_t *ret_n)
{
    size_t n = json_object_size(o), i = 0;
    const char **keys = xcalloc(n ? n : 1, sizeof(*keys));
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (i < n) {
            keys[i++] = k;
        }
    }
    qsort(keys, i, sizeof(*keys), key_cmp);
    *ret_n = i;
    return keys;
}

/* ------------------------------------------------------------------ */
/* Go's fmt                                                            */

struct fmtspec {
    bool minus, plus, sharp, zero, space;
    int width; /* -1: none */
    int prec;  /* -1: none */
};

static const struct fmtspec spec_none = {.width = -1, .prec = -1};

static size_t rune_count(const char *p, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)p[i] & 0xc0) != 0x80) {
            c++;
        }
    }
    return c;
}

/* Byte length of the first `runes` runes of p. */
static size_t rune_prefix(const char *p, size_t n, size_t runes)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)p[i] & 0xc0) != 0x80) {
            if (c == runes) {
                return i;
            }
            c++;
        }
    }
    return n;
}

static void add_pad(struct strbuf *sb, char c, size_t n)
{
    strbuf_grow(sb, n);
    memset(sb->buf + sb->len, c, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

/* Write p padded to the spec's width, counted in runes as Go does. */
static void pad_str(struct strbuf *sb, const char *p, size_t n, const struct fmtspec *sp)
{
    size_t w = rune_count(p, n);
    size_t pad = sp->width > 0 && (size_t)sp->width > w ? (size_t)sp->width - w : 0;
    if (pad && !sp->minus) {
        add_pad(sb, sp->zero ? '0' : ' ', pad);
    }
    strbuf_add(sb, p, n);
    if (pad && sp->minus) {
        add_pad(sb, ' ', pad);
    }
}

/* Pad a number: zero padding goes after the sign. */
static void pad_num(struct strbuf *sb, const char *p, size_t n, const struct fmtspec *sp)
{
    if (sp->zero && !sp->minus && sp->width > 0 && (size_t)sp->width > n) {
        size_t sign = n > 0 && (p[0] == '-' || p[0] == '+' || p[0] == ' ') ? 1 : 0;
        strbuf_add(sb, p, sign);
        add_pad(sb, '0', (size_t)sp->width - n);
        strbuf_add(sb, p + sign, n - sign);
        return;
    }
    struct fmtspec nz = *sp;
    nz.zero = false;
    pad_str(sb, p, n, &nz);
}

/* strconv.Quote: printable runes kept, the rest escaped. */
static void go_quote(struct strbuf *sb, const char *p, size_t n, char q)
{
    strbuf_addc(sb, q);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == (unsigned char)q || c == '\\') {
            strbuf_addc(sb, '\\');
            strbuf_addc(sb, (char)c);
        } else if (c >= 0x20 && c < 0x7f) {
            strbuf_addc(sb, (char)c);
        } else if (c < 0x80) {
            const char *e = NULL;
            switch (c) {
            case '\a':
                e = "\\a";
                break;
            case '\b':
                e = "\\b";
                break;
            case '\f':
                e = "\\f";
                break;
            case '\n':
                e = "\\n";
                break;
            case '\r':
                e = "\\r";
                break;
            case '\t':
                e = "\\t";
                break;
            case '\v':
                e = "\\v";
                break;
            }
            if (e) {
                strbuf_adds(sb, e);
            } else {
                strbuf_addf(sb, "\\x%02x", c);
            }
        } else {
            /* Keep a well-formed multi-byte sequence; escape stray bytes. */
            size_t len = (c & 0xe0) == 0xc0   ? 2
                         : (c & 0xf0) == 0xe0 ? 3
                         : (c & 0xf8) == 0xf0 ? 4
                                              : 0;
            bool ok = len > 0 && i + len <= n;
            for (size_t k = 1; ok && k < len; k++) {
                ok = ((unsigned char)p[i + k] & 0xc0) == 0x80;
            }
            if (ok) {
                strbuf_add(sb, p + i, len);
                i += len - 1;
            } else {
                strbuf_addf(sb, "\\x%02x", c);
            }
        }
    }
    strbuf_addc(sb, q);
}

/* Shortest decimal digits that read back as d: returns the precision for
 * "%.*e" and the decimal exponent. */
static int shortest_prec(double d, int *ret_exp)
{
    char buf[64];
    int p;
    for (p = 0; p < 17; p++) {
        snprintf(buf, sizeof(buf), "%.*e", p, d);
        if (strtod(buf, NULL) == d) {
            break;
        }
    }
    snprintf(buf, sizeof(buf), "%.*e", p, d);
    const char *e = strchr(buf, 'e');
    *ret_exp = e ? (int)strtol(e + 1, NULL, 10) : 0;
    return p;
}

/* strconv.FormatFloat(d, 'g', -1, 64) as %v prints: exponent form below
 * 1e-4 and from 1e+06 (Go's eprec 6 for shortest). */
static void float_shortest_g(struct strbuf *sb, double d, bool upper)
{
    if (!isfinite(d)) {
        strbuf_adds(sb, isnan(d) ? "NaN" : d > 0 ? "+Inf" : "-Inf");
        return;
    }
    int exp;
    int p = shortest_prec(d, &exp);
    if (exp < -4 || exp >= 6) {
        strbuf_addf(sb, upper ? "%.*E" : "%.*e", p, d);
    } else {
        strbuf_addf(sb, "%.*f", p - exp > 0 ? p - exp : 0, d);
    }
}

/* encoding/json's float: 'f' unless tiny or huge, and e-07 becomes e-7. */
static void float_json(struct strbuf *sb, double d)
{
    double a = fabs(d);
    int exp;
    int p = shortest_prec(d, &exp);
    if (a != 0 && (a < 1e-6 || a >= 1e21)) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%.*e", p, d);
        size_t n = strlen(buf);
        if (n >= 4 && buf[n - 4] == 'e' && buf[n - 3] == '-' && buf[n - 2] == '0') {
            buf[n - 2] = buf[n - 1];
            buf[n - 1] = '\0';
        }
        strbuf_adds(sb, buf);
    } else {
        strbuf_addf(sb, "%.*f", p - exp > 0 ? p - exp : 0, d);
    }
}

static int fmt_value(struct state *s, struct strbuf *sb, json_t *v, const struct fmtspec *sp,
                     char verb, int depth);

static int bad_verb(struct state *s, struct strbuf *sb, json_t *v, char verb, int depth)
{
    strbuf_addf(sb, "%%!%c(", verb);
    if (!v || json_is_null(v)) {
        strbuf_adds(sb, "<nil>");
    } else {
        strbuf_adds(sb, go_type(v));
        strbuf_addc(sb, '=');
        int r = fmt_value(s, sb, v, &spec_none, 'v', depth + 1);
        if (r < 0) {
            return r;
        }
    }
    strbuf_addc(sb, ')');
    return 0;
}

static void fmt_integer(struct strbuf *sb, json_int_t iv, const struct fmtspec *sp, char verb)
{
    char digits[80];
    size_t nd = 0;
    unsigned long long u = iv < 0 ? 0ULL - (unsigned long long)iv : (unsigned long long)iv;
    unsigned base = 10;
    const char *dig = "0123456789abcdef";
    switch (verb) {
    case 'b':
        base = 2;
        break;
    case 'o':
    case 'O':
        base = 8;
        break;
    case 'x':
        base = 16;
        break;
    case 'X':
        base = 16;
        dig = "0123456789ABCDEF";
        break;
    }
    do {
        digits[nd++] = dig[u % base];
        u /= base;
    } while (u && nd < sizeof(digits));
    struct strbuf num = STRBUF_INIT;
    if (iv < 0) {
        strbuf_addc(&num, '-');
    } else if (sp->plus) {
        strbuf_addc(&num, '+');
    } else if (sp->space) {
        strbuf_addc(&num, ' ');
    }
    if (verb == 'O') {
        strbuf_adds(&num, "0o");
    } else if (sp->sharp) {
        strbuf_adds(&num, verb == 'x'   ? "0x"
                          : verb == 'X' ? "0X"
                          : verb == 'b' ? "0b"
                          : verb == 'o' ? "0"
                                        : "");
    }
    /* Precision is the minimum number of digits; %.0d of 0 prints nothing. */
    if (sp->prec >= 0) {
        if (sp->prec == 0 && iv == 0) {
            nd = 0;
        }
        for (size_t k = nd; k < (size_t)sp->prec; k++) {
            strbuf_addc(&num, '0');
        }
    }
    while (nd > 0) {
        strbuf_addc(&num, digits[--nd]);
    }
    struct fmtspec p2 = *sp;
    if (sp->prec >= 0) {
        p2.zero = false;
    }
    pad_num(sb, strbuf_str(&num), num.len, &p2);
    strbuf_release(&num);
}

static void fmt_float(struct strbuf *sb, double d, const struct fmtspec *sp, char verb)
{
    struct strbuf num = STRBUF_INIT;
    if (verb == 'v' || ((verb == 'g' || verb == 'G') && sp->prec < 0)) {
        if (sp->plus && !signbit(d)) {
            strbuf_addc(&num, '+');
        } else if (sp->space && !signbit(d)) {
            strbuf_addc(&num, ' ');
        }
        float_shortest_g(&num, d, verb == 'G');
    } else {
        char f[16];
        snprintf(f, sizeof(f), "%%%s%s%s.*%c", sp->plus ? "+" : "", sp->space ? " " : "",
                 sp->sharp ? "#" : "", verb == 'F' ? 'f' : verb);
        int prec = sp->prec >= 0 ? sp->prec : 6;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        strbuf_addf(&num, f, prec, d);
#pragma GCC diagnostic pop
    }
    pad_num(sb, strbuf_str(&num), num.len, sp);
    strbuf_release(&num);
}

/* One value under one verb, as Go's fmt prints it; arrays and maps apply
 * the verb to each element. */
static int fmt_value(struct state *s, struct strbuf *sb, json_t *v, const struct fmtspec *sp,
                     char verb, int depth)
{
    if (depth > TEMPLATE_MAX_VALUE_DEPTH) {
        return exec_error(s, "value nested too deeply to print");
    }
    int r = check_room(s, sb->len, sp->width > 0 ? (size_t)sp->width : 0);
    if (r < 0) {
        return r;
    }
    if (!v || json_is_null(v)) {
        if (verb == 'v' || depth > 0) {
            pad_str(sb, "<nil>", 5, sp);
            return 0;
        }
        return bad_verb(s, sb, v, verb, depth);
    }
    switch (json_typeof(v)) {
    case JSON_STRING: {
        const char *p = json_string_value(v);
        size_t n = json_string_length(v);
        if (verb == 'v' || verb == 's' || verb == 'q' || verb == 'x' || verb == 'X') {
            if (sp->prec >= 0) {
                n = verb == 'x' || verb == 'X' ? (n < (size_t)sp->prec ? n : (size_t)sp->prec)
                                               : rune_prefix(p, n, (size_t)sp->prec);
            }
        }
        if ((verb == 'v' && !sp->sharp) || verb == 's') {
            pad_str(sb, p, n, sp);
        } else if (verb == 'q' || verb == 'v') {
            struct strbuf q = STRBUF_INIT;
            go_quote(&q, p, n, '"');
            pad_str(sb, strbuf_str(&q), q.len, sp);
            strbuf_release(&q);
        } else if (verb == 'x' || verb == 'X') {
            struct strbuf h = STRBUF_INIT;
            for (size_t i = 0; i < n; i++) {
                /* "% x" separates bytes, "%#x" prefixes 0x (each, with ' '). */
                if (sp->space && i > 0) {
                    strbuf_addc(&h, ' ');
                }
                if (sp->sharp && (sp->space || i == 0)) {
                    strbuf_adds(&h, verb == 'x' ? "0x" : "0X");
                }
                strbuf_addf(&h, verb == 'x' ? "%02x" : "%02X", (unsigned char)p[i]);
            }
            pad_str(sb, strbuf_str(&h), h.len, sp);
            strbuf_release(&h);
        } else {
            return bad_verb(s, sb, v, verb, depth);
        }
        return 0;
    }
    case JSON_INTEGER: {
        json_int_t iv = json_integer_value(v);
        switch (verb) {
        case 'v':
        case 'd':
            fmt_integer(sb, iv, sp, 'd');
            return 0;
        case 'b':
        case 'o':
        case 'O':
        case 'x':
        case 'X':
            fmt_integer(sb, iv, sp, verb);
            return 0;
        case 'c':
        case 'q': {
            struct strbuf c = STRBUF_INIT;
            utf8_encode(&c, iv < 0 || iv > 0x10ffff ? 0xfffd : (uint32_t)iv);
            if (verb == 'q') {
                struct strbuf q = STRBUF_INIT;
                go_quote(&q, strbuf_str(&c), c.len, '\'');
                pad_str(sb, strbuf_str(&q), q.len, sp);
                strbuf_release(&q);
            } else {
                pad_str(sb, strbuf_str(&c), c.len, sp);
            }
            strbuf_release(&c);
            return 0;
        }
        case 'U': {
            char buf[32];
            int n = snprintf(buf, sizeof(buf), "U+%04llX", (unsigned long long)iv);
            pad_str(sb, buf, (size_t)n, sp);
            return 0;
        }
        default:
            return bad_verb(s, sb, v, verb, depth);
        }
    }
    case JSON_REAL:
        switch (verb) {
        case 'v':
        case 'e':
        case 'E':
        case 'f':
        case 'F':
        case 'g':
        case 'G':
            fmt_float(sb, json_real_value(v), sp, verb);
            return 0;
        default:
            return bad_verb(s, sb, v, verb, depth);
        }
    case JSON_TRUE:
    case JSON_FALSE:
        if (verb == 'v' || verb == 't') {
            const char *b = json_is_true(v) ? "true" : "false";
            pad_str(sb, b, strlen(b), sp);
            return 0;
        }
        return bad_verb(s, sb, v, verb, depth);
    case JSON_ARRAY: {
        strbuf_addc(sb, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i > 0) {
                strbuf_addc(sb, ' ');
            }
            r = fmt_value(s, sb, json_array_get(v, i), sp, verb, depth + 1);
            if (r < 0) {
                return r;
            }
        }
        strbuf_addc(sb, ']');
        return 0;
    }
    case JSON_OBJECT: {
        size_t n;
        _cleanup_free_ const char **keys = sorted_keys(v, &n);
        strbuf_adds(sb, "map[");
        for (size_t i = 0; i < n; i++) {
            if (i > 0) {
                strbuf_addc(sb, ' ');
            }
            json_t *k = mkstr(keys[i], strlen(keys[i]));
            r = fmt_value(s, sb, k, sp, verb, depth + 1);
            json_decref(k);
            if (r < 0) {
                return r;
            }
            strbuf_addc(sb, ':');
            r = fmt_value(s, sb, json_object_get(v, keys[i]), sp, verb, depth + 1);
            if (r < 0) {
                return r;
            }
        }
        strbuf_addc(sb, ']');
        return 0;
    }
    default:
        return bad_verb(s, sb, v, verb, depth);
    }
}

/* Go's parsenum: digits at f[*i...]; on overflow (Go's tooLarge, 1e6) the
 * rest of the format is consumed, which ends in %!(NOVERB) as in Go. */
static bool fmt_parsenum(const char *f, size_t flen, size_t *i, int *ret)
{
    size_t k = *i;
    int n = 0;
    bool any = false;
    while (k < flen && isdigit((unsigned char)f[k])) {
        if (n > FMT_MAX_WIDTH) {
            *i = flen;
            return false;
        }
        n = n * 10 + (f[k++] - '0');
        any = true;
    }
    if (any && n > FMT_MAX_WIDTH) {
        *i = flen;
        return false;
    }
    *i = k;
    *ret = n;
    return any;
}

/* Go's argNumber: an explicit "[n]" argument index. */
static void fmt_argnumber(const char *f, size_t flen, size_t *i, size_t nargs, size_t *ai,
                          bool *after_index, bool *good, bool *reordered)
{
    *after_index = false;
    if (*i >= flen || f[*i] != '[') {
        return;
    }
    *reordered = true;
    for (size_t k = *i + 1; k < flen; k++) {
        if (f[k] == ']') {
            size_t p = *i + 1;
            int n = 0;
            bool ok = fmt_parsenum(f, k, &p, &n) && p == k;
            *i = k + 1;
            if (ok && n >= 1 && (size_t)n <= nargs) {
                *ai = (size_t)n - 1;
                *after_index = true;
            } else {
                *good = false;
            }
            return;
        }
    }
    *i += 1;
    *good = false;
}

/* Go's intFromArg for '*': an int within the width limit. */
static bool fmt_star(json_t **args, size_t nargs, size_t *ai, int *ret)
{
    if (*ai >= nargs) {
        return false;
    }
    json_t *a = args[(*ai)++];
    if (!a || !json_is_integer(a) || llabs(json_integer_value(a)) > FMT_MAX_WIDTH) {
        return false;
    }
    *ret = (int)json_integer_value(a);
    return true;
}

/* fmt.Sprintf over template values, following Go's doPrintf. */
static int go_sprintf(struct state *s, struct strbuf *sb, const char *f, size_t flen, json_t **args,
                      size_t nargs)
{
    size_t ai = 0;
    bool reordered = false;
    for (size_t i = 0; i < flen;) {
        int r = check_room(s, sb->len, 0);
        if (r < 0) {
            return r;
        }
        if (f[i] != '%') {
            const char *pct = memchr(f + i, '%', flen - i);
            size_t e = pct ? (size_t)(pct - f) : flen;
            strbuf_add(sb, f + i, e - i);
            i = e;
            continue;
        }
        i++;
        struct fmtspec sp = spec_none;
        bool good = true, after_index = false;
        for (; i < flen; i++) {
            char c = f[i];
            if (c == '-') {
                sp.minus = true;
                sp.zero = false; /* Go: '-' overrides '0' */
            } else if (c == '+') {
                sp.plus = true;
            } else if (c == '#') {
                sp.sharp = true;
            } else if (c == '0') {
                sp.zero = !sp.minus;
            } else if (c == ' ') {
                sp.space = true;
            } else {
                break;
            }
        }
        fmt_argnumber(f, flen, &i, nargs, &ai, &after_index, &good, &reordered);
        if (i < flen && f[i] == '*') {
            i++;
            int w;
            if (fmt_star(args, nargs, &ai, &w)) {
                if (w < 0) {
                    sp.minus = true;
                    sp.zero = false;
                    w = -w;
                }
                sp.width = w;
            } else {
                strbuf_adds(sb, "%!(BADWIDTH)");
            }
            after_index = false;
        } else {
            int w;
            if (fmt_parsenum(f, flen, &i, &w)) {
                sp.width = w;
                if (after_index) {
                    good = false;
                }
            }
        }
        if (i + 1 < flen && f[i] == '.') {
            i++;
            if (after_index) {
                good = false;
            }
            fmt_argnumber(f, flen, &i, nargs, &ai, &after_index, &good, &reordered);
            if (i < flen && f[i] == '*') {
                i++;
                int p;
                if (fmt_star(args, nargs, &ai, &p) && p >= 0) {
                    sp.prec = p;
                } else {
                    strbuf_adds(sb, "%!(BADPREC)");
                }
                after_index = false;
            } else {
                int p = 0;
                fmt_parsenum(f, flen, &i, &p);
                sp.prec = p;
            }
        }
        if (!after_index) {
            fmt_argnumber(f, flen, &i, nargs, &ai, &after_index, &good, &reordered);
        }
        if (i >= flen) {
            strbuf_adds(sb, "%!(NOVERB)");
            break;
        }
        char verb = f[i++];
        if (verb == '%') {
            strbuf_addc(sb, '%');
            continue;
        }
        if (!good) {
            strbuf_addf(sb, "%%!%c(BADINDEX)", verb);
            continue;
        }
        if (ai >= nargs) {
            strbuf_addf(sb, "%%!%c(MISSING)", verb);
            continue;
        }
        json_t *a = args[ai++];
        if (verb == 'T') {
            pad_str(sb, go_type(a), strlen(go_type(a)), &sp);
            continue;
        }
        bool known = strchr("vsqxXdbocOUtfFeEgG", verb) != NULL;
        r = known ? fmt_value(s, sb, a, &sp, verb, 0) : bad_verb(s, sb, a, verb, 0);
        if (r < 0) {
            return r;
        }
    }
    if (!reordered && ai < nargs) {
        strbuf_adds(sb, "%!(EXTRA ");
        for (size_t k = ai; k < nargs; k++) {
            if (k > ai) {
                strbuf_adds(sb, ", ");
            }
            if (!args[k] || json_is_null(args[k])) {
                strbuf_adds(sb, "<nil>");
                continue;
            }
            strbuf_adds(sb, go_type(args[k]));
            strbuf_addc(sb, '=');
            int r = fmt_value(s, sb, args[k], &spec_none, 'v', 0);
            if (r < 0) {
                return r;
            }
        }
        strbuf_addc(sb, ')');
    }
    return check_room(s, sb->len, 0);
}

/* encoding/json with SetEscapeHTML(false), keys in the object's order. */
static int json_encode(struct state *s, struct strbuf *sb, json_t *v, int depth)
{
    if (depth > TEMPLATE_MAX_VALUE_DEPTH) {
        return exec_error(s, "json: value nested too deeply");
    }
    int r = check_room(s, sb->len, 0);
    if (r < 0) {
        return r;
    }
    if (!v) {
        strbuf_adds(sb, "null");
        return 0;
    }
    switch (json_typeof(v)) {
    case JSON_NULL:
        strbuf_adds(sb, "null");
        break;
    case JSON_TRUE:
        strbuf_adds(sb, "true");
        break;
    case JSON_FALSE:
        strbuf_adds(sb, "false");
        break;
    case JSON_INTEGER:
        strbuf_addf(sb, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        float_json(sb, json_real_value(v));
        break;
    case JSON_STRING: {
        const unsigned char *p = (const unsigned char *)json_string_value(v);
        size_t n = json_string_length(v);
        strbuf_addc(sb, '"');
        for (size_t i = 0; i < n; i++) {
            unsigned char c = p[i];
            if (c == '"' || c == '\\') {
                strbuf_addc(sb, '\\');
                strbuf_addc(sb, (char)c);
            } else if (c == '\n') {
                strbuf_adds(sb, "\\n");
            } else if (c == '\r') {
                strbuf_adds(sb, "\\r");
            } else if (c == '\t') {
                strbuf_adds(sb, "\\t");
            } else if (c < 0x20) {
                strbuf_addf(sb, "\\u%04x", c);
            } else if (c == 0xe2 && i + 2 < n && p[i + 1] == 0x80 &&
                       (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) {
                /* Go escapes U+2028 and U+2029 even without HTML escaping. */
                strbuf_adds(sb, p[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
                i += 2;
            } else if (c < 0x80) {
                strbuf_addc(sb, (char)c);
            } else {
                size_t len = (c & 0xe0) == 0xc0   ? 2
                             : (c & 0xf0) == 0xe0 ? 3
                             : (c & 0xf8) == 0xf0 ? 4
                                                  : 0;
                bool ok = len > 0 && i + len <= n;
                for (size_t k = 1; ok && k < len; k++) {
                    ok = (p[i + k] & 0xc0) == 0x80;
                }
                if (ok) {
                    strbuf_add(sb, p + i, len);
                    i += len - 1;
                } else {
                    strbuf_adds(sb, "\\ufffd");
                }
            }
        }
        strbuf_addc(sb, '"');
        break;
    }
    case JSON_ARRAY:
        strbuf_addc(sb, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i > 0) {
                strbuf_addc(sb, ',');
            }
            r = json_encode(s, sb, json_array_get(v, i), depth + 1);
            if (r < 0) {
                return r;
            }
        }
        strbuf_addc(sb, ']');
        break;
    case JSON_OBJECT: {
        const char *k;
        json_t *e;
        bool first = true;
        strbuf_addc(sb, '{');
        json_object_foreach(v, k, e)
        {
            if (!first) {
                strbuf_addc(sb, ',');
            }
            first = false;
            json_t *ks = mkstr(k, strlen(k));
            r = json_encode(s, sb, ks, depth + 1);
            json_decref(ks);
            if (r < 0) {
                return r;
            }
            strbuf_addc(sb, ':');
            r = json_encode(s, sb, e, depth + 1);
            if (r < 0) {
                return r;
            }
        }
        strbuf_addc(sb, '}');
        break;
    }
    }
    return 0;
}

/* The %v text of a value as a pipeline prints it. */
static int print_value(struct state *s, struct strbuf *sb, json_t *v)
{
    if (!v || json_is_null(v)) {
        strbuf_adds(sb, "<no value>");
        return 0;
    }
    if (json_is_string(v)) {
        strbuf_add(sb, json_string_value(v), json_string_length(v));
        return 0;
    }
    return fmt_value(s, sb, v, &spec_none, 'v', 0);
}

/* ------------------------------------------------------------------ */
/* Functions                                                           */

static int want_string(struct state *s, const struct fn_def *fn, json_t *v, const char **ret,
                       size_t *ret_len)
{
    if (!v || json_is_null(v)) {
        return exec_error(s, "error calling %s: invalid value; expected string", fn->name);
    }
    if (!json_is_string(v)) {
        return exec_error(s, "wrong type for value; expected string; got %s", go_type(v));
    }
    *ret = json_string_value(v);
    *ret_len = json_string_length(v);
    return 0;
}

static int want_int(struct state *s, const struct fn_def *fn, json_t *v, long long *ret)
{
    if (v && json_is_integer(v)) {
        *ret = json_integer_value(v);
        return 0;
    }
    /* Lenient where Go is not: an integral float (a JSON number written
     * 12.0) is accepted as an int. */
    if (v && json_is_real(v) && json_real_value(v) == trunc(json_real_value(v)) &&
        fabs(json_real_value(v)) < 9e15) {
        *ret = (long long)json_real_value(v);
        return 0;
    }
    if (!v || json_is_null(v)) {
        return exec_error(s, "error calling %s: invalid value; expected int", fn->name);
    }
    return exec_error(s, "wrong type for value; expected int; got %s", go_type(v));
}

enum basic_kind { K_NIL, K_BOOL, K_INT, K_FLOAT, K_STRING, K_OTHER };

static enum basic_kind basic_kind(const json_t *v)
{
    if (!v || json_is_null(v)) {
        return K_NIL;
    }
    switch (json_typeof(v)) {
    case JSON_TRUE:
    case JSON_FALSE:
        return K_BOOL;
    case JSON_INTEGER:
        return K_INT;
    case JSON_REAL:
        return K_FLOAT;
    case JSON_STRING:
        return K_STRING;
    default:
        return K_OTHER;
    }
}

static double num_of(const json_t *v)
{
    return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

/* Go's eq for basic kinds. Mixing int and float compares numerically (Go
 * refuses; JSON does not distinguish them). nil equals only nil. */
static int cmp_eq(struct state *s, json_t *a, json_t *b, bool *ret)
{
    enum basic_kind ka = basic_kind(a), kb = basic_kind(b);
    bool numeric = (ka == K_INT || ka == K_FLOAT) && (kb == K_INT || kb == K_FLOAT);
    if (ka != kb && !numeric) {
        if (ka == K_NIL || kb == K_NIL) {
            *ret = false;
            return 0;
        }
        return exec_error(s, "error calling eq: incompatible types for comparison");
    }
    switch (ka) {
    case K_NIL:
        *ret = true;
        return 0;
    case K_BOOL:
        *ret = json_is_true(a) == json_is_true(b);
        return 0;
    case K_INT:
    case K_FLOAT:
        if (ka == K_INT && kb == K_INT) {
            *ret = json_integer_value(a) == json_integer_value(b);
        } else {
            *ret = num_of(a) == num_of(b);
        }
        return 0;
    case K_STRING:
        *ret = json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
        return 0;
    default:
        return exec_error(s, "error calling eq: non-comparable type %s", go_type(a));
    }
}

static int cmp_lt(struct state *s, const char *name, json_t *a, json_t *b, bool *ret)
{
    enum basic_kind ka = basic_kind(a), kb = basic_kind(b);
    bool numeric = (ka == K_INT || ka == K_FLOAT) && (kb == K_INT || kb == K_FLOAT);
    if (ka == K_NIL || ka == K_BOOL || ka == K_OTHER || kb == K_NIL || kb == K_BOOL ||
        kb == K_OTHER) {
        return exec_error(s, "error calling %s: invalid type for comparison", name);
    }
    if (ka != kb && !numeric) {
        return exec_error(s, "error calling %s: incompatible types for comparison", name);
    }
    if (ka == K_STRING) {
        size_t la = json_string_length(a), lb = json_string_length(b);
        int c = memcmp(json_string_value(a), json_string_value(b), la < lb ? la : lb);
        *ret = c < 0 || (c == 0 && la < lb);
    } else if (ka == K_INT && kb == K_INT) {
        *ret = json_integer_value(a) < json_integer_value(b);
    } else {
        *ret = num_of(a) < num_of(b);
    }
    return 0;
}

static void str_case(char *p, size_t n, int (*conv)(int))
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)p[i] < 0x80) {
            p[i] = (char)conv((unsigned char)p[i]);
        }
    }
}

static int ret_string(struct state *s, struct strbuf *sb, json_t **ret)
{
    int r = check_room(s, sb->len, 0);
    if (r < 0) {
        return r;
    }
    *ret = mkstr(sb->buf, sb->len);
    return 0;
}

static int index_one(struct state *s, json_t *item, json_t *idx, json_t **ret)
{
    if (!item || json_is_null(item)) {
        return exec_error(s, "error calling index: index of untyped nil");
    }
    if (json_is_array(item) || json_is_string(item)) {
        size_t len = json_is_array(item) ? json_array_size(item) : json_string_length(item);
        if (!idx || json_is_null(idx)) {
            return exec_error(s, "error calling index: cannot index slice/array with nil");
        }
        if (!json_is_integer(idx)) {
            return exec_error(s, "error calling index: cannot index slice/array with type %s",
                              go_type(idx));
        }
        json_int_t x = json_integer_value(idx);
        if (x < 0 || (size_t)x >= len) {
            return exec_error(s, "error calling index: index out of range: %" JSON_INTEGER_FORMAT,
                              x);
        }
        if (json_is_array(item)) {
            json_t *e = json_array_get(item, (size_t)x);
            *ret = e ? json_incref(e) : NULL;
        } else {
            *ret = json_integer((unsigned char)json_string_value(item)[x]);
        }
        return 0;
    }
    if (json_is_object(item)) {
        if (!idx || !json_is_string(idx)) {
            return exec_error(s, "error calling index: value has type %s; should be string",
                              go_type(idx));
        }
        json_t *e = json_object_getn(item, json_string_value(idx), json_string_length(idx));
        *ret = e ? json_incref(e) : NULL;
        return 0;
    }
    return exec_error(s, "error calling index: can't index item of type %s", go_type(item));
}

static int call_slice(struct state *s, json_t **args, size_t nargs, json_t **ret)
{
    json_t *item = args[0];
    if (!item || !(json_is_array(item) || json_is_string(item))) {
        return exec_error(s, "error calling slice: can't slice item of type %s", go_type(item));
    }
    size_t len = json_is_array(item) ? json_array_size(item) : json_string_length(item);
    long long ix[3] = {0, (long long)len, (long long)len};
    if (nargs > 3 && json_is_string(item)) {
        return exec_error(s, "error calling slice: cannot 3-index slice a string");
    }
    for (size_t k = 1; k < nargs; k++) {
        if (!args[k] || !json_is_integer(args[k])) {
            return exec_error(s, "error calling slice: cannot index slice/array with type %s",
                              go_type(args[k]));
        }
        ix[k - 1] = json_integer_value(args[k]);
        if (ix[k - 1] < 0 || ix[k - 1] > (long long)len) {
            return exec_error(s, "error calling slice: index out of range: %lld", ix[k - 1]);
        }
    }
    if (nargs == 2) {
        ix[1] = (long long)len;
    }
    if (ix[0] > ix[1] || (nargs == 4 && ix[1] > ix[2])) {
        return exec_error(s, "error calling slice: invalid slice index: %lld > %lld", ix[0], ix[1]);
    }
    if (json_is_string(item)) {
        *ret = mkstr(json_string_value(item) + ix[0], (size_t)(ix[1] - ix[0]));
        return 0;
    }
    json_t *a = json_array();
    for (long long k = ix[0]; k < ix[1]; k++) {
        json_array_append(a, json_array_get(item, (size_t)k));
    }
    *ret = a;
    return 0;
}

static int call_fn(struct state *s, const struct fn_def *fn, json_t **args, size_t nargs,
                   json_t **ret)
{
    _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
    const char *str, *sep;
    size_t slen, seplen;
    long long n1, n2;
    bool b = false;
    int r;

    if (fn->min_args > (int)nargs || (fn->max_args >= 0 && (int)nargs > fn->max_args)) {
        if (fn->max_args == fn->min_args) {
            return exec_error(s, "wrong number of args for %s: want %d got %zu", fn->name,
                              fn->min_args, nargs);
        }
        return exec_error(s, "wrong number of args for %s: want at least %d got %zu", fn->name,
                          fn->min_args, nargs);
    }
    /* Docker renders table headers with functions that return their input. */
    if (s->header && fn->header_identity) {
        *ret = args[0] ? json_incref(args[0]) : NULL;
        return 0;
    }
    switch (fn->id) {
    case F_AND:
    case F_OR:
        /* Evaluated lazily by the caller. */
        return exec_error(s, "internal error: %s called eagerly", fn->name);
    case F_NOT:
        *ret = json_boolean(!truth(args[0]));
        return 0;
    case F_LEN:
        if (!args[0] || json_is_null(args[0])) {
            return exec_error(s, "error calling len: len of nil pointer");
        }
        if (json_is_string(args[0])) {
            *ret = json_integer((json_int_t)json_string_length(args[0]));
        } else if (json_is_array(args[0])) {
            *ret = json_integer((json_int_t)json_array_size(args[0]));
        } else if (json_is_object(args[0])) {
            *ret = json_integer((json_int_t)json_object_size(args[0]));
        } else {
            return exec_error(s, "error calling len: len of type %s", go_type(args[0]));
        }
        return 0;
    case F_INDEX: {
        json_t *cur = args[0] ? json_incref(args[0]) : NULL;
        for (size_t k = 1; k < nargs; k++) {
            json_t *nx = NULL;
            r = index_one(s, cur, args[k], &nx);
            json_decref(cur);
            if (r < 0) {
                return r;
            }
            cur = nx;
        }
        *ret = cur;
        return 0;
    }
    case F_SLICE:
        return call_slice(s, args, nargs, ret);
    case F_PRINT:
    case F_PRINTLN:
        for (size_t k = 0; k < nargs; k++) {
            /* Sprint separates operands when neither is a string. */
            if (k > 0 && (fn->id == F_PRINTLN || !((args[k] && json_is_string(args[k])) ||
                                                   (args[k - 1] && json_is_string(args[k - 1]))))) {
                strbuf_addc(&sb, ' ');
            }
            r = fmt_value(s, &sb, args[k], &spec_none, 'v', 0);
            if (r < 0) {
                return r;
            }
        }
        if (fn->id == F_PRINTLN) {
            strbuf_addc(&sb, '\n');
        }
        return ret_string(s, &sb, ret);
    case F_PRINTF:
        r = want_string(s, fn, args[0], &str, &slen);
        if (r < 0) {
            return r;
        }
        r = go_sprintf(s, &sb, str, slen, args + 1, nargs - 1);
        if (r < 0) {
            return r;
        }
        return ret_string(s, &sb, ret);
    case F_EQ:
        for (size_t k = 1; k < nargs; k++) {
            r = cmp_eq(s, args[0], args[k], &b);
            if (r < 0) {
                return r;
            }
            if (b) {
                break;
            }
        }
        *ret = json_boolean(b);
        return 0;
    case F_NE:
        r = cmp_eq(s, args[0], args[1], &b);
        if (r < 0) {
            return r;
        }
        *ret = json_boolean(!b);
        return 0;
    case F_LT:
    case F_GE:
        r = cmp_lt(s, fn->name, args[0], args[1], &b);
        if (r < 0) {
            return r;
        }
        *ret = json_boolean(fn->id == F_LT ? b : !b);
        return 0;
    case F_GT:
    case F_LE:
        r = cmp_lt(s, fn->name, args[1], args[0], &b);
        if (r < 0) {
            return r;
        }
        *ret = json_boolean(fn->id == F_GT ? b : !b);
        return 0;
    case F_JSON:
        r = json_encode(s, &sb, args[0], 0);
        if (r < 0) {
            return r;
        }
        return ret_string(s, &sb, ret);
    case F_JOIN:
        if (!args[0] || !json_is_array(args[0])) {
            return exec_error(s, "wrong type for value; expected []string; got %s",
                              go_type(args[0]));
        }
        r = want_string(s, fn, args[1], &sep, &seplen);
        if (r < 0) {
            return r;
        }
        for (size_t k = 0; k < json_array_size(args[0]); k++) {
            if (k > 0) {
                strbuf_add(&sb, sep, seplen);
            }
            r = print_value(s, &sb, json_array_get(args[0], k));
            if (r >= 0) {
                r = check_room(s, sb.len, 0);
            }
            if (r < 0) {
                return r;
            }
        }
        return ret_string(s, &sb, ret);
    case F_SPLIT: {
        r = want_string(s, fn, args[0], &str, &slen);
        if (r >= 0) {
            r = want_string(s, fn, args[1], &sep, &seplen);
        }
        if (r < 0) {
            return r;
        }
        json_t *a = json_array();
        if (seplen == 0) {
            /* strings.Split with an empty separator splits into runes. */
            for (size_t i = 0; i < slen;) {
                size_t l = rune_prefix(str + i, slen - i, 1);
                json_array_append_new(a, mkstr(str + i, l));
                i += l;
            }
        } else {
            size_t i = 0;
            for (;;) {
                const char *m = memmem(str + i, slen - i, sep, seplen);
                size_t e = m ? (size_t)(m - str) : slen;
                json_array_append_new(a, mkstr(str + i, e - i));
                if (!m) {
                    break;
                }
                i = e + seplen;
            }
        }
        *ret = a;
        return 0;
    }
    case F_LOWER:
    case F_UPPER:
    case F_TITLE:
        r = want_string(s, fn, args[0], &str, &slen);
        if (r < 0) {
            return r;
        }
        strbuf_add(&sb, str, slen);
        if (fn->id == F_LOWER) {
            str_case(sb.buf, sb.len, tolower);
        } else if (fn->id == F_UPPER) {
            str_case(sb.buf, sb.len, toupper);
        } else {
            /* strings.Title: upper-case letters that start a word. */
            bool start = true;
            for (size_t i = 0; i < sb.len; i++) {
                unsigned char c = (unsigned char)sb.buf[i];
                if (start && c < 0x80 && islower(c)) {
                    sb.buf[i] = (char)toupper(c);
                }
                start = c < 0x80 && !isalnum(c) && c != '_';
            }
        }
        return ret_string(s, &sb, ret);
    case F_TRUNCATE:
        r = want_string(s, fn, args[0], &str, &slen);
        if (r >= 0) {
            r = want_int(s, fn, args[1], &n1);
        }
        if (r < 0) {
            return r;
        }
        if (n1 < 0) {
            return exec_error(s, "error calling truncate: slice bounds out of range [:%lld]", n1);
        }
        /* Docker cuts bytes, not runes. */
        *ret = mkstr(str, (size_t)n1 < slen ? (size_t)n1 : slen);
        return 0;
    case F_PAD:
        r = want_string(s, fn, args[0], &str, &slen);
        if (r >= 0) {
            r = want_int(s, fn, args[1], &n1);
        }
        if (r >= 0) {
            r = want_int(s, fn, args[2], &n2);
        }
        if (r < 0) {
            return r;
        }
        if (n1 < 0 || n2 < 0) {
            return exec_error(s, "error calling pad: negative Repeat count");
        }
        if (slen == 0) {
            *ret = mkstr("", 0);
            return 0;
        }
        r = check_room(s, slen, (size_t)n1 < TEMPLATE_MAX_OUTPUT ? (size_t)n1 : SIZE_MAX / 2);
        if (r >= 0) {
            r = check_room(s, slen + (size_t)n1,
                           (size_t)n2 < TEMPLATE_MAX_OUTPUT ? (size_t)n2 : SIZE_MAX / 2);
        }
        if (r < 0) {
            return r;
        }
        add_pad(&sb, ' ', (size_t)n1);
        strbuf_add(&sb, str, slen);
        add_pad(&sb, ' ', (size_t)n2);
        return ret_string(s, &sb, ret);
    }
    return exec_error(s, "unknown function");
}

/* ------------------------------------------------------------------ */
/* Evaluation                                                          */

static int eval_pipe(struct state *s, json_t *dot, const struct pipe *p, json_t **ret);
static int walk_list(struct state *s, json_t *dot, const struct list *l);

static int header_for(struct state *s, const char *field, json_t **ret)
{
    json_t *h = s->t->headers ? json_object_get(s->t->headers, field) : NULL;
    if (h && json_is_string(h)) {
        *ret = json_incref(h);
        return 0;
    }
    _cleanup_free_ char *u = xstrdup(field);
    str_case(u, strlen(u), toupper);
    *ret = mkstr(u, strlen(u));
    return 0;
}

/* One step of a field chain; receiver is borrowed, *ret a new reference. */
static int eval_field(struct state *s, json_t *receiver, const char *name, bool has_args,
                      json_t **ret)
{
    if (s->header) {
        /* A header row shows each field's column title. */
        return header_for(s, name, ret);
    }
    if (!receiver) {
        *ret = NULL; /* a field of a missing key: still no value, as in Go */
        return 0;
    }
    if (json_is_null(receiver)) {
        return exec_error(s, "nil pointer evaluating interface {}.%s", name);
    }
    if (json_is_object(receiver)) {
        if (has_args) {
            return exec_error(s, "%s is not a method but has arguments", name);
        }
        json_t *v = json_object_get(receiver, name);
        *ret = v ? json_incref(v) : NULL;
        return 0;
    }
    return exec_error(s, "can't evaluate field %s in type %s", name, go_type(receiver));
}

static int eval_chain(struct state *s, json_t *receiver, char *const *fields, size_t n,
                      bool has_args, json_t **ret)
{
    json_t *cur = receiver ? json_incref(receiver) : NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *nx = NULL;
        int r = eval_field(s, cur, fields[i], has_args && i + 1 == n, &nx);
        json_decref(cur);
        if (r < 0) {
            return r;
        }
        cur = nx;
    }
    *ret = cur;
    return 0;
}

static int not_a_function(struct state *s, const struct arg *a, bool has_args)
{
    if (has_args) {
        return exec_error(s, "can't give argument to non-function %.*s", (int)(a->end - a->pos),
                          s->t->src + a->pos);
    }
    return 0;
}

static int eval_call(struct state *s, json_t *dot, const struct arg *fa, struct arg *const *args,
                     size_t nargs, json_t *final, bool has_final, size_t pos, size_t end,
                     json_t **ret);

/* An operand in argument position, or the first word of a command when
 * has_args/final say what follows it. */
static int eval_arg(struct state *s, json_t *dot, const struct arg *a, bool has_args, json_t **ret)
{
    int r = step(s);
    if (r < 0) {
        return r;
    }
    at(s, a->pos, a->end);
    json_t *base = NULL;
    switch (a->type) {
    case A_FIELD:
        return eval_chain(s, dot, a->fields, a->nfields, has_args, ret);
    case A_DOT:
        r = not_a_function(s, a, has_args);
        if (r >= 0) {
            *ret = dot ? json_incref(dot) : NULL;
        }
        return r;
    case A_VAR: {
        struct var *v = var_find(s, a->name);
        if (!v) {
            return exec_error(s, "undefined variable: %s", a->name);
        }
        if (a->nfields == 0) {
            r = not_a_function(s, a, has_args);
            if (r >= 0) {
                *ret = v->val ? json_incref(v->val) : NULL;
            }
            return r;
        }
        return eval_chain(s, v->val, a->fields, a->nfields, has_args, ret);
    }
    case A_NIL:
        *ret = json_null();
        return 0;
    case A_BOOL:
    case A_NUMBER:
    case A_STRING:
        r = not_a_function(s, a, has_args);
        if (r >= 0) {
            *ret = json_incref(a->lit);
        }
        return r;
    case A_FUNC:
        return eval_call(s, dot, a, NULL, 0, NULL, false, a->pos, a->end, ret);
    case A_PIPE:
        r = eval_pipe(s, dot, a->pipe, &base);
        if (r < 0) {
            return r;
        }
        at(s, a->pos, a->end);
        if (a->nfields == 0) {
            r = not_a_function(s, a, has_args);
            if (r < 0) {
                json_decref(base);
                return r;
            }
            *ret = base;
            return 0;
        }
        r = eval_chain(s, base, a->fields, a->nfields, has_args, ret);
        json_decref(base);
        return r;
    }
    return exec_error(s, "can't evaluate operand");
}

/* Errors of a call name the whole command (pos..end), as Go's do. */
static int eval_call(struct state *s, json_t *dot, const struct arg *fa, struct arg *const *args,
                     size_t nargs, json_t *final, bool has_final, size_t pos, size_t end,
                     json_t **ret)
{
    const struct fn_def *fn = fa->fn;
    size_t total = nargs + (has_final ? 1 : 0);
    int r;

    /* and/or stop at the first argument that decides the result. */
    if (fn->id == F_AND || fn->id == F_OR) {
        if (total == 0) {
            at(s, pos, end);
            return exec_error(s, "wrong number of args for %s: want at least 1 got 0", fn->name);
        }
        json_t *v = NULL;
        for (size_t k = 0; k < total; k++) {
            json_decref(v);
            v = NULL;
            if (k < nargs) {
                r = eval_arg(s, dot, args[k], false, &v);
                if (r < 0) {
                    return r;
                }
            } else {
                v = final ? json_incref(final) : NULL;
            }
            if (truth(v) == (fn->id == F_OR)) {
                break;
            }
        }
        *ret = v;
        return 0;
    }

    json_t **argv = xcalloc(total ? total : 1, sizeof(*argv));
    for (size_t k = 0; k < nargs; k++) {
        r = eval_arg(s, dot, args[k], false, &argv[k]);
        if (r < 0) {
            goto out;
        }
    }
    if (has_final) {
        argv[nargs] = final ? json_incref(final) : NULL;
    }
    at(s, pos, end);
    r = call_fn(s, fn, argv, total, ret);
out:
    for (size_t k = 0; k < total; k++) {
        json_decref(argv[k]);
    }
    free(argv);
    return r;
}

static int eval_cmd(struct state *s, json_t *dot, const struct cmd *c, json_t *final,
                    bool has_final, json_t **ret)
{
    const struct arg *first = c->args[0];
    bool has_args = c->nargs > 1 || has_final;
    int r;
    at(s, c->pos, c->end);
    if (first->type == A_NIL) {
        return exec_error(s, "nil is not a command");
    }
    if (first->type == A_FUNC) {
        r = step(s);
        if (r < 0) {
            return r;
        }
        return eval_call(s, dot, first, c->args + 1, c->nargs - 1, final, has_final, c->pos, c->end,
                         ret);
    }
    /* Anything else given arguments is refused by eval_arg: fields would be
     * method calls and maps have none. */
    return eval_arg(s, dot, first, has_args, ret);
}

static int eval_pipe(struct state *s, json_t *dot, const struct pipe *p, json_t **ret)
{
    json_t *val = NULL;
    for (size_t i = 0; i < p->ncmds; i++) {
        json_t *nx = NULL;
        int r = eval_cmd(s, dot, p->cmds[i], val, i > 0, &nx);
        json_decref(val);
        if (r < 0) {
            return r;
        }
        /* Go: a nil interface result becomes an invalid value ("lovely!"). */
        if (nx && json_is_null(nx)) {
            json_decref(nx);
            nx = NULL;
        }
        val = nx;
    }
    for (size_t k = 0; k < p->ndecl; k++) {
        if (p->is_assign) {
            struct var *v = var_find(s, p->decl[k]);
            if (!v) {
                json_decref(val);
                return exec_error(s, "undefined variable: %s", p->decl[k]);
            }
            var_set(v, val);
        } else {
            var_push(s, p->decl[k], val);
        }
    }
    *ret = val;
    return 0;
}

static int walk_range(struct state *s, json_t *dot, const struct node *n)
{
    size_t mark0 = s->nvars;
    json_t *val = NULL;
    int r = eval_pipe(s, dot, n->pipe, &val);
    if (r < 0) {
        return r;
    }
    const struct pipe *p = n->pipe;
    size_t mark = s->nvars;
    size_t count = 0;
    _cleanup_free_ const char **keys = NULL;
    json_t *single = NULL;
    if (!val) {
        count = 0;
    } else if (json_is_array(val)) {
        count = json_array_size(val);
    } else if (json_is_object(val)) {
        keys = sorted_keys(val, &count);
    } else if (s->header) {
        /* Header rows range once over the column title. */
        single = val;
        count = 1;
    } else {
        _cleanup_strbuf_ struct strbuf what = STRBUF_INIT;
        at(s, n->pipe->pos, n->pipe->end);
        r = print_value(s, &what, val);
        if (r >= 0) {
            r = exec_error(s, "range can't iterate over %.40s", strbuf_str(&what));
        }
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        json_t *elem, *idx;
        if (single) {
            elem = single;
            idx = json_integer(0);
        } else if (keys) {
            elem = json_object_get(val, keys[i]);
            idx = mkstr(keys[i], strlen(keys[i]));
        } else {
            elem = json_array_get(val, i);
            idx = json_integer((json_int_t)i);
        }
        /* Go sets the declared variables per element: the last one is the
         * element, the one before it the index or key. */
        if (p->ndecl > 0) {
            if (p->is_assign) {
                struct var *v = var_find(s, p->decl[p->ndecl - 1]);
                var_set(v, elem);
                if (p->ndecl > 1) {
                    var_set(var_find(s, p->decl[0]), idx);
                }
            } else {
                var_set(&s->vars[mark - 1], elem);
                if (p->ndecl > 1) {
                    var_set(&s->vars[mark - 2], idx);
                }
            }
        }
        json_decref(idx);
        r = walk_list(s, elem, &n->list);
        var_pop(s, mark);
        if (r < 0) {
            goto out;
        }
        if (s->loop == LOOP_BREAK) {
            s->loop = LOOP_NONE;
            break;
        }
        s->loop = LOOP_NONE;
    }
    if (count == 0) {
        r = walk_list(s, dot, &n->else_list);
    }
out:
    var_pop(s, mark0);
    json_decref(val);
    return r < 0 ? r : 0;
}

static int walk_node(struct state *s, json_t *dot, const struct node *n)
{
    int r = step(s);
    if (r < 0) {
        return r;
    }
    switch (n->type) {
    case N_TEXT:
        return emit(s, n->text, n->text_len);
    case N_ACTION: {
        json_t *val = NULL;
        r = eval_pipe(s, dot, n->pipe, &val);
        if (r < 0) {
            return r;
        }
        if (n->pipe->ndecl == 0) {
            _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
            r = print_value(s, &sb, val);
            if (r >= 0) {
                r = emit(s, strbuf_str(&sb), sb.len);
            }
        }
        json_decref(val);
        return r;
    }
    case N_IF:
    case N_WITH: {
        size_t mark = s->nvars;
        json_t *val = NULL;
        r = eval_pipe(s, dot, n->pipe, &val);
        if (r >= 0) {
            if (truth(val)) {
                r = walk_list(s, n->type == N_WITH ? val : dot, &n->list);
            } else {
                r = walk_list(s, dot, &n->else_list);
            }
        }
        json_decref(val);
        var_pop(s, mark);
        return r;
    }
    case N_RANGE:
        return walk_range(s, dot, n);
    case N_BREAK:
        s->loop = LOOP_BREAK;
        return 0;
    case N_CONTINUE:
        s->loop = LOOP_CONTINUE;
        return 0;
    }
    return 0;
}

static int walk_list(struct state *s, json_t *dot, const struct list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        int r = walk_node(s, dot, l->v[i]);
        if (r < 0) {
            return r;
        }
        if (s->loop != LOOP_NONE) {
            return 0;
        }
    }
    return 0;
}

static int execute(const struct template *t, json_t *dot, bool header, struct strbuf *out,
                   struct berth_error **err)
{
    struct state s = {
        .t = t,
        .out = out,
        .out_start = out->len,
        .header = header,
        .err = err,
    };
    var_push(&s, "$", dot);
    int r = walk_list(&s, dot, &t->root);
    var_pop(&s, 0);
    free(s.vars);
    if (r < 0) {
        /* Leave out as it was: no half-printed row. */
        out->len = s.out_start;
        if (out->buf) {
            out->buf[out->len] = '\0';
        }
    }
    return r;
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */

int template_parse(const char *format, json_t *header_map, struct template **ret,
                   struct berth_error **err)
{
    if (!format) {
        format = "";
    }
    size_t len = strlen(format);
    if (len > TEMPLATE_MAX_LEN) {
        return berth_error_set(err, EINVAL, "template: format longer than %d bytes",
                               TEMPLATE_MAX_LEN);
    }
    /* Docker (cli/command/formatter): strip "table", trim spaces, then turn
     * the two-character sequences \t and \n into tab and newline. */
    bool is_table = len >= 5 && memcmp(format, "table", 5) == 0;
    const char *p = format + (is_table ? 5 : 0);
    const char *e = format + len;
    while (p < e && *p == ' ') {
        p++;
    }
    while (e > p && e[-1] == ' ') {
        e--;
    }
    struct strbuf sb = STRBUF_INIT;
    for (; p < e; p++) {
        if (p[0] == '\\' && p + 1 < e && (p[1] == 't' || p[1] == 'n')) {
            strbuf_addc(&sb, p[1] == 't' ? '\t' : '\n');
            p++;
        } else {
            strbuf_addc(&sb, *p);
        }
    }
    struct template *t = xcalloc(1, sizeof(*t));
    t->is_table = is_table;
    t->src_len = sb.len;
    t->src = strbuf_detach(&sb, NULL);
    if (!t->src) {
        t->src = xstrdup("");
    }
    t->headers = header_map ? json_incref(header_map) : NULL;
    int r = parse_root(t, err);
    if (r < 0) {
        template_free(t);
        return r;
    }
    *ret = t;
    return 0;
}

bool template_is_table(const struct template *t)
{
    return t->is_table;
}

int template_execute(const struct template *t, json_t *dot, struct strbuf *out,
                     struct berth_error **err)
{
    return execute(t, dot, false, out, err);
}

int template_header(const struct template *t, struct strbuf *out, struct berth_error **err)
{
    json_t *dot = t->headers ? json_incref(t->headers) : json_object();
    int r = execute(t, dot, true, out, err);
    json_decref(dot);
    return r;
}

void template_free(struct template *t)
{
    if (!t) {
        return;
    }
    list_release(&t->root);
    json_decref(t->headers);
    free(t->src);
    free(t);
}

/* ------------------------------------------------------------------ */
/* Go's text/tabwriter, flags 0                                        */

struct table_writer {
    struct strbuf text;
};

struct tw_cell {
    size_t off, size, width; /* bytes in text, bytes, runes */
    size_t column_width;     /* the width of its column block */
};

struct tw_line {
    struct tw_cell *cells;
    size_t ncells; /* the last cell is not tab-terminated */
};

struct table_writer *table_writer_new(void)
{
    struct table_writer *w = xcalloc(1, sizeof(*w));
    return w;
}

void table_writer_add(struct table_writer *w, const char *text)
{
    strbuf_adds(&w->text, text);
}

/* Go's format() recurses once per column: a column block is a maximal run
 * of consecutive lines that have a tab-terminated cell in that column,
 * inside the block of the column to its left; it is as wide as its widest
 * cell plus padding 3, at least minwidth 10. Since a line with cell j also
 * has cell j-1, the blocks of column j are simply the maximal runs of lines
 * that have cell j. Cells come from image data (a label full of tabs), so
 * this computes the same widths in one pass without recursion: run_start
 * and run_width track the open block of every column. */
static void tw_widths(struct tw_line *lines, size_t nlines)
{
    size_t *run_start = NULL, *run_width = NULL;
    size_t active = 0, alloc = 0;
    for (size_t i = 0; i <= nlines; i++) {
        size_t cols = i < nlines && lines[i].ncells > 0 ? lines[i].ncells - 1 : 0;
        /* Close the blocks of columns this line does not have. */
        for (size_t j = cols; j < active; j++) {
            for (size_t k = run_start[j]; k < i; k++) {
                lines[k].cells[j].column_width = run_width[j];
            }
        }
        if (cols > alloc) {
            alloc = cols;
            run_start = xrealloc(run_start, alloc * sizeof(*run_start));
            run_width = xrealloc(run_width, alloc * sizeof(*run_width));
        }
        for (size_t j = active; j < cols; j++) {
            run_start[j] = i;
            run_width[j] = 10; /* minwidth */
        }
        for (size_t j = 0; j < cols; j++) {
            size_t w = lines[i].cells[j].width + 3; /* padding */
            if (w > run_width[j]) {
                run_width[j] = w;
            }
        }
        active = cols;
    }
    free(run_start);
    free(run_width);
}

/* Format one block of lines (text up to a form feed) into out. */
static void tw_segment(const char *text, size_t start, size_t end, struct strbuf *out)
{
    struct tw_line *lines = NULL;
    size_t nlines = 0, alines = 0;
    size_t p = start;
    for (;;) {
        if (nlines == alines) {
            lines = xgrow(lines, sizeof(*lines), nlines, &alines);
        }
        struct tw_line *l = &lines[nlines++];
        *l = (struct tw_line){0};
        size_t acells = 0, cs = p;
        for (;;) {
            bool eol = p >= end || text[p] == '\n';
            if (eol || text[p] == '\t' || text[p] == '\v') {
                if (l->ncells == acells) {
                    l->cells = xgrow(l->cells, sizeof(*l->cells), l->ncells, &acells);
                }
                l->cells[l->ncells++] = (struct tw_cell){
                    .off = cs, .size = p - cs, .width = rune_count(text + cs, p - cs)};
                if (eol) {
                    break;
                }
                cs = ++p;
                continue;
            }
            p++;
        }
        if (p >= end) {
            break;
        }
        p++; /* the newline */
    }
    tw_widths(lines, nlines);
    for (size_t i = 0; i < nlines; i++) {
        const struct tw_line *l = &lines[i];
        for (size_t j = 0; j < l->ncells; j++) {
            const struct tw_cell *c = &l->cells[j];
            strbuf_add(out, text + c->off, c->size);
            /* Only tab-terminated cells belong to a column and are padded. */
            if (j + 1 < l->ncells && c->column_width > c->width) {
                add_pad(out, ' ', c->column_width - c->width);
            }
        }
        /* Text that ends in a newline leaves an empty last line, which Go's
         * Flush prints as nothing. */
        if (i + 1 < nlines) {
            strbuf_addc(out, '\n');
        }
        free(l->cells);
    }
    free(lines);
}

void table_writer_flush(struct table_writer *w, struct strbuf *out)
{
    const char *text = strbuf_str(&w->text);
    size_t len = w->text.len;
    /* '\v' ends a cell like '\t'; '\f' ends a line and the column blocks
     * (Go flushes on it). */
    size_t start = 0;
    while (start < len) {
        const char *ff = memchr(text + start, '\f', len - start);
        size_t end = ff ? (size_t)(ff - text) : len;
        tw_segment(text, start, end, out);
        if (ff) {
            strbuf_addc(out, '\n');
        }
        start = end + (ff ? 1 : 0);
    }
    strbuf_reset(&w->text);
}

void table_writer_free(struct table_writer *w)
{
    if (!w) {
        return;
    }
    strbuf_release(&w->text);
    free(w);
}

int template_render_rows(const char *format, const char *default_table, json_t *header_map,
                         json_t *rows, struct strbuf *out, struct berth_error **err)
{
    if (!format || streq(format, "") || streq(format, "table")) {
        format = default_table;
    } else if (streq(format, "json")) {
        /* docker --format json: one JSON object per line. */
        format = "{{json .}}";
    }
    _cleanup_(template_freep) struct template *t = NULL;
    int r = template_parse(format, header_map, &t, err);
    if (r < 0) {
        return r;
    }
    size_t n = json_is_array(rows) ? json_array_size(rows) : 0;
    if (!t->is_table) {
        for (size_t i = 0; i < n; i++) {
            r = template_execute(t, json_array_get(rows, i), out, err);
            if (r < 0) {
                return r;
            }
            strbuf_addc(out, '\n');
        }
        return 0;
    }
    _cleanup_(table_writer_freep) struct table_writer *w = table_writer_new();
    _cleanup_strbuf_ struct strbuf line = STRBUF_INIT;
    r = template_header(t, &line, err);
    if (r < 0) {
        return r;
    }
    strbuf_addc(&line, '\n');
    table_writer_add(w, strbuf_str(&line));
    for (size_t i = 0; i < n; i++) {
        strbuf_reset(&line);
        r = template_execute(t, json_array_get(rows, i), &line, err);
        if (r < 0) {
            return r;
        }
        strbuf_addc(&line, '\n');
        table_writer_add(w, strbuf_str(&line));
    }
    table_writer_flush(w, out);
    return 0;
}
