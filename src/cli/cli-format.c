/* cli-format.c - --format output for the CLI (see cli.h), kept apart from
 * cli.c so that the template engine links only with the commands. */
#include <stdio.h>

#include "basic/strbuf.h"
#include "cli/cli.h"
#include "libberth/common/template.h"

int cli_print_rows(const char *format, const char *default_table, json_t *header_map, json_t *rows)
{
    struct strbuf out = STRBUF_INIT;
    _cleanup_error_ struct berth_error *err = NULL;
    int r = template_render_rows(format, default_table, header_map, rows, &out, &err);
    if (r < 0) {
        strbuf_release(&out);
        fprintf(stderr, "%s\n", err && err->msg ? err->msg : "template error");
        return 1;
    }
    fwrite(strbuf_str(&out), 1, out.len, stdout);
    strbuf_release(&out);
    return 0;
}
