/* Unit tests of --format templates: what Docker users write, printed as Go's
 * text/template and Docker's formatter print it, the errors they get for
 * mistakes, Docker's table alignment, and the caps that keep a hostile
 * format from exhausting memory or time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/alloc.h"
#include "basic/error.h"
#include "basic/strbuf.h"
#include "libberth/common/template.h"

static const char doc_text[] =
    "{\"Repository\": \"busybox\", \"Tag\": \"latest\", \"ID\": \"sha256:0123456789abcdef\","
    " \"Size\": 4261550, \"Name\": \"web\", \"State\": \"running\","
    " \"Labels\": {\"com.example\": \"y\", \"a.b\": \"x\"},"
    " \"Config\": {\"Env\": [\"PATH=/usr/bin\", \"A=b c\"], \"Cmd\": null},"
    " \"Mounts\": [{\"Destination\": \"/data\", \"Source\": \"/v\"},"
    "              {\"Destination\": \"/etc/x\", \"Source\": \"/w\"}],"
    " \"List\": [1, 2, 3], \"Args\": [\"-c\", \"echo hi\"], \"Empty\": [], \"EmptyMap\": {},"
    " \"Ratio\": 0.5, \"Big\": 1000000.0, \"Small\": 0.00001, \"True\": true, \"False\": false,"
    " \"Null\": null, \"Nested\": {\"A\": {\"B\": \"deep\"}}, \"x\": \"hello World\","
    " \"Mixed\": [\"a\", 1, null, {\"k\": [true]}], \"Unicode\": \"h\\u00e9llo\"}";

static json_t *doc(void)
{
    json_error_t je;
    json_t *d = json_loads(doc_text, 0, &je);
    if (!d) {
        fail_msg("test document: %s", je.text);
    }
    return d;
}

/* Execute format against the test document; returns the output, or NULL
 * with *ret_err set to the message. */
static char *run(const char *format, char **ret_err)
{
    struct berth_error *e = NULL;
    struct template *t = NULL;
    struct strbuf out = STRBUF_INIT;
    json_t *d = doc();
    *ret_err = NULL;
    int r = template_parse(format, NULL, &t, &e);
    if (r >= 0) {
        r = template_execute(t, d, &out, &e);
    }
    template_free(t);
    json_decref(d);
    if (r < 0) {
        assert_int_equal(r, -EINVAL);
        assert_non_null(e);
        *ret_err = xstrdup(e->msg);
        berth_error_free(e);
        strbuf_release(&out);
        return NULL;
    }
    assert_null(e);
    char *s = strbuf_detach(&out, NULL);
    return s ? s : xstrdup("");
}

struct ok_case {
    const char *format;
    const char *want;
};

