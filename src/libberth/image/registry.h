/* registry.h - a client for the registry HTTP API (OCI distribution spec,
 * ../shared/reference/oci/distribution-spec/, and Docker's registry v2).
 *
 * One struct registry per registry domain ("docker.io", "localhost:5000",
 * "quay.io"); it may be used from several threads at once (pulls fetch a few
 * layers in parallel): tokens and connections are shared under a lock.
 * libcurl is dlopen()ed ("libcurl.so.4") on first use, like libarchive in
 * layer.c: linked, it would load ~30 libraries at every start of berth.
 *
 * Transport. "docker.io" talks to registry-1.docker.io (or, for pulls, to
 * the configured mirrors first, falling back to the registry). HTTPS with the
 * system CAs plus Docker's per-registry directory layout:
 * <certs_dir>/<host[:port]>/ *.crt (extra CAs), *.cert + *.key (client
 * certificate); certs_dir defaults to /etc/docker/certs.d, then
 * /etc/containers/certs.d is also read. Plain HTTP only for insecure
 * registries: loopback (localhost, 127.0.0.0/8, ::1) always is, as in Docker,
 * plus those in options.insecure; an insecure registry is tried with HTTPS
 * first (certificate not verified), then HTTP, as Docker does. Proxies come
 * from the environment (libcurl honours http_proxy/https_proxy/no_proxy).
 *
 * Auth. Each request first goes out with what is known for the domain; a
 * 401 with `WWW-Authenticate: Basic` is retried with the credentials from
 * auth.h (or options.username/password); with `Bearer realm=..,service=..,
 * scope=..` a token is fetched from the realm (GET with service and scope,
 * Basic credentials if any, anonymous otherwise, as Docker Hub issues
 * anonymous pull tokens), cached per scope with its expires_in, and refreshed
 * when it expires or a request answers 401 again. Both "token" and
 * "access_token" fields are accepted. Credentials and tokens never appear in
 * logs or error messages.
 *
 * Test and benchmark knobs (environment, read by registry_new):
 * BERTH_REGISTRY_TIMEOUT=N seconds stands in for the connect and low-speed
 * timeouts left 0 in the options; BERTH_REGISTRY_SECURE_LOOPBACK=1 treats
 * loopback registries like any other (verified HTTPS only), so tests on
 * 127.0.0.1 can show what certificate verification does.
 *
 * Robustness. Connect timeout, a low-speed timeout (a registry that hangs:
 * ETIMEDOUT "... timed out"), retries with exponential backoff (3 by default)
 * for connection failures, 429 (Retry-After honoured up to a cap) and 5xx;
 * a blob download that drops is resumed with `Range: bytes=N-` from the
 * bytes already delivered (if the server answers 200 instead of 206, the
 * first N bytes are skipped, not delivered twice). Every response body is
 * capped (manifests at MANIFEST_MAX, error bodies small).
 *
 * Errors name the cause in Docker's words where Docker has them; errno:
 * 401 -> EACCES ("unauthorized: authentication required"), 403 -> EPERM
 * ("denied: ..."), 404 -> ENOENT ("manifest unknown", "blob unknown"),
 * 429 -> EAGAIN ("toomanyrequests: ..."), 5xx -> EIO ("received unexpected
 * HTTP status: 503 Service Unavailable"), timeouts ETIMEDOUT, TLS failures
 * EPROTO with the curl reason ("x509: certificate signed by unknown
 * authority"-like clarity), connection refused ECONNREFUSED. The registry's
 * own error JSON ({"errors":[{"code":..,"message":..}]}) is used for the
 * message when present: "<code lowercase>: <message>" as Docker prints.
 * Callers add "pull 'busybox': " and the like.
 */
#ifndef BERTH_IMAGE_REGISTRY_H
#define BERTH_IMAGE_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "basic/error.h"

struct registry_options {
    const char *certs_dir; /* NULL: /etc/docker/certs.d and /etc/containers/certs.d */
    char **insecure;       /* extra "host[:port]" plain-HTTP/unverified registries */
    char **mirrors;        /* URLs tried first for docker.io pulls ("https://m.example") */
    const char *username;  /* explicit credentials (login), else auth.h lookup */
    const char *password;
    long connect_timeout_ms;  /* 0: 30000 */
    long low_speed_timeout_s; /* no byte for this long: ETIMEDOUT; 0: 30 */
    unsigned max_retries;     /* 0: 3 */
};

struct registry;

int registry_new(const char *domain, const struct registry_options *opts, struct registry **ret,
                 struct berth_error **err);
void registry_free(struct registry *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct registry *, registry_free)

/* GET /v2/ with credentials: for `login`. 0 when the credentials (or
 * anonymous access) are accepted; -EACCES "unauthorized: incorrect username
 * or password" when not. */
int registry_ping(struct registry *r, struct berth_error **err);

/* GET a manifest or index by tag or digest. accept: NULL for every manifest
 * type berth parses. Returns the body (capped at MANIFEST_MAX), the
 * Content-Type and the digest (sha256 of the body; when reference is a
 * digest the body must hash to it, else -EBADMSG "manifest digest mismatch";
 * Docker-Content-Digest, when sent, must agree with the body). */
int registry_get_manifest(struct registry *r, const char *repo, const char *reference,
                          char **ret_body, size_t *ret_len, char **ret_content_type,
                          char **ret_digest, struct berth_error **err);

/* Stream a blob: cb gets every chunk in order from offset on. cb returns
 * < 0 (with err set) to abort. expected_size (or -1) bounds the total:
 * more bytes is an error. Drops are resumed with Range (see above). The
 * digest is not checked here (the caller hashes what it stores). */
typedef int (*registry_data_cb)(const void *data, size_t len, void *userdata,
                                struct berth_error **err);
int registry_get_blob(struct registry *r, const char *repo, const char *digest,
                      int64_t expected_size, uint64_t offset, registry_data_cb cb, void *userdata,
                      struct berth_error **err);

/* Push. 1 = present (size in *ret_size if not NULL), 0 = absent. */
int registry_blob_exists(struct registry *r, const char *repo, const char *digest,
                         int64_t *ret_size, struct berth_error **err);
/* Cross-repository mount (POST ...?mount=&from=): 1 = mounted, 0 = the
 * registry started an upload instead (it is cancelled; caller uploads). */
int registry_blob_mount(struct registry *r, const char *repo, const char *digest,
                        const char *from_repo, struct berth_error **err);
/* Upload size bytes read from fd (from its current position): one PUT when
 * size <= chunk_size (0: 8 MiB... monolithic), else POST + PATCH chunks of
 * chunk_size + PUT ?digest=. progress (may be NULL) is called with bytes
 * sent so far. */
typedef void (*registry_progress_cb)(uint64_t done, void *userdata);
int registry_blob_upload(struct registry *r, const char *repo, const char *digest, int fd,
                         uint64_t size, uint64_t chunk_size, registry_progress_cb progress,
                         void *userdata, struct berth_error **err);
/* PUT a manifest under a tag or digest; *ret_digest (may be NULL) is its digest. */
int registry_put_manifest(struct registry *r, const char *repo, const char *reference,
                          const char *media_type, const char *body, size_t len, char **ret_digest,
                          struct berth_error **err);

/* Whether a domain is insecure by default (loopback names/addresses). */
int registry_is_loopback(const char *domain);

#endif
