/* volumes.c - the local volume driver (see volumes.h).
 *
 * Order of changes, so a crash or a failure never leaves a row without its
 * directory or a directory without its row: create makes the directory
 * first and inserts the row last (a failed insert removes the directory);
 * remove deletes the row first (one transaction that also checks the refs)
 * and the directory after it. A directory left behind by a crash between
 * those two steps has no row, and the next create of that name (under the
 * same lock) removes it before making its own.
 *
 * The lock of a volume is an flock on <root>/volumes/<name>.lock. Remove
 * unlinks the file while holding it, so a locker checks, once it holds the
 * lock, that the file it locked is still the one at that name (else it
 * locked a dead inode and tries again).
 */
#include "volumes.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/hexid.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "libberth/common/json-util.h"
#include "libberth/image/layer.h"
#include "libberth/image/tree-tar.h"

#define OPTIONS_MAX (64 * 1024)
#define WALK_MAX_DEPTH 1024

/* Add context to the error of a failure r and return r (berth_error_prefix
 * alone returns -EIO when the caller passed no error). */
#define PREFIXED(r, err, ...)                                                                      \
    ({                                                                                             \
        (void)berth_error_prefix(err, __VA_ARGS__);                                                \
        (r);                                                                                       \
    })

void volume_free(struct volume *v)
{
    if (!v) {
        return;
    }
    free(v->name);
    free(v->driver);
    free(v->created);
    free(v->mountpoint);
    json_decref(v->labels);
    json_decref(v->options);
    free(v);
}

void volume_list_free(struct volume **l, size_t n)
{
    for (size_t i = 0; l && i < n; i++) {
        volume_free(l[i]);
    }
    free(l);
}

void volume_mount_spec_release(struct volume_mount_spec *m)
{
    free(m->type);
    free(m->device);
    free(m->data);
    *m = (struct volume_mount_spec){0};
}

/* ---- names, options, labels ---------------------------------------------- */

static bool name_char(char c, bool first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return !first && (c == '_' || c == '.' || c == '-');
}

int volume_name_check(const char *name, struct berth_error **err)
{
    /* Docker's regexp [a-zA-Z0-9][a-zA-Z0-9_.-]+ : at least two characters,
     * so no name is ".", ".." or contains '/'. */
    bool ok = name && strlen(name) >= 2;
    for (size_t i = 0; ok && name[i]; i++) {
        ok = name_char(name[i], i == 0);
    }
    if (!ok) {
        return berth_error_set(err, EINVAL,
                               "\"%s\" includes invalid characters for a local volume name, only "
                               "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to "
                               "pass a host directory, use absolute path",
                               name ? name : "");
    }
    if (strlen(name) > VOLUME_NAME_MAX) {
        return berth_error_set(err, ENAMETOOLONG, "volume name \"%.32s...\" is too long (max %d)",
                               name, VOLUME_NAME_MAX);
    }
    return 0;
}

struct mount_word {
    const char *word;
    bool clear; /* the word clears the flag ("rw", "suid", ...) */
    unsigned long flag;
};

/* The words of mount(8) that are flags, as Docker's mount.ParseOptions. */
static const struct mount_word flag_words[] = {
    {"defaults", false, 0},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"suid", true, MS_NOSUID},
    {"nosuid", false, MS_NOSUID},
    {"dev", true, MS_NODEV},
    {"nodev", false, MS_NODEV},
    {"exec", true, MS_NOEXEC},
    {"noexec", false, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"bind", false, MS_BIND},
    {"rbind", false, MS_BIND | MS_REC},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
};

static const struct mount_word propagation_words[] = {
    {"unbindable", false, MS_UNBINDABLE}, {"runbindable", false, MS_UNBINDABLE | MS_REC},
    {"private", false, MS_PRIVATE},       {"rprivate", false, MS_PRIVATE | MS_REC},
    {"shared", false, MS_SHARED},         {"rshared", false, MS_SHARED | MS_REC},
    {"slave", false, MS_SLAVE},           {"rslave", false, MS_SLAVE | MS_REC},
};

static void parse_o(const char *o, struct volume_mount_spec *m)
{
    _cleanup_strv_free_ char **words = strv_split(o, ",");
    _cleanup_strv_free_ char **data = NULL;
    STRV_FOREACH(w, words)
    {
        bool done = false;
        for (size_t i = 0; !done && i < ARRAY_SIZE(flag_words); i++) {
            if (streq(*w, flag_words[i].word)) {
                if (flag_words[i].clear) {
                    m->flags &= ~flag_words[i].flag;
                } else {
                    m->flags |= flag_words[i].flag;
                }
                done = true;
            }
        }
        for (size_t i = 0; !done && i < ARRAY_SIZE(propagation_words); i++) {
            if (streq(*w, propagation_words[i].word)) {
                m->propagation |= propagation_words[i].flag;
                done = true;
            }
        }
        if (!done && **w) {
            strv_push(&data, *w);
        }
    }
    m->data = data ? strv_join(data, ",") : NULL;
}