static const struct ok_case ok_cases[] = {
    /* Fields and Docker's everyday forms. */
    {"{{.Repository}}:{{.Tag}}", "busybox:latest"},
    {"{{.Nested.A.B}}", "deep"},
    {"{{json .Config.Env}}", "[\"PATH=/usr/bin\",\"A=b c\"]"},
    {"{{json .Labels}}", "{\"com.example\":\"y\",\"a.b\":\"x\"}"},
    {"{{json .Config}}", "{\"Env\":[\"PATH=/usr/bin\",\"A=b c\"],\"Cmd\":null}"},
    {"{{json .Ratio}} {{json .Big}} {{json .Small}} {{json .Name}}", "0.5 1000000 0.00001 \"web\""},
    {"{{json .Missing}}", "null"},
    {"{{json \"<a&b>\\u2028\"}}", "\"<a&b>\\u2028\""},
    {"{{range .Mounts}}{{.Destination}} {{end}}", "/data /etc/x "},
    {"{{index .Labels \"a.b\"}}", "x"},
    {"{{index .Labels \"nope\"}}", "<no value>"},
    {"{{index .List 1}}", "2"},
    {"{{index .Mounts 1 | json}}", "{\"Destination\":\"/etc/x\",\"Source\":\"/w\"}"},
    {"{{(index .Mounts 0).Source}}", "/v"},
    {"{{index . \"Nested\" \"A\" \"B\"}}", "deep"},
    {"{{if eq .State \"running\"}}x{{else}}y{{end}}", "x"},
    {"{{if eq .State \"exited\"}}x{{else}}y{{end}}", "y"},
    {"{{if eq .State \"exited\" \"running\"}}x{{end}}", "x"},
    {"{{if ne .State \"running\"}}a{{else if eq .Tag \"latest\"}}b{{else}}c{{end}}", "b"},
    {"{{if .Missing}}a{{else if .Empty}}b{{else if .EmptyMap}}c{{else}}d{{end}}", "d"},
    {"{{if .Null}}a{{else}}b{{end}}", "b"},
    {"{{if and .True (eq .Tag \"latest\")}}y{{end}}", "y"},
    {"{{if or .False .Missing}}y{{else}}n{{end}}", "n"},
    /* and/or stop early, so the field of a missing value is never read. */
    {"{{and .Missing .Missing.X}}", "<no value>"},
    {"{{and .True .Name}} {{or .False .Empty \"z\"}} {{not .True}} {{not .Empty}}",
     "web z false true"},
    /* Trim markers. */
    {"a  {{- .Tag -}}  b", "alatestb"},
    {"a\n\t{{- .Tag}}\n", "alatest\n"},
    {"x {{- /* a comment */ -}} y", "xy"},
    {"x{{/* a comment */}}y", "xy"},
    {"{{-3}}", "-3"},
    /* printf with Go verbs. */
    {"{{printf \"%-10s|\" .Name}}", "web       |"},
    {"{{printf \"%10s|\" .Name}}", "       web|"},
    {"{{printf \"%8d|\" .Size}}", " 4261550|"},
    {"{{printf \"%6.2f|%-6d|%06d|%x|%X|%o|%b\" 3.14159 42 42 255 255 8 5}}",
     "  3.14|42    |000042|ff|FF|10|101"},
    {"{{printf \"%+d %e %g %v\" 5 1234.5678 0.000012 -7}}", "+5 1.234568e+03 1.2e-05 -7"},
    {"{{printf \"%q %t %v %s\" .Name .True .Ratio .Unicode}}", "\"web\" true 0.5 h\u00e9llo"},
    {"{{printf \"%q\" \"a\\\"b\\x01\"}}", "\"a\\\"b\\x01\""},
    {"{{printf \"%5.1s|%.2s|%-4s|\" \"abc\" .Unicode .Unicode}}", "    a|h\u00e9|h\u00e9llo|"},
    {"{{printf \"%x %X\" \"hi\" -255}}", "6869 -FF"},
    {"{{printf \"%c%c\" 72 233}}", "H\u00e9"},
    {"{{printf \"%d%%\" 50}}", "50%"},
    {"{{printf \"%*d|%-*d|\" 4 1 3 2}}", "   1|2  |"},
    {"{{printf \"%v\" .Labels}}", "map[a.b:x com.example:y]"},
    {"{{printf \"%v|%s\" .Mixed .Args}}", "[a 1 <nil> map[k:[true]]]|[-c echo hi]"},
    {"{{printf \"%d\" .List}}", "[1 2 3]"},
    {"{{printf \"%s\" .List}}", "[%!s(int=1) %!s(int=2) %!s(int=3)]"},
    {"{{printf \"%d\" \"x\"}}", "%!d(string=x)"},
    {"{{printf \"%d %s\" 1}}", "1 %!s(MISSING)"},
    {"{{printf \"x\" 1 \"y\"}}", "x%!(EXTRA int=1, string=y)"},
    {"{{printf \"%v %v %s\" .Null .Missing nil}}", "<nil> <nil> %!s(<nil>)"},
    {"{{printf \"%z\" 1}}", "%!z(int=1)"},
    {"{{printf \"%\"}}", "%!(NOVERB)"},
    {"{{printf \"%d\" 1.5}}", "%!d(float64=1.5)"},
    /* Checked byte for byte against Go's fmt (through podman's templates). */
    {"{{printf \"%[2]d %[1]s|%[3]d|%[x]d|%d %d %[1]d\" \"a\" 2}}",
     "2 a|%!d(BADINDEX)|%!d(BADINDEX)|2 %!d(MISSING) %!d(string=a)"},
    {"{{printf \"%T|% x|%#x|%#v|%-05d|%U %q %O\" 1 \"ab\" \"ab\" \"s\" 7 233 233 8}}",
     "int|61 62|0x6162|\"s\"|7    |U+00E9 '\u00e9' 0o10"},
    {"{{printf \"%08.3f|% d|%#x|%+.1e|%-8q|%05s|%05d|\" 3.14159 4 255 12345.678 \"a\" \"ab\" -42}}",
     "0003.142| 4|0xff|+1.2e+04|\"a\"     |000ab|-0042|"},
    {"{{print 1.0 2.5e10 1e21 -0.0 100000.0 123456789.0}}",
     "1 2.5e+10 1e+21 -0 100000 1.23456789e+08"},
    {"{{.Name | printf \"%s!\"}}", "web!"},
    {"{{\"a\" | printf \"%s-%s\" \"b\"}}", "b-a"},
    {"{{print 1 2 \"x\" 3 .True}}", "1 2x3 true"},
    {"{{println \"a\" 1}}", "a 1\n"},
    /* Printing values as Go does. */
    {"{{.Labels}}", "map[a.b:x com.example:y]"},
    {"{{.List}} {{.Args}} {{.Empty}} {{.EmptyMap}}", "[1 2 3] [-c echo hi] [] map[]"},
    {"{{.Mixed}}", "[a 1 <nil> map[k:[true]]]"},
    {"{{.Config}}", "map[Cmd:<nil> Env:[PATH=/usr/bin A=b c]]"},
    {"{{.Missing}}|{{.Missing.Deeper}}|{{.Null}}|{{.Config.Cmd}}",
     "<no value>|<no value>|<no value>|<no value>"},
    {"{{.Ratio}} {{.Big}} {{.Small}} {{.Size}} {{.True}} {{.False}}",
     "0.5 1e+06 1e-05 4261550 true false"},
    {"{{1e3}} {{0x10}} {{0o17}} {{0b101}} {{1_000}} {{'a'}} {{1.5}} {{-2.25}} {{true}}",
     "1000 16 15 5 1000 97 1.5 -2.25 true"},
    {"{{\"\\u00e9\\t\\\\\"}}", "\u00e9\t\\"},
    {"{{`raw \\t`}}", "raw \t"},
    /* Functions Docker adds. */
    {"{{len .List}} {{len .Name}} {{len .Labels}} {{len .Empty}}", "3 3 2 0"},
    {"{{join .Args \" \"}}", "-c echo hi"},
    {"{{join .Config.Env \",\"}}", "PATH=/usr/bin,A=b c"},
    {"{{upper .x}} {{lower .x}} {{title \"hello wide-world\"}}",
     "HELLO WORLD hello world Hello Wide-World"},
    {"{{truncate .ID 12}}|{{truncate .Name 12}}", "sha256:01234|web"},
    {"{{pad .Name 2 3}}|{{pad \"\" 2 3}}|", "  web   ||"},
    {"{{split \"a,b,c\" \",\"}} {{len (split .Name \"\")}}", "[a b c] 3"},
    {"{{index (split .ID \":\") 1}}", "0123456789abcdef"},
    {"{{slice .Name 1}} {{slice .List 1 2}}", "eb [2]"},
    {"{{lt 1 2}} {{gt .Size 1000}} {{le \"a\" \"b\"}} {{ge 1 1.5}} {{eq 2 2.0}}",
     "true true true false true"},
    {"{{eq .Missing \"x\"}} {{eq .Null nil}}", "false true"},
    /* Variables. */
    {"{{$x := .Tag}}{{$x}}", "latest"},
    {"{{$x := .Nested}}{{$x.A.B}}", "deep"},
    {"{{$x := 1}}{{range .List}}{{$x = .}}{{end}}{{$x}}", "3"},
    {"{{range $i, $v := .List}}{{$i}}={{$v}} {{end}}", "0=1 1=2 2=3 "},
    {"{{range $v := .Args}}[{{$v}}]{{end}}", "[-c][echo hi]"},
    {"{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}", "a.b=x;com.example=y;"},
    {"{{range .Mounts}}{{$.Name}}:{{.Source}} {{end}}", "web:/v web:/w "},
    {"{{with $m := .Nested}}{{$m.A.B}}{{end}}", "deep"},
    /* with, range else, break and continue. */
    {"{{with .Nested}}{{with .A}}{{.B}}{{end}}{{end}}", "deep"},
    {"{{with .Missing}}x{{else}}none{{end}}", "none"},
    {"{{with .Missing}}x{{else with .Name}}{{.}}{{end}}", "web"},
    {"{{range .Empty}}x{{else}}empty{{end}}", "empty"},
    {"{{range .Missing}}x{{else}}empty{{end}}", "empty"},
    {"{{range .List}}{{if eq . 2}}{{break}}{{end}}{{.}}{{end}}", "1"},
    {"{{range .List}}{{if eq . 2}}{{continue}}{{end}}{{.}}{{end}}", "13"},
    {"{{range .Mixed}}{{.}},{{end}}", "a,1,<no value>,map[k:[true]],"},
    /* Docker's preprocessing: \t and \n, and spaces around the format. */
    {"{{.Repository}}\\t{{.Tag}}\\n", "busybox\tlatest\n"},
    {"   {{.Tag}}  ", "latest"},
    {"{{join .Args \"\\t\"}}", "-c\techo hi"},
    {"plain text", "plain text"},
    {"", ""},
};

