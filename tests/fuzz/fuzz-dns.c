/* Fuzz target: DNS queries as the embedded resolver receives them from
 * containers. Parsed, resolved against fixed records and answered with the
 * UDP and TCP size limits, as the server would. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "libberth/net/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char records_text[] =
    "{\"containers\": [{\"id\": \"aaaaaaaaaaaa11\", \"name\": \"web\", \"netns\": \"/run/netns/a\","
    " \"networks\": [{\"id\": \"n1\", \"ipv4\": \"10.0.0.2\", \"ipv6\": \"fd00::2\","
    " \"aliases\": [\"db\"]}]}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct dns_records *rec;
    if (!rec) {
        json_t *doc = json_loads(records_text, 0, NULL);
        if (!doc || dns_records_from_json(doc, &rec, NULL) < 0) {
            abort();
        }
        json_decref(doc);
    }
    struct dns_query q;
    int r = dns_parse_query(data, size, &q);
    if (r == -EBADMSG) {
        return 0;
    }
    struct dns_addr a[DNS_MAX_ADDRS];
    size_t n = 0;
    if (r == 0) {
        dns_resolve(rec, "aaaaaaaaaaaa11", q.name, q.qtype, a, &n);
    }
    static uint8_t out[65535];
    size_t limits[] = {DNS_UDP_PLAIN, q.edns ? q.edns_size : DNS_UDP_PLAIN, sizeof(out)};
    for (size_t i = 0; i < 3; i++) {
        int len = dns_build_answer(&q, data, 0, a, n, limits[i], out, sizeof(out));
        if (len > (int)limits[i] || (len >= 0 && (size_t)len < q.question_end)) {
            abort();
        }
    }
    return 0;
}