int volume_options_parse(json_t *options, struct volume_mount_spec *ret, struct berth_error **err)
{
    if (options && !json_is_object(options)) {
        return berth_error_set(err, EINVAL, "volume options: expected an object");
    }
    if (!options || json_object_size(options) == 0) {
        if (ret) {
            *ret = (struct volume_mount_spec){0};
        }
        return 0;
    }
    const char *key;
    json_t *val;
    json_object_foreach(options, key, val)
    {
        if (!streq(key, "type") && !streq(key, "o") && !streq(key, "device")) {
            return berth_error_set(err, EINVAL, "invalid option key: \"%s\"", key);
        }
        if (!json_is_string(val)) {
            return berth_error_set(err, EINVAL, "option \"%s\": expected a string", key);
        }
    }
    const char *type = json_string_value(json_object_get(options, "type"));
    const char *o = json_string_value(json_object_get(options, "o"));
    const char *device = json_string_value(json_object_get(options, "device"));
    /* Docker's mandatory companions: device needs type, type needs
     * device, o needs both. */
    if ((device || o) && !type) {
        return berth_error_set(err, EINVAL, "missing required option: \"type\"");
    }
    if ((type || o) && !device) {
        return berth_error_set(err, EINVAL, "missing required option: \"device\"");
    }
    _cleanup_(volume_mount_spec_release) struct volume_mount_spec m = {0};
    if (o) {
        parse_o(o, &m);
    }
    if (m.flags & MS_BIND) {
        /* A bind device is a host directory given by absolute path; a
         * relative one would be resolved against whatever the cwd of the
         * mounting process is. */
        struct stat st;
        if (device[0] != '/') {
            return berth_error_set(err, EINVAL, "bind device \"%s\": not an absolute path", device);
        }
        if (stat(device, &st) < 0) {
            return berth_error_sys(err, errno, "bind device \"%s\"", device);
        }
        if (!S_ISDIR(st.st_mode)) {
            return berth_error_set(err, ENOTDIR, "bind device \"%s\": not a directory", device);
        }
    }
    m.type = xstrdup(type);
    m.device = xstrdup(device);
    if (ret) {
        *ret = m;
        m = (struct volume_mount_spec){0};
    }
    return 1;
}

/* A term without its "label=" / "label!=" head: key and optional value. */
static bool term_split(const char *term, bool *neg, const char **kv)
{
    if (strneq(term, "label=", 6)) {
        *neg = false;
        *kv = term + 6;
    } else if (strneq(term, "label!=", 7)) {
        *neg = true;
        *kv = term + 7;
    } else {
        return false;
    }
    return **kv && **kv != '=';
}

int volume_label_terms_check(char *const *terms, struct berth_error **err)
{
    STRV_FOREACH(t, (char **)terms)
    {
        bool neg;
        const char *kv;
        if (!term_split(*t, &neg, &kv)) {
            return berth_error_set(err, EINVAL, "invalid filter '%s'", *t);
        }
    }
    return 0;
}

bool volume_labels_match(json_t *labels, char *const *terms)
{
    STRV_FOREACH(t, (char **)terms)
    {
        bool neg;
        const char *kv;
        if (!term_split(*t, &neg, &kv)) {
            return false;
        }
        const char *eq = strchr(kv, '=');
        _cleanup_free_ char *key = eq ? xstrndup(kv, (size_t)(eq - kv)) : xstrdup(kv);
        json_t *v = labels ? json_object_get(labels, key) : NULL;
        bool hit = v && (!eq || (json_is_string(v) && streq(json_string_value(v), eq + 1)));
        if (hit == neg) {
            return false;
        }
    }
    return true;
}

/* ---- paths and locks ------------------------------------------------------ */

static char *volumes_dir(struct store *s)
{
    return xasprintf("%s/volumes", s->root);
}

/* <root>/volumes, made on first use; root-only like Docker's (0701 there,
 * 0700 here: nothing outside berth needs to traverse it). */
static int volumes_dir_open(struct store *s, struct berth_error **err)
{
    _cleanup_free_ char *p = volumes_dir(s);
    if (mkdir(p, 0700) < 0 && errno != EEXIST) {
        return berth_error_sys(err, errno, "mkdir '%s'", p);
    }
    int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return berth_error_sys(err, errno, "open '%s'", p);
    }
    return fd;
}

/* The lock file of a volume: ".<name>.lock". The leading dot keeps it out
 * of the names a volume can have ([a-zA-Z0-9] first), so a volume called
 * "x.lock" is never the lock of volume "x" (which made every later lock of
 * "x" fail with EISDIR, and the create of "x.lock" swept x's lock file away
 * as a stale directory). */
static char *lock_name(const char *name)
{
    return xasprintf(".%s.lock", name);
}