static void test_ok_cases(void **state)
{
    for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
        char *err = NULL;
        char *got = run(ok_cases[i].format, &err);
        if (!got) {
            fail_msg("format %s: unexpected error: %s", ok_cases[i].format, err);
        }
        if (strcmp(got, ok_cases[i].want) != 0) {
            fail_msg("format %s:\n  got  [%s]\n  want [%s]", ok_cases[i].format, got,
                     ok_cases[i].want);
        }
        free(got);
    }
}

struct err_case {
    const char *format;
    const char *want[3]; /* substrings of the message */
};

static const struct err_case err_cases[] = {
    {"{{.Name.X}}",
     {"template: :1:2: executing \"\" at <.Name.X>: can't evaluate field X in type string"}},
    {"ab\ncd {{.List.X}}", {":2:5:", "can't evaluate field X in type []interface {}"}},
    {"{{.Null.X}}", {"nil pointer evaluating interface {}.X"}},
    {"{{.Name", {"template: :1:", "unclosed action"}},
    {"x {{.Name}", {":1:", "unclosed action"}},
    {"{{define \"x\"}}y{{end}}", {":1:2:", "{{define}} is not supported"}},
    {"{{template \"x\"}}", {"{{template}} is not supported"}},
    {"{{block \"x\" .}}{{end}}", {"{{block}} is not supported"}},
    {"{{nofunc .}}", {"function \"nofunc\" not defined"}},
    {"{{html .}}", {"function \"html\""}},
    {"{{end}}", {"unexpected {{end}}"}},
    {"{{else}}", {"unexpected {{else}}"}},
    {"{{if .A}}x", {"unexpected EOF"}},
    {"{{range .List}}{{else}}{{else}}{{end}}", {"expected end"}},
    {"{{$y}}", {"undefined variable \"$y\""}},
    {"{{$y = 1}}", {"undefined variable \"$y\""}},
    {"{{if true}}{{$v := 1}}{{end}}{{$v}}", {"undefined variable \"$v\""}},
    {"{{break}}", {"{{break}} outside {{range}}"}},
    {"{{index .List 5}}", {"at <index .List 5>", "index out of range: 5"}},
    {"{{index .Name \"a\"}}", {"cannot index slice/array with type string"}},
    {"{{index .True 1}}", {"can't index item of type bool"}},
    {"{{len 3}}", {"len of type int"}},
    {"{{len .Missing}}", {"len of nil pointer"}},
    {"{{upper 5}}", {"wrong type for value; expected string; got int"}},
    {"{{upper .Missing}}", {"invalid value; expected string"}},
    {"{{truncate .Name \"x\"}}", {"expected int; got string"}},
    {"{{printf}}", {"wrong number of args for printf"}},
    {"{{not 1 2}}", {"wrong number of args for not: want 1 got 2"}},
    {"{{.Name 1}}", {"Name is not a method but has arguments"}},
    {"{{1 2}}", {"can't give argument to non-function 1"}},
    {"{{. 2}}", {"can't give argument to non-function ."}},
    {"{{nil}}", {"nil is not a command"}},
    {"{{range .Name}}{{end}}", {"range can't iterate over web"}},
    {"{{\"x\" | \"y\"}}", {"non executable command in pipeline stage 2"}},
    {"{{(1}}", {"unclosed left paren"}},
    {"{{1)}}", {"unexpected right paren"}},
    {"{{\"abc}}", {"unterminated quoted string"}},
    {"{{\"a\\qb\"}}", {"unknown escape"}},
    {"{{printf \"%s\\n\" .Name}}", {"unterminated quoted string"}},
    {"{{'ab'}}", {"malformed character constant"}},
    {"{{.A!}}", {"bad character"}},
    {"{{12abc}}", {"bad number syntax"}},
    {"{{09}} {{99999999999999999999}}", {"integer overflow: \"09\""}},
    {"{{0x}}", {"illegal number syntax"}},
    {"{{0xZ}}", {"bad number syntax"}},
    {"{{}}", {"missing value for command"}},
    {"{{.A |}}", {"missing command after \"|\""}},
    {"{{.A .B}}x{{.A.B .C}}", {"A is not a method but has arguments"}},
    {"{{.Name.X}}{{/* x", {"unclosed comment"}},
    {"{{/* x */ .Name}}", {"comment ends before closing delimiter"}},
    {"{{lt .True .False}}", {"invalid type for comparison"}},
    {"{{eq .Name 1}}", {"incompatible types for comparison"}},
    {"{{eq .List .List}}", {"non-comparable type"}},
    {"{{pad .Name -1 0}}", {"negative Repeat count"}},
    {"{{truncate .Name -1}}", {"slice bounds out of range"}},
};

