/* template.h - Go text/template, the subset Docker's --format uses, over
 * jansson values.
 *
 * Docker users write `--format '{{.Repository}}:{{.Tag}}'`,
 * `--format '{{json .}}'`, `--format 'table {{.ID}}\t{{.Size}}'`,
 * `-f '{{.State.Status}}'`, `{{range .Mounts}}{{.Destination}} {{end}}`.
 * This module parses such a template once and executes it against a json_t
 * "dot" per row. What is supported (as Go's text/template does it):
 *
 *  - text, and actions {{ pipeline }}, with {{- and -}} trimming spaces;
 *  - fields: `.`, `.A`, `.A.B` (object members; a missing member of an
 *    object is "<no value>" as Go prints a missing map key; on a non-object
 *    it is an error "can't evaluate field A in type string"), `$` (the root
 *    dot), variables `$x := pipeline` and `$x = ...`, `$x.Field`;
 *  - literals: "strings" with Go escapes (\t \n \" \\ \uXXXX), `raw`
 *    strings, integers, floats, true/false, nil;
 *  - pipelines `a | f b` (the value of the left is the last argument);
 *    parenthesised pipelines as arguments;
 *  - control: if/else if/else/end, range (arrays; objects in key order;
 *    `range $i, $v := ...`; else branch when empty), with/else/end,
 *    `define`/`template` are not supported (an error at parse);
 *  - functions: json (compact, as Docker's: no trailing newline, no HTML
 *    escaping), join (array, sep), split (string, sep), lower, upper, title,
 *    len, index (array int | object string), printf: %s %d %v %q %t %x %f
 *    with width/precision/'-' flags, Go semantics for %v of arrays/objects as
 *    Go prints map[...]/[...]), print, println, eq, ne, lt, le, gt, ge, and,
 *    or, not, truncate (string, n) and pad (string, left, right) as Docker
 *    adds them, html/js/urlquery are not needed;
 *  - printing a value: strings verbatim, numbers as Go prints them (integers
 *    without ".0"), bools true/false, null "<no value>"... (Go prints <nil>
 *    for a nil interface and <no value> for a missing key; follow Go), arrays
 *    as "[a b c]", objects as "map[k:v k2:v2]" in sorted key order.
 *
 * Docker's `table` prefix: when the format starts with "table", the rest is
 * the row template, and a header line is printed first: each {{.Field}}
 * action replaced by the header for that field from a caller-given map
 * (e.g. "Repository" -> "REPOSITORY"; unknown fields upper-cased), and
 * columns are aligned as Go's tabwriter does (minwidth 10... Docker uses
 * tabwriter.NewWriter(out, 10, 1, 3, ' ', 0): minwidth 10, tabwidth 1,
 * padding 3, padchar ' '): cells are separated by '\t' in the template;
 * each column is as wide as its widest cell plus 3, at least 10; the last
 * cell of a line is not padded. A bare "table" means the command's default
 * table format (the caller passes it). Literal "\t" and "\n" in a format
 * given on the command line are already real escapes in Docker's parsing?
 * No: Docker's templates see the two characters backslash-t only inside Go
 * string literals; Docker's formatter replaces the two-character sequences
 * `\t` and `\n` in the whole format string by tab and newline before
 * parsing (cli/command/formatter). Do the same.
 *
 * Errors are parse or execution errors, with Go's style of message:
 * "template: :1:5: executing \"\" at <.Foo>: ...". Exact text need not
 * match Go's; it must name the position and the cause.
 *
 * Calling order: template_parse (once) -> template_execute (per row, appends
 * to a strbuf) -> template_free. For tables, use struct table_writer to
 * collect rows and flush them aligned.
 */
#ifndef BERTH_COMMON_TEMPLATE_H
#define BERTH_COMMON_TEMPLATE_H

#include <jansson.h>
#include <stdbool.h>

#include "basic/error.h"
#include "basic/strbuf.h"

struct template;

/* header_map: object field name -> column header (e.g. {"ID":"IMAGE ID"}),
 * may be NULL. Parses format (after the \t/\n replacement and the "table"
 * prefix split). *ret_is_table tells whether it was a table format. */
int template_parse(const char *format, json_t *header_map, struct template **ret,
                   struct berth_error **err);
bool template_is_table(const struct template *t);
/* Execute against dot, appending to out. For a table template, this
 * executes the row template only (no header). */
int template_execute(const struct template *t, json_t *dot, struct strbuf *out,
                     struct berth_error **err);
/* For a table template: the header line (the row template with each field
 * action replaced by its header), without the trailing newline. */
int template_header(const struct template *t, struct strbuf *out, struct berth_error **err);
void template_free(struct template *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct template *, template_free)

/* Go's tabwriter with Docker's settings (minwidth 10, tabwidth 1, padding
 * 3, ' '): add text (containing '\t' cell separators and '\n' line ends),
 * then flush into out. Cells of a column that is present in consecutive
 * lines are aligned (Go's column blocks); a simple implementation that
 * aligns all lines given before flush as one block is what Docker's output
 * looks like for its tables. */
struct table_writer;
struct table_writer *table_writer_new(void);
void table_writer_add(struct table_writer *w, const char *text);
void table_writer_flush(struct table_writer *w, struct strbuf *out);
void table_writer_free(struct table_writer *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct table_writer *, table_writer_free)

/* The whole common case for a front end: format (NULL or "" or "table" means
 * default_table; "json" means "{{json .}}", as Docker 23+ reads it), rows an
 * array of objects; writes header (for tables) and rows, each followed by
 * '\n', into out. */
int template_render_rows(const char *format, const char *default_table, json_t *header_map,
                         json_t *rows, struct strbuf *out, struct berth_error **err);

#endif
