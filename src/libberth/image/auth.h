/* auth.h - registry credentials in Docker's config.json format.
 *
 * berth writes its own file, <config dir>/config.json where the config dir
 * is $BERTH_CONFIG, else $HOME/.config/berth: {"auths": {"<server>":
 * {"auth": base64("user:secret")}}} as Docker writes it, mode 0600 (created
 * 0600, atomic replace; the directory 0700). Lookups read berth's file
 * first, then Docker's ($DOCKER_CONFIG/config.json, else
 * $HOME/.docker/config.json), so a `docker login` carries over. Docker's
 * server key for docker.io is "https://index.docker.io/v1/"; other
 * registries are keyed by "host[:port]" (a key written as a URL,
 * "https://host/", also matches). credsStore/credHelpers are not supported:
 * they are ignored (docs/compatibility.md). Other members of the file
 * (Docker's "HttpHeaders", "psFormat", ...) are kept when rewriting.
 * Secrets never go into logs or error messages.
 */
#ifndef BERTH_IMAGE_AUTH_H
#define BERTH_IMAGE_AUTH_H

#include "basic/error.h"

/* 0 and the pair when known; -ENOENT when no credentials for domain. */
int auth_get(const char *domain, char **ret_user, char **ret_secret, struct berth_error **err);
/* Store (replace) credentials for domain in berth's file. */
int auth_set(const char *domain, const char *user, const char *secret, struct berth_error **err);
/* Remove from berth's file; -ENOENT "not logged in to <domain>" if absent there. */
int auth_remove(const char *domain, struct berth_error **err);
/* Path of berth's file (malloc'd). */
char *auth_file_path(void);
/* The header line "Authorization: Basic base64(user:secret)" (RFC 7617),
 * for the registry client; free it with auth_secret_free. */
char *auth_basic_header(const char *user, const char *secret);
/* Zero a string holding a secret, then free it; NULL is fine. */
void auth_secret_free(char *s);

#endif