static void test_err_cases(void **state)
{
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
        char *err = NULL;
        char *got = run(err_cases[i].format, &err);
        if (got) {
            fail_msg("format %s: expected an error, got [%s]", err_cases[i].format, got);
        }
        for (size_t k = 0; k < 3 && err_cases[i].want[k]; k++) {
            if (!strstr(err, err_cases[i].want[k])) {
                fail_msg("format %s: error [%s] lacks [%s]", err_cases[i].format, err,
                         err_cases[i].want[k]);
            }
        }
        if (strncmp(err, "template: :", 11) != 0) {
            fail_msg("format %s: error [%s] names no position", err_cases[i].format, err);
        }
        free(err);
    }
}

/* A failed execution leaves what was in the buffer before, not half a row. */
static void test_error_leaves_output(void **state)
{
    struct berth_error *e = NULL;
    struct template *t = NULL;
    struct strbuf out = STRBUF_INIT;
    json_t *d = doc();
    strbuf_adds(&out, "before|");
    assert_int_equal(template_parse("{{.Name}} {{.Name.X}}", NULL, &t, &e), 0);
    assert_int_equal(template_execute(t, d, &out, &e), -EINVAL);
    assert_string_equal(strbuf_str(&out), "before|");
    berth_error_free(e);
    template_free(t);
    json_decref(d);
    strbuf_release(&out);
}

