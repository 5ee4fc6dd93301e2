/* account.c - users and groups inside a container's rootfs (see account.h). */
#include "account.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/alloc.h"
#include "basic/chase.h"
#include "basic/fileio.h"
#include "basic/strv.h"

#define ACCOUNT_FILE_MAX (4u << 20)
#define GIDS_MAX 256

/* Docker's rule: "uids and gids must be in range 0-2147483647". A value
 * outside it (4294967296 wraps to 0 in a uid_t: root) or not a number at
 * all is refused, never truncated. */
#define ID_MAX 2147483647UL

static int parse_id(const char *s, unsigned long *ret)
{
    if (!*s) {
        return -EINVAL;
    }
    unsigned long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') {
            return -EINVAL;
        }
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > ID_MAX) {
            return -ERANGE;
        }
    }
    *ret = v;
    return 0;
}

static int id_field(const char *s, const char *what, unsigned long *ret, struct berth_error **err)
{
    if (parse_id(s, ret) < 0) {
        return berth_error_set(err, EINVAL, "%s '%s': uids and gids must be in range 0-%lu", what,
                               s, ID_MAX);
    }
    return 0;
}

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
    /* The container owns these files: a device node or a FIFO there must
     * not make berth (host root) open a host device or block forever. Look
     * first (O_PATH), then open only a regular file, non-blocking. */
    _cleanup_close_ int pfd = chase_open(rootfd, file, O_PATH, 0);
    struct stat st;
    if (pfd < 0 || fstat(pfd, &st) < 0 || !S_ISREG(st.st_mode)) {
        return NULL;
    }
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
    _cleanup_close_ int fd = open(proc, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
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
    unsigned long v = 0;
    if (all_digits(g)) {
        int r = id_field(g, "group", &v, err);
        if (r < 0) {
            return r;
        }
        *ret = (gid_t)v;
        return 0;
    }
    char **ge = find_entry(gr, g, 0);
    if (!ge) {
        return berth_error_set(err, ENOENT,
                               "unable to find group %s: no matching entries in group file", g);
    }
    int r = id_field(ge[2], "/etc/group gid", &v, err);
    if (r < 0) {
        return r;
    }
    *ret = (gid_t)v;
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
    unsigned long v = 0;
    if (all_digits(u)) {
        if ((r = id_field(u, "user", &v, err)) < 0) {
            goto out;
        }
        cu.uid = (uid_t)v;
    } else if (ent) {
        if ((r = id_field(ent[2], "/etc/passwd uid", &v, err)) < 0) {
            goto out;
        }
        cu.uid = (uid_t)v;
    } else {
        r = berth_error_set(err, ENOENT,
                            "unable to find user %s: no matching entries in passwd file", u);
        goto out;
    }
    if (ent && strv_length(ent) >= 4) {
        if ((r = id_field(ent[3], "/etc/passwd gid", &v, err)) < 0) {
            goto out;
        }
        cu.gid = (gid_t)v;
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
        if (strv_contains(members, name) && parse_id(gr[i][2], &v) == 0) {
            cu.gids[cu.n_gids++] = (gid_t)v;
        }
    }
    for (size_t i = 0; i < json_array_size(group_add) && cu.n_gids < GIDS_MAX; i++) {
        const char *name_or_id = json_string_value(json_array_get(group_add, i));
        if (name_or_id && (r = group_id(gr, name_or_id, &cu.gids[cu.n_gids], err)) < 0) {
            goto out;
        }
        cu.n_gids += name_or_id != NULL;
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
