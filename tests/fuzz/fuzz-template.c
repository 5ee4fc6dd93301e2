/* Fuzz target: --format templates. The input is parsed as a template and,
 * when it parses, executed (row and table header) against a fixed document
 * and its output run through the table writer, as `berth images --format`
 * would. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "basic/strbuf.h"
#include "libberth/common/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char doc_text[] =
    "{\"Repository\":\"busybox\",\"Tag\":\"latest\",\"ID\":\"sha256:0123456789abcdef\","
    "\"Size\":4261550,\"Ratio\":0.5,\"Big\":1e300,\"Neg\":-9223372036854775808,"
    "\"State\":\"running\",\"Labels\":{\"a.b\":\"x\",\"c\":\"\\u00e9\"},"
    "\"Config\":{\"Env\":[\"A=1\",\"B=2\"],\"Cmd\":null},"
    "\"Mounts\":[{\"Destination\":\"/data\"},{\"Destination\":\"/x\"}],"
    "\"List\":[1,2.5,\"s\",true,null,[],{}],\"Empty\":[],\"Null\":null,\"T\":true}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *doc, *headers;
    if (!doc) {
        doc = json_loads(doc_text, 0, NULL);
        headers = json_pack("{s:s,s:s}", "Repository", "REPOSITORY", "ID", "IMAGE ID");
        if (!doc || !headers) {
            abort();
        }
    }
    /* The API takes a C string: the fuzzer's bytes up to the first NUL. */
    char *format = malloc(size + 1);
    if (!format) {
        return 0;
    }
    memcpy(format, data, size);
    format[size] = '\0';

    struct berth_error *e = NULL;
    struct template *t = NULL;
    if (template_parse(format, headers, &t, &e) < 0) {
        berth_error_free(e);
        free(format);
        return 0;
    }
    struct strbuf out = STRBUF_INIT;
    struct table_writer *w = table_writer_new();
    if (template_is_table(t)) {
        if (template_header(t, &out, &e) < 0) {
            berth_error_free(e);
            e = NULL;
        }
        strbuf_addc(&out, '\n');
    }
    if (template_execute(t, doc, &out, &e) < 0) {
        berth_error_free(e);
        e = NULL;
    }
    table_writer_add(w, strbuf_str(&out));
    strbuf_reset(&out);
    table_writer_flush(w, &out);
    table_writer_free(w);
    strbuf_release(&out);
    template_free(t);
    free(format);
    return 0;
}