static char *table_writer_run(const char *text)
{
    struct table_writer *w = table_writer_new();
    struct strbuf out = STRBUF_INIT;
    table_writer_add(w, text);
    table_writer_flush(w, &out);
    table_writer_free(w);
    char *s = strbuf_detach(&out, NULL);
    return s ? s : xstrdup("");
}

static void test_table_writer(void **state)
{
    static const struct ok_case cases[] = {
        /* minwidth 10, padding 3, last cell unpadded. */
        {"REPOSITORY\tTAG\tIMAGE ID\nbusybox\tlatest\tabc\n",
         "REPOSITORY   TAG       IMAGE ID\nbusybox      latest    abc\n"},
        {"a\tb\n", "a         b\n"},
        {"a\t\n", "a         \n"},
        {"a\tb", "a         b"},
        {"", ""},
        {"no tabs\nat all\n", "no tabs\nat all\n"},
        /* Width counts runes, not bytes. */
        {"\u00e9\u00e9\tb\nx\tc\n", "\u00e9\u00e9        b\nx         c\n"},
        /* A line without the column ends the block (Go's column blocks). */
        {"a\tb\nx\nlongername-here\tc\n", "a         b\nx\nlongername-here   c\n"},
        /* Inner columns are blocks of their own: "d\te" has no second
         * column, so "b" and "ggg..." are not aligned with each other. */
        {"a\tb\tc\nd\te\nf\tggggggggggggg\th\n",
         "a         b         c\nd         e\nf         ggggggggggggg   h\n"},
        {"a\tb\tc\nf\tggggggggggggg\th\n",
         "a         b               c\nf         ggggggggggggg   h\n"},
        /* Vertical tab is a cell end too; form feed ends a block. */
        {"a\vb\n", "a         b\n"},
        {"aaaaaaaaaaaaa\tb\fc\td\n", "aaaaaaaaaaaaa   b\nc         d\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = table_writer_run(cases[i].format);
        if (strcmp(got, cases[i].want) != 0) {
            fail_msg("table %zu:\n  got  [%s]\n  want [%s]", i, got, cases[i].want);
        }
        free(got);
    }
}

static json_t *image_rows(void)
{
    json_t *rows = json_pack("[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]", "Repository",
                             "busybox", "Tag", "latest", "ID", "a416a98b71e2", "Size", "4.26MB",
                             "Repository", "localhost:5000/team/app", "Tag", "v1.2.3", "ID",
                             "0123456789ab", "Size", "120MB");
    assert_non_null(rows);
    return rows;
}

static json_t *image_headers(void)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "Repository", "REPOSITORY", "Tag", "TAG", "ID",
                     "IMAGE ID", "Size", "SIZE");
}