/* Take the volume's lock: the fd, close it to release. */
static int volume_lock(int vdir, const char *name, struct berth_error **err)
{
    _cleanup_free_ char *lname = lock_name(name);
    for (;;) {
        _cleanup_close_ int fd =
            openat(vdir, lname, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            return berth_error_sys(err, errno, "open lock '%s'", lname);
        }
        if (RETRY_EINTR(flock(fd, LOCK_EX)) < 0) {
            return berth_error_sys(err, errno, "lock '%s'", lname);
        }
        struct stat a, b;
        if (fstat(fd, &a) < 0) {
            return berth_error_sys(err, errno, "stat lock '%s'", lname);
        }
        if (fstatat(vdir, lname, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino) {
            return TAKE_FD(fd);
        }
        /* removed (and maybe recreated) while we waited: lock the new one */
    }
}

int volume_lock_take(struct store *s, const char *name, struct berth_error **err)
{
    int r = volume_name_check(name, err);
    if (r < 0) {
        return r;
    }
    _cleanup_close_ int vdir = volumes_dir_open(s, err);
    if (vdir < 0) {
        return vdir;
    }
    return volume_lock(vdir, name, err);
}

static void lock_drop(int vdir, const char *name, int lockfd)
{
    _cleanup_free_ char *lname = lock_name(name);
    (void)unlinkat(vdir, lname, 0);
    safe_close(lockfd);
}

/* Whether name under dirfd is the root of a mount: its mount id differs
 * from its parent's. */
static int is_mount_point(int dirfd, const char *name)
{
    struct statx a, b;
    if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_MNT_ID, &a) < 0 ||
        statx(dirfd, ".", 0, STATX_BASIC_STATS | STATX_MNT_ID, &b) < 0) {
        return -errno;
    }
    if ((a.stx_mask & STATX_MNT_ID) && (b.stx_mask & STATX_MNT_ID)) {
        return a.stx_mnt_id != b.stx_mnt_id;
    }
    return a.stx_dev_major != b.stx_dev_major || a.stx_dev_minor != b.stx_dev_minor;
}

