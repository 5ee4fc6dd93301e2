/* account.c - users and groups inside a container's rootfs (see account.h). */
#include "account.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/chase.h"
#include "basic/fileio.h"
#include "basic/strv.h"

#define ACCOUNT_FILE_MAX (4u << 20)
#define GIDS_MAX 256

static bool all_digits(const char *s)
{
    if (!*s) {
        return false;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return false;
        }
    }
    return true;
}

/* The entries of an /etc/passwd- or /etc/group-shaped file, split into
 * fields (at least 3); NULL when the file is missing. */
static char ***read_account_file(int rootfd, const char *file)
{
    _cleanup_close_ int fd = chase_open(rootfd, file, O_RDONLY, 0);
    if (fd < 0) {
        return NULL;
    }
    _cleanup_free_ char *buf = NULL;
    size_t len;
    if (read_fd_full(fd, ACCOUNT_FILE_MAX, &buf, &len, NULL) < 0) {
        return NULL;
    }
    _cleanup_strv_free_ char **lines = strv_split(buf, "\n");
    size_t n = strv_length(lines), k = 0;
    char ***v = xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        char **f = strv_split(lines[i], ":");
        if (strv_length(f) >= 3) {
            v[k++] = f;
        } else {
            strv_free(f);
        }
    }
    return v;
}

static void account_file_free(char ***v)
{
    for (size_t i = 0; v && v[i]; i++) {
        strv_free(v[i]);
    }
    free(v);
}

static char **find_entry(char ***v, const char *key, size_t field)
{
    for (size_t i = 0; v && v[i]; i++) {
        if (streq(v[i][field], key)) {
            return v[i];
        }
    }
    return NULL;
}

void container_user_release(struct container_user *u)
{
    free(u->gids);
    *u = (struct container_user){0};
}

static int group_id(char ***gr, const char *g, gid_t *ret, struct berth_error **err)
{
    if (all_digits(g)) {
        *ret = (gid_t)strtoul(g, NULL, 10);
        return 0;
    }
    char **ge = find_entry(gr, g, 0);
    if (!ge) {
        return berth_error_set(err, ENOENT,
                               "unable to find group %s: no matching entries in group file", g);
    }
    *ret = (gid_t)strtoul(ge[2], NULL, 10);
    return 0;
}

int container_user_resolve(int rootfd, const char *user, json_t *group_add,
                           struct container_user *ret, struct berth_error **err)
{
    _cleanup_free_ char *u = xstrdup(user && *user ? user : "0");
    char *g = strchr(u, ':');
    if (g) {
        *g++ = '\0';
    }
    char ***pw = read_account_file(rootfd, "/etc/passwd");
    char ***gr = read_account_file(rootfd, "/etc/group");
    struct container_user cu = {.gids = xcalloc(GIDS_MAX, sizeof(gid_t))};
    int r = 0;
    char **ent = find_entry(pw, u, all_digits(u) ? 2 : 0);
    if (all_digits(u)) {
        cu.uid = (uid_t)strtoul(u, NULL, 10);
    } else if (ent) {
        cu.uid = (uid_t)strtoul(ent[2], NULL, 10);
    } else {
        r = berth_error_set(err, ENOENT,
                            "unable to find user %s: no matching entries in passwd file", u);
        goto out;
    }
    if (ent && strv_length(ent) >= 4) {
        cu.gid = (gid_t)strtoul(ent[3], NULL, 10);
    }
    if (g && *g && (r = group_id(gr, g, &cu.gid, err)) < 0) {
        goto out;
    }
    const char *name = ent ? ent[0] : NULL;
    for (size_t i = 0; name && !(g && *g) && gr && gr[i] && cu.n_gids < GIDS_MAX; i++) {
        if (strv_length(gr[i]) < 4) {
            continue;
        }
        _cleanup_strv_free_ char **members = strv_split(gr[i][3], ",");
        if (strv_contains(members, name)) {
            cu.gids[cu.n_gids++] = (gid_t)strtoul(gr[i][2], NULL, 10);
        }
    }
    for (size_t i = 0; i < json_array_size(group_add) && cu.n_gids < GIDS_MAX; i++) {
        const char *v = json_string_value(json_array_get(group_add, i));
        if (v && (r = group_id(gr, v, &cu.gids[cu.n_gids], err)) < 0) {
            goto out;
        }
        cu.n_gids += v != NULL;
    }
out:
    account_file_free(pw);
    account_file_free(gr);
    if (r < 0) {
        container_user_release(&cu);
        return r;
    }
    *ret = cu;
    return 0;
}