static char *render(const char *format, json_t *rows, json_t *headers)
{
    struct berth_error *e = NULL;
    struct strbuf out = STRBUF_INIT;
    int r = template_render_rows(format, "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.Size}}",
                                 headers, rows, &out, &e);
    if (r < 0) {
        fail_msg("render %s: %s", format ? format : "(null)", e ? e->msg : "?");
    }
    char *s = strbuf_detach(&out, NULL);
    return s ? s : xstrdup("");
}

static void test_render_rows(void **state)
{
    json_t *rows = image_rows();
    json_t *headers = image_headers();
    json_t *none = json_array();
    static const char def[] = "REPOSITORY                TAG       IMAGE ID       SIZE\n"
                              "busybox                   latest    a416a98b71e2   4.26MB\n"
                              "localhost:5000/team/app   v1.2.3    0123456789ab   120MB\n";
    const struct {
        const char *format;
        json_t *rows;
        const char *want;
    } cases[] = {
        {NULL, rows, def},
        {"", rows, def},
        {"table", rows, def},
        {"table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.Size}}", rows, def},
        /* Tables print their header even with no rows, as docker images does. */
        {"table", none, "REPOSITORY   TAG       IMAGE ID   SIZE\n"},
        {"{{.Repository}}:{{.Tag}}", rows, "busybox:latest\nlocalhost:5000/team/app:v1.2.3\n"},
        {"{{.Repository}}", none, ""},
        {"json", rows,
         "{\"Repository\":\"busybox\",\"Tag\":\"latest\",\"ID\":\"a416a98b71e2\",\"Size\":\"4."
         "26MB\"}\n"
         "{\"Repository\":\"localhost:5000/team/app\",\"Tag\":\"v1.2.3\",\"ID\":\"0123456789ab\","
         "\"Size\":\"120MB\"}\n"},
        /* Unknown fields get their upper-cased name as header. */
        {"table {{.Tag}}\\t{{.Extra}}", rows,
         "TAG       EXTRA\nlatest    <no value>\nv1.2.3    <no value>\n"},
        /* Docker's header functions return the header untouched. */
        {"table {{truncate .ID 4}}\\t{{lower .Tag}}\\t{{.Size | printf \"%8s\"}}", rows,
         "IMAGE ID   TAG           SIZE\n"
         "a416       latest      4.26MB\n"
         "0123       v1.2.3       120MB\n"},
        {"table {{.ID}}: {{.Repository}}", rows,
         "IMAGE ID: REPOSITORY\na416a98b71e2: busybox\n0123456789ab: localhost:5000/team/app\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = render(cases[i].format, cases[i].rows, headers);
        if (strcmp(got, cases[i].want) != 0) {
            fail_msg("render %s:\n  got  [%s]\n  want [%s]",
                     cases[i].format ? cases[i].format : "(null)", got, cases[i].want);
        }
        free(got);
    }
    json_decref(rows);
    json_decref(headers);
    json_decref(none);
}

/* Cells come from image data: a label of 200000 tabs makes as many columns,
 * which must neither overflow the stack nor take quadratic time. */
static void test_table_many_columns(void **state)
{
    enum { N = 200000 };
    char *tabs = xmalloc(N + 1);
    memset(tabs, '\t', N);
    tabs[N] = '\0';
    json_t *rows = json_pack("[{s:s}]", "L", tabs);
    struct berth_error *e = NULL;
    struct strbuf out = STRBUF_INIT;
    assert_int_equal(template_render_rows("table {{.L}}", NULL, NULL, rows, &out, &e), 0);
    /* Header "L", then N empty cells padded to minwidth 10. */
    assert_int_equal(out.len, 2 + (size_t)N * 10 + 1);
    assert_memory_equal(out.buf, "L\n          ", 12);
    strbuf_release(&out);
    json_decref(rows);
    free(tabs);
}

static void test_header_and_is_table(void **state)
{
    struct berth_error *e = NULL;
    struct template *t = NULL;
    struct strbuf out = STRBUF_INIT;
    json_t *headers = image_headers();

    assert_int_equal(template_parse("table {{.Repository}}\\t{{.Foo.Bar}}", headers, &t, &e), 0);
    assert_true(template_is_table(t));
    assert_int_equal(template_header(t, &out, &e), 0);
    assert_string_equal(strbuf_str(&out), "REPOSITORY\tBAR");
    template_free(t);
    t = NULL;

    assert_int_equal(template_parse("{{.Repository}}", headers, &t, &e), 0);
    assert_false(template_is_table(t));
    template_free(t);
    t = NULL;

    /* "table" with nothing else in a raw parse is an empty row template. */
    assert_int_equal(template_parse("table", NULL, &t, &e), 0);
    assert_true(template_is_table(t));
    strbuf_reset(&out);
    assert_int_equal(template_header(t, &out, &e), 0);
    assert_string_equal(strbuf_str(&out), "");
    template_free(t);

    json_decref(headers);
    strbuf_release(&out);
}

static void expect_error(const char *format, json_t *dot, const char *want)
{
    struct berth_error *e = NULL;
    struct template *t = NULL;
    struct strbuf out = STRBUF_INIT;
    int r = template_parse(format, NULL, &t, &e);
    if (r >= 0) {
        r = template_execute(t, dot, &out, &e);
    }
    if (r >= 0) {
        fail_msg("expected an error containing [%s], got %zu bytes of output", want, out.len);
    }
    assert_non_null(e);
    if (!strstr(e->msg, want)) {
        fail_msg("error [%s] lacks [%s]", e->msg, want);
    }
    berth_error_free(e);
    template_free(t);
    strbuf_release(&out);
}

static void test_caps(void **state)
{
    json_t *d = doc();
    struct strbuf f = STRBUF_INIT;

    /* The format's length. */
    for (int i = 0; i < 70000; i++) {
        strbuf_addc(&f, 'x');
    }
    expect_error(f.buf, d, "longer than");

    /* Nesting of control structures and of parentheses. */
    strbuf_reset(&f);
    for (int i = 0; i < 150; i++) {
        strbuf_adds(&f, "{{if 1}}");
    }
    expect_error(f.buf, d, "nested too deeply");
    strbuf_reset(&f);
    strbuf_adds(&f, "{{");
    for (int i = 0; i < 150; i++) {
        strbuf_addc(&f, '(');
    }
    expect_error(f.buf, d, "nested too deeply");

    /* The output of one execution, and every string made on the way. */
    expect_error("{{range .List}}{{pad \"x\" 10000000 0}}{{end}}", d, "output exceeds");
    expect_error("{{pad \"x\" 99999999999 0}}", d, "output exceeds");
    expect_error("{{$s := \"xxxxxxxxxxxxxxxx\"}}{{range .List}}{{range $.List}}{{range $.List}}"
                 "{{$s = printf \"%s%s\" $s $s}}{{end}}{{end}}{{end}}",
                 d, "output exceeds");

    /* Nested ranges multiply; the step budget stops them. */
    strbuf_reset(&f);
    for (int i = 0; i < 16; i++) {
        strbuf_adds(&f, "{{range $.List}}");
    }
    for (int i = 0; i < 16; i++) {
        strbuf_adds(&f, "{{end}}");
    }
    expect_error(f.buf, d, "steps");

    /* Go's fmt refuses huge widths instead of allocating them. */
    char *err = NULL;
    char *got = run("{{printf \"%*d|%.*f|%99999999d\" 10000000 1 -1 2.0 1}}", &err);
    assert_non_null(got);
    assert_string_equal(got, "%!(BADWIDTH)1|%!(BADPREC)2.000000|%!(NOVERB)%!(EXTRA int=1)");
    free(got);

    /* Values nested deeper than the printer goes. */
    json_t *deep = json_array();
    json_t *cur = deep;
    for (int i = 0; i < 400; i++) {
        json_t *n = json_array();
        json_array_append_new(cur, n);
        cur = n;
    }
    expect_error("{{.}}", deep, "nested too deeply");
    expect_error("{{json .}}", deep, "nested too deeply");
    json_decref(deep);

    strbuf_release(&f);
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_cases),
        cmocka_unit_test(test_err_cases),
        cmocka_unit_test(test_error_leaves_output),
        cmocka_unit_test(test_table_writer),
        cmocka_unit_test(test_render_rows),
        cmocka_unit_test(test_table_many_columns),
        cmocka_unit_test(test_header_and_is_table),
        cmocka_unit_test(test_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