static void now_rfc3339(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- records -------------------------------------------------------------- */

static json_t *json_or_object(const char *text)
{
    json_t *j = NULL;
    if (text && json_parse_buf(text, strlen(text), OPTIONS_MAX, &j, NULL) >= 0 &&
        json_is_object(j)) {
        return j;
    }
    json_decref(j);
    return json_object();
}

#define VOLUME_COLUMNS "name, driver, created, labels, options, anonymous"

static struct volume *volume_from_row(struct store *s, struct db_stmt *st)
{
    struct volume *v = xcalloc(1, sizeof(*v));
    v->name = xstrdup(db_text(st, 0));
    v->driver = xstrdup(db_text(st, 1));
    v->created = xstrdup(db_text(st, 2));
    v->labels = json_or_object(db_text(st, 3));
    v->options = json_or_object(db_text(st, 4));
    v->anonymous = db_int(st, 5) != 0;
    v->mountpoint = xasprintf("%s/volumes/%s/_data", s->root, v->name);
    return v;
}

/* 1 and *ret when the row exists, 0 when not. */
static int volume_lookup(struct store *s, const char *name, struct volume **ret,
                         struct berth_error **err)
{
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    int r = db_query(s->db, &st, err, "SELECT " VOLUME_COLUMNS " FROM volumes WHERE name = ?", "s",
                     name);
    if (r < 0) {
        return r;
    }
    r = db_step(st, err);
    if (r <= 0) {
        return r;
    }
    if (ret) {
        *ret = volume_from_row(s, st);
    }
    return 1;
}

int volume_get(struct store *s, const char *name, struct volume **ret, struct berth_error **err)
{
    struct volume *v = NULL;
    int r = volume_lookup(s, name, &v, err);
    if (r < 0) {
        return r;
    }
    if (r == 0) {
        return berth_error_set(err, ENOENT, "No such volume: %s", name);
    }
    *ret = v;
    return 0;
}

int volume_list(struct store *s, struct volume ***ret, size_t *ret_n, struct berth_error **err)
{
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    int r = db_query(s->db, &st, err, "SELECT " VOLUME_COLUMNS " FROM volumes ORDER BY name", "");
    if (r < 0) {
        return r;
    }
    struct volume **l = NULL;
    size_t n = 0, cap = 0;
    while ((r = db_step(st, err)) > 0) {
        l = xgrow(l, sizeof(*l), n, &cap);
        l[n++] = volume_from_row(s, st);
    }
    if (r < 0) {
        volume_list_free(l, n);
        return r;
    }
    *ret = l;
    *ret_n = n;
    return 0;
}

int volume_users(struct store *s, const char *name, char ***ret, struct berth_error **err)
{
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    int r = db_query(s->db, &st, err,
                     "SELECT container_id FROM volume_refs WHERE volume = ? ORDER BY container_id",
                     "s", name);
    if (r < 0) {
        return r;
    }
    _cleanup_strv_free_ char **ids = xcalloc(1, sizeof(char *));
    while ((r = db_step(st, err)) > 0) {
        strv_push(&ids, db_text(st, 0));
    }
    if (r < 0) {
        return r;
    }
    *ret = TAKE_PTR(ids);
    return 0;
}

int volume_ref(struct store *s, const char *name, const char *container_id,
               struct berth_error **err)
{
    /* One statement, so it can run inside the caller's container
     * transaction. The foreign key on volume_refs.volume makes a ref to a
     * volume removed meanwhile fail; remove checks refs and deletes the row
     * in one transaction, so the two never interleave. */
    int r = volume_lookup(s, name, NULL, err);
    if (r < 0) {
        return r;
    }
    if (r == 0) {
        return berth_error_set(err, ENOENT, "No such volume: %s", name);
    }
    r = db_run(s->db, err, "INSERT OR IGNORE INTO volume_refs(volume, container_id) VALUES(?, ?)",
               "ss", name, container_id);
    return r < 0 ? PREFIXED(r, err, "volume '%s'", name) : 0;
}

/* ---- create ---------------------------------------------------------------- */

/* The directories of a new volume: <name>/ 0700 and <name>/_data 0755. A
 * directory there without a row is a crash's leftover: removed first. */
static int make_dirs(int vdir, const char *name, struct berth_error **err)
{
    struct stat st;
    if (fstatat(vdir, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        _cleanup_free_ char *data = xasprintf("%s/_data", name);
        if (is_mount_point(vdir, data) > 0) {
            /* never rm -rf through a mount (a bind device is a host dir) */
            _cleanup_close_ int dfd = openat(vdir, data, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            char p[64];
            snprintf(p, sizeof(p), "/proc/self/fd/%d", dfd);
            if (dfd < 0 || umount2(p, MNT_DETACH) < 0) {
                return berth_error_sys(err, errno, "unmount stale '%s'", data);
            }
        }
        int r = rm_rf_at(vdir, name, err);
        if (r < 0) {
            return PREFIXED(r, err, "remove stale volume directory");
        }
    }
    if (mkdirat(vdir, name, 0700) < 0) {
        return berth_error_sys(err, errno, "mkdir '%s'", name);
    }
    _cleanup_close_ int nfd = openat(vdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (nfd < 0) {
        return berth_error_sys(err, errno, "open '%s'", name);
    }
    /* explicit modes: the umask must not decide who can read a volume */
    if (fchmod(nfd, 0700) < 0 || mkdirat(nfd, "_data", 0755) < 0 ||
        fchmodat(nfd, "_data", 0755, 0) < 0) {
        return berth_error_sys(err, errno, "make '%s/_data'", name);
    }
    return 0;
}

int volume_create(struct store *s, const struct volume_create_opts *o, struct volume **ret,
                  bool *ret_created, struct berth_error **err)
{
    _cleanup_free_ char *gen = NULL;
    const char *name = o->name;
    int r;
    if (!name || !*name) {
        gen = xmalloc(65);
        r = random_hex(gen, 32, err);
        if (r < 0) {
            return r;
        }
        name = gen;
    }
    /* Docker's volume service marks every nameless create anonymous */
    bool anonymous = o->anonymous || gen;
    r = volume_name_check(name, err);
    if (r < 0) {
        return PREFIXED(r, err, "create %s", name);
    }
    if (o->driver && *o->driver && !streq(o->driver, "local")) {
        return berth_error_set(err, ENOTSUP, "create %s: plugin \"%s\" not found", name, o->driver);
    }
    if (o->labels && !json_is_object(o->labels)) {
        return berth_error_set(err, EINVAL, "create %s: labels: expected an object", name);
    }
    json_t *val;
    const char *key;
    json_object_foreach(o->labels, key, val)
    {
        if (!json_is_string(val)) {
            return berth_error_set(err, EINVAL, "create %s: label '%s': expected a string", name,
                                   key);
        }
    }
    r = volume_options_parse(o->options, NULL, err);
    if (r < 0) {
        return PREFIXED(r, err, "create %s", name);
    }

    _cleanup_close_ int vdir = volumes_dir_open(s, err);
    if (vdir < 0) {
        return vdir;
    }
    _cleanup_close_ int lock = volume_lock(vdir, name, err);
    if (lock < 0) {
        return lock;
    }
    struct volume *v = NULL;
    r = volume_lookup(s, name, &v, err);
    if (r < 0) {
        return r;
    }
    if (r > 0) {
        /* Docker's create is idempotent: the existing volume, as it is */
        if (!streq(v->driver, "local")) {
            r = berth_error_set(err, EEXIST,
                                "create %s: volume name is already used with driver %s", name,
                                v->driver);
            volume_free(v);
            return r;
        }
        if (ret) {
            *ret = v;
        } else {
            volume_free(v);
        }
        if (ret_created) {
            *ret_created = false;
        }
        return 0;
    }

    _cleanup_json_ json_t *labels = o->labels ? json_deep_copy(o->labels) : json_object();
    if (anonymous) {
        json_object_set_new(labels, VOLUME_ANONYMOUS_LABEL, json_string(""));
    }
    _cleanup_json_ json_t *options = o->options ? json_deep_copy(o->options) : json_object();
    _cleanup_free_ char *labels_s = json_dump_compact(labels);
    _cleanup_free_ char *options_s = json_dump_compact(options);
    char created[32];
    now_rfc3339(created);

    r = make_dirs(vdir, name, err);
    if (r < 0) {
        goto rollback;
    }
    r = db_begin(s->db, err);
    if (r >= 0) {
        r = db_run(s->db, err,
                   "INSERT INTO volumes(name, driver, created, labels, options, anonymous)"
                   " VALUES(?, 'local', ?, ?, ?, ?)",
                   "ssssb", name, created, labels_s, options_s, anonymous);
    }
    if (r >= 0) {
        r = db_commit(s->db, err);
    }
    if (r < 0) {
        db_rollback(s->db);
        goto rollback;
    }
    if (ret) {
        r = volume_get(s, name, ret, err);
        if (r < 0) {
            return r;
        }
    }
    if (ret_created) {
        *ret_created = true;
    }
    log_debug("volume: created '%s'", name);
    return 0;

rollback:
    (void)rm_rf_at(vdir, name, NULL);
    return PREFIXED(r, err, "create %s", name);
}

/* ---- mounts ------------------------------------------------------------------ */

/* Mount the volume's filesystem on _data when its options ask for one and
 * it is not mounted yet; the caller holds the volume's lock. Docker's
 * order (moby/sys/mount): the mount without propagation flags, then the
 * propagation, then a read-only remount of a bind (the kernel ignores
 * MS_RDONLY on the first bind mount). */
static int ensure_mounted(const struct volume *v, int vdir, struct berth_error **err)
{
    _cleanup_(volume_mount_spec_release) struct volume_mount_spec m = {0};
    int r = volume_options_parse(v->options, &m, err);
    if (r <= 0) {
        return r < 0 ? PREFIXED(r, err, "volume '%s'", v->name) : 0;
    }
    _cleanup_free_ char *data = xasprintf("%s/_data", v->name);
    r = is_mount_point(vdir, data);
    if (r < 0) {
        return berth_error_sys(err, -r, "volume '%s': stat '_data'", v->name);
    }
    if (r > 0) {
        return 0;
    }
    /* mount onto the directory berth made, pinned by an fd */
    _cleanup_close_ int dfd = openat(vdir, data, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        return berth_error_sys(err, errno, "volume '%s': open '_data'", v->name);
    }
    char target[64];
    snprintf(target, sizeof(target), "/proc/self/fd/%d", dfd);
    unsigned long flags = m.flags;
    if (mount(m.device, target, m.type, flags, m.data) < 0) {
        return berth_error_sys(err, errno, "volume '%s': mount '%s' (type %s)", v->name, m.device,
                               m.type);
    }
    /* the new mount, not the directory under it */
    _cleanup_close_ int mfd = openat(vdir, data, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    char mtarget[64];
    snprintf(mtarget, sizeof(mtarget), "/proc/self/fd/%d", mfd);
    if (mfd < 0) {
        r = berth_error_sys(err, errno, "volume '%s': open mount", v->name);
        goto rollback;
    }
    if (m.propagation && mount("", mtarget, NULL, m.propagation, NULL) < 0) {
        r = berth_error_sys(err, errno, "volume '%s': set propagation", v->name);
        goto rollback;
    }
    if ((flags & (MS_BIND | MS_RDONLY)) == (MS_BIND | MS_RDONLY) &&
        mount("", mtarget, NULL, flags | MS_REMOUNT, NULL) < 0) {
        r = berth_error_sys(err, errno, "volume '%s': remount read-only", v->name);
        goto rollback;
    }
    log_debug("volume: mounted '%s' on '%s'", m.device, v->mountpoint);
    return 0;

rollback:
    (void)umount2(mtarget, MNT_DETACH);
    return r;
}

/* Unmount _data if it is a mount point; after it, _data is certainly a
 * plain directory (else an error), so removing it cannot reach a host
 * directory a bind volume was made of. */
static int ensure_unmounted(int vdir, const char *name, struct berth_error **err)
{
    _cleanup_free_ char *data = xasprintf("%s/_data", name);
    for (int i = 0; i < 16; i++) {
        int r = is_mount_point(vdir, data);
        if (r == -ENOENT) {
            return 0;
        }
        if (r < 0) {
            return berth_error_sys(err, -r, "stat '%s'", data);
        }
        if (r == 0) {
            return 0;
        }
        _cleanup_close_ int dfd = openat(vdir, data, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        char p[64];
        snprintf(p, sizeof(p), "/proc/self/fd/%d", dfd);
        if (dfd < 0 || umount2(p, MNT_DETACH) < 0) {
            return berth_error_sys(err, errno, "unmount '%s'", data);
        }
    }
    return berth_error_set(err, EBUSY, "unmount '%s': still mounted", data);
}

int volume_path(struct store *s, const char *name, char **ret, struct berth_error **err)
{
    _cleanup_(volume_freep) struct volume *v = NULL;
    int r = volume_get(s, name, &v, err);
    if (r < 0) {
        return r;
    }
    if (json_object_size(v->options) > 0) {
        _cleanup_close_ int vdir = volumes_dir_open(s, err);
        if (vdir < 0) {
            return vdir;
        }
        _cleanup_close_ int lock = volume_lock(vdir, name, err);
        if (lock < 0) {
            return lock;
        }
        r = ensure_mounted(v, vdir, err);
        if (r < 0) {
            return r;
        }
    }
    *ret = xstrdup(v->mountpoint);
    return 0;
}

/* ---- remove, prune, size --------------------------------------------------- */

static int in_use_error(const char *name, char **users, struct berth_error **err)
{
    _cleanup_free_ char *list = strv_join(users, ", ");
    return berth_error_set(err, EBUSY, "remove %s: volume is in use - [%s]", name, list);
}

/* Remove a volume whose lock is held (row first, then the directory). */
static int remove_locked(struct store *s, int vdir, const char *name, bool force,
                         struct berth_error **err)
{
    int r = db_begin(s->db, err);
    if (r < 0) {
        return r;
    }
    r = volume_lookup(s, name, NULL, err);
    if (r == 0) {
        db_rollback(s->db);
        return force ? 0 : berth_error_set(err, ENOENT, "get %s: no such volume", name);
    }
    _cleanup_strv_free_ char **users = NULL;
    if (r > 0) {
        r = volume_users(s, name, &users, err);
    }
    if (r >= 0 && users && users[0]) {
        r = in_use_error(name, users, err);
    }
    if (r >= 0) {
        r = db_run(s->db, err, "DELETE FROM volumes WHERE name = ?", "s", name);
    }
    if (r >= 0) {
        r = db_commit(s->db, err);
    }
    if (r < 0) {
        db_rollback(s->db);
        return r;
    }
    /* The row is gone: from here on a failure leaves a directory without a
     * row, which the next create of that name cleans up. */
    r = ensure_unmounted(vdir, name, err);
    if (r >= 0) {
        r = rm_rf_at(vdir, name, err);
    }
    if (r < 0) {
        return PREFIXED(r, err, "remove %s", name);
    }
    log_debug("volume: removed '%s'", name);
    return 0;
}

int volume_remove(struct store *s, const char *name, bool force, struct berth_error **err)
{
    _cleanup_close_ int vdir = volumes_dir_open(s, err);
    if (vdir < 0) {
        return vdir;
    }
    if (volume_name_check(name, NULL) < 0) {
        /* no such name can exist; and it must not become a lock path */
        return force ? 0 : berth_error_set(err, ENOENT, "get %s: no such volume", name);
    }
    int lock = volume_lock(vdir, name, err);
    if (lock < 0) {
        return lock;
    }
    int r = remove_locked(s, vdir, name, force, err);
    if (r >= 0) {
        lock_drop(vdir, name, lock);
    } else {
        safe_close(lock);
    }
    return r;
}

struct seen_inode {
    dev_t dev;
    ino_t ino;
};

struct size_walk {
    uint64_t bytes;
    struct seen_inode *seen;
    size_t n_seen, cap_seen;
};

static void size_dir(struct size_walk *w, int dfd, unsigned depth)
{
    if (depth > WALK_MAX_DEPTH) {
        return;
    }
    int dup = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
    if (!d) {
        safe_close(dup);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (streq(de->d_name, ".") || streq(de->d_name, "..")) {
            continue;
        }
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            continue;
        }
        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
            bool seen = false;
            for (size_t i = 0; i < w->n_seen && !seen; i++) {
                seen = w->seen[i].dev == st.st_dev && w->seen[i].ino == st.st_ino;
            }
            if (seen) {
                continue;
            }
            w->seen = xgrow(w->seen, sizeof(*w->seen), w->n_seen, &w->cap_seen);
            w->seen[w->n_seen++] = (struct seen_inode){st.st_dev, st.st_ino};
        }
        w->bytes += (uint64_t)st.st_blocks * 512;
        if (S_ISDIR(st.st_mode)) {
            int cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (cfd >= 0) {
                size_dir(w, cfd, depth + 1);
                close(cfd);
            }
        }
    }
    closedir(d);
}

int volume_size(struct store *s, const char *name, uint64_t *ret, struct berth_error **err)
{
    _cleanup_(volume_freep) struct volume *v = NULL;
    int r = volume_get(s, name, &v, err);
    if (r < 0) {
        return r;
    }
    _cleanup_close_ int fd = open(v->mountpoint, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return berth_error_sys(err, errno, "open '%s'", v->mountpoint);
    }
    struct size_walk w = {0};
    size_dir(&w, fd, 0);
    free(w.seen);
    *ret = w.bytes;
    return 0;
}

int volume_prune(struct store *s, const struct volume_prune_opts *o, char ***ret_removed,
                 uint64_t *ret_reclaimed, struct berth_error **err)
{
    int r = volume_label_terms_check(o->labels, err);
    if (r < 0) {
        return r;
    }
    struct volume **l = NULL;
    size_t n = 0;
    r = volume_list(s, &l, &n, err);
    if (r < 0) {
        return r;
    }
    _cleanup_strv_free_ char **removed = xcalloc(1, sizeof(char *));
    uint64_t reclaimed = 0;
    for (size_t i = 0; i < n && r >= 0; i++) {
        struct volume *v = l[i];
        if ((!o->all && !v->anonymous) || !volume_labels_match(v->labels, o->labels)) {
            continue;
        }
        _cleanup_strv_free_ char **users = NULL;
        r = volume_users(s, v->name, &users, err);
        if (r < 0 || (users && users[0])) {
            continue;
        }
        uint64_t size = 0;
        (void)volume_size(s, v->name, &size, NULL);
        _cleanup_(berth_error_freep) struct berth_error *e = NULL;
        int q = volume_remove(s, v->name, true, &e);
        if (q == -EBUSY) {
            continue; /* taken into use meanwhile: not garbage */
        }
        if (q < 0) {
            r = berth_error_set(err, -q, "%s", e ? e->msg : "remove failed");
            break;
        }
        strv_push(&removed, v->name);
        reclaimed += size;
    }
    volume_list_free(l, n);
    if (r < 0) {
        return r;
    }
    *ret_removed = TAKE_PTR(removed);
    if (ret_reclaimed) {
        *ret_reclaimed = reclaimed;
    }
    return 0;
}

/* ---- export, import ---------------------------------------------------------- */

int volume_export(struct store *s, const char *name, int fd, struct berth_error **err)
{
    _cleanup_(volume_freep) struct volume *v = NULL;
    int r = volume_get(s, name, &v, err);
    if (r < 0) {
        return r;
    }
    _cleanup_close_ int vdir = volumes_dir_open(s, err);
    if (vdir < 0) {
        return vdir;
    }
    /* held while writing: an import cannot swap _data mid-stream */
    _cleanup_close_ int lock = volume_lock(vdir, name, err);
    if (lock < 0) {
        return lock;
    }
    r = ensure_mounted(v, vdir, err);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *data = xasprintf("%s/_data", name);
    _cleanup_close_ int dfd = openat(vdir, data, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (dfd < 0 || fstat(dfd, &st) < 0) {
        return berth_error_sys(err, errno, "export %s: open '_data'", name);
    }
    _cleanup_(tree_tar_freep) struct tree_tar *t = NULL;
    struct tree_tar_opts o = {0};
    r = tree_tar_open(fd, &o, &t, err);
    if (r >= 0) {
        r = tree_tar_add(t, dfd, &st, ".", err);
    }
    if (r >= 0) {
        r = tree_tar_finish(t, err);
    }
    return r < 0 ? PREFIXED(r, err, "export %s", name) : 0;
}

/* An unlinked temp file in <root>/volumes: archives can be large, and the
 * volumes' disk is where they end up anyway. */
static int tmp_file(int vdir, struct berth_error **err)
{
    int fd = openat(vdir, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        return berth_error_sys(err, errno, "temp file");
    }
    return fd;
}

/* The archive on fd, readable twice (check, then unpack): always a private
 * spooled copy. Reading the caller's file twice would let whoever can write
 * it (a container, if it sits in a volume) swap it between the check and
 * the unpack, and so get an archive through that the check refuses. */
static int archive_source(int vdir, int fd, int *ret_fd, off_t *ret_off, struct berth_error **err)
{
    _cleanup_close_ int tmp = tmp_file(vdir, err);
    if (tmp < 0) {
        return tmp;
    }
    _cleanup_free_ char *buf = xmalloc(256 * 1024);
    for (;;) {
        ssize_t n = read(fd, buf, 256 * 1024);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return berth_error_sys(err, errno, "read archive");
        }
        if (n == 0) {
            break;
        }
        if (write_all(tmp, buf, (size_t)n) < 0) {
            return berth_error_sys(err, errno, "spool archive");
        }
    }
    *ret_fd = TAKE_FD(tmp);
    *ret_off = 0;
    return 0;
}

/* Whether the directory has any entry. */
/* The import with the volume's lock held; v exists. */
static int import_locked(struct store *s, struct volume *v, int vdir, int fd, bool force,
                         struct berth_error **err)
{
    const char *name = v->name;
    /* declared before the first jump to rollback */
    _cleanup_close_ int tmp = -1;
    _cleanup_(tree_tar_freep) struct tree_tar *t = NULL;
    struct tree_tar_opts to = {0};
    struct stat st;
    _cleanup_strv_free_ char **users = NULL;
    int r = volume_users(s, name, &users, err);
    if (r < 0) {
        return r;
    }
    bool in_use = users && users[0];
    if (in_use && !force) {
        _cleanup_free_ char *list = strv_join(users, ", ");
        return berth_error_set(err, EBUSY, "volume is in use - [%s]", list);
    }
    r = ensure_mounted(v, vdir, err);
    if (r < 0) {
        return r;
    }
    bool mounted = json_object_size(v->options) > 0;
    _cleanup_close_ int nfd = openat(vdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    _cleanup_close_ int dfd =
        nfd < 0 ? -1 : openat(nfd, "_data", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        return berth_error_sys(err, errno, "open '%s/_data'", name);
    }
    r = dir_is_empty(dfd);
    if (r < 0) {
        return berth_error_sys(err, -r, "read '_data'");
    }
    if (r == 0 && !force) {
        return berth_error_set(err, EEXIST,
                               "volume %s is not empty: use --force to replace its contents", name);
    }

    /* The whole archive is checked before anything is written, so an
     * escaping entry refuses it as a whole (layer_unpack alone would
     * confine it inside the staging directory and go on). */
    _cleanup_close_ int spool = -1;
    off_t off;
    r = archive_source(vdir, fd, &spool, &off, err);
    if (r < 0) {
        return r;
    }
    int in = spool >= 0 ? spool : fd;
    if (lseek(in, off, SEEK_SET) < 0) {
        return berth_error_sys(err, errno, "rewind archive");
    }
    r = tree_tar_check_confined(in, err);
    if (r < 0) {
        return r;
    }
    if (lseek(in, off, SEEK_SET) < 0) {
        return berth_error_sys(err, errno, "rewind archive");
    }

    char stage[64];
    snprintf(stage, sizeof(stage), "_import.%d", (int)getpid());
    r = rm_rf_at(nfd, stage, err);
    if (r < 0) {
        return r;
    }
    /* Docker's _data: 0755 root:root unless the archive's "./" says else */
    if (mkdirat(nfd, stage, 0700) < 0 || fchmodat(nfd, stage, 0755, 0) < 0) {
        return berth_error_sys(err, errno, "mkdir '%s'", stage);
    }
    _cleanup_close_ int sfd = openat(nfd, stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0) {
        r = berth_error_sys(err, errno, "open '%s'", stage);
        goto rollback;
    }
    r = layer_unpack(in, sfd, LAYER_APPLY, NULL, NULL, err);
    if (r < 0) {
        goto rollback;
    }
    if (!mounted && !in_use) {
        /* a plain volume: swap the new tree in at once, drop the old */
        if (renameat2(nfd, stage, nfd, "_data", RENAME_EXCHANGE) < 0) {
            r = berth_error_sys(err, errno, "swap in the imported tree");
            goto rollback;
        }
        (void)rm_rf_at(nfd, stage, NULL);
        return 0;
    }
    /* A mount (tmpfs, bind) or a directory containers have mounted: the
     * contents are replaced in place, by the same walk and unpack. */
    tmp = tmp_file(vdir, err);
    if (tmp < 0) {
        r = tmp;
        goto rollback;
    }
    if (fstat(sfd, &st) < 0) {
        r = berth_error_sys(err, errno, "stat '%s'", stage);
        goto rollback;
    }
    r = tree_tar_open(tmp, &to, &t, err);
    if (r >= 0) {
        r = tree_tar_add(t, sfd, &st, ".", err);
    }
    if (r >= 0) {
        r = tree_tar_finish(t, err);
    }
    if (r >= 0 && lseek(tmp, 0, SEEK_SET) < 0) {
        r = berth_error_sys(err, errno, "rewind");
    }
    if (r >= 0) {
        r = rm_rf_contents(dfd, err);
    }
    if (r >= 0) {
        r = layer_unpack(tmp, dfd, LAYER_APPLY, NULL, NULL, err);
    }
rollback:
    (void)rm_rf_at(nfd, stage, NULL);
    return r;
}

int volume_import(struct store *s, const char *name, int fd, bool force, struct berth_error **err)
{
    int r = volume_name_check(name, err);
    if (r < 0) {
        return PREFIXED(r, err, "import %s", name);
    }
    _cleanup_(volume_freep) struct volume *v = NULL;
    bool created = false;
    struct volume_create_opts co = {.name = name};
    r = volume_create(s, &co, &v, &created, err);
    if (r < 0) {
        return r;
    }
    _cleanup_close_ int vdir = volumes_dir_open(s, err);
    if (vdir < 0) {
        return vdir;
    }
    int lock = volume_lock(vdir, name, err);
    if (lock < 0) {
        return lock;
    }
    r = import_locked(s, v, vdir, fd, force, err);
    safe_close(lock);
    if (r < 0) {
        /* a volume this import made goes with its failure */
        if (created) {
            (void)volume_remove(s, name, true, NULL);
        }
        return PREFIXED(r, err, "import %s", name);
    }
    log_debug("volume: imported '%s'", name);
    return 0;
}

json_t *volume_inspect_json(const struct volume *v)
{
    return json_pack("{s:s,s:s,s:O,s:s,s:s,s:O,s:s}", "CreatedAt", v->created, "Driver", v->driver,
                     "Labels", json_object_size(v->labels) ? v->labels : json_null(), "Mountpoint",
                     v->mountpoint, "Name", v->name, "Options",
                     json_object_size(v->options) ? v->options : json_null(), "Scope", "local");
}
