/* volume-mounts.c - a container's volumes, binds and tmpfs mounts (see
 * volume-mounts.h). */
#include "volume-mounts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/chase.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "libberth/common/json-util.h"
#include "libberth/container/containers.h"
#include "libberth/image/images.h"
#include "libberth/store/db.h"
#include "libberth/volume/volumes.h"

#define MOUNTS_FILE "mounts.json"
#define MOUNTS_MAX (4u << 20)
/* A body may name many mounts, but not unboundedly many. */
#define MOUNTS_COUNT_MAX 4096

static char *mounts_path(struct store *s, const char *id)
{
    return xasprintf("%s/containers/%s/" MOUNTS_FILE, s->root, id);
}

/* Lexical clean of a path inside the container, made absolute: "." and
 * empty components go, ".." pops (never above "/"). An image's VOLUME
 * "../../etc" so names the container's /etc, never a host path
 * (CVE-2022-23648); symlinks are the runtime's business (RESOLVE_IN_ROOT). */
static char *clean_abs(const char *p)
{
    _cleanup_strv_free_ char **parts = strv_split(p, "/");
    size_t n = strv_length(parts);
    /* Indexes of the kept components; ".." drops the last one. */
    _cleanup_free_ size_t *keep = xmalloc(sizeof(*keep) * (n ? n : 1));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!*parts[i] || streq(parts[i], ".")) {
            continue;
        }
        if (streq(parts[i], "..")) {
            k -= k > 0;
            continue;
        }
        keep[k++] = i;
    }
    if (k == 0) {
        return xstrdup("/");
    }
    struct strbuf b = STRBUF_INIT;
    for (size_t i = 0; i < k; i++) {
        strbuf_addc(&b, '/');
        strbuf_adds(&b, parts[keep[i]]);
    }
    return strbuf_detach(&b, NULL);
}

static bool isalnum_ascii(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool jtrue(json_t *o, const char *k)
{
    return json_is_true(json_object_get(o, k));
}

/* ---- parsing ------------------------------------------------------------ */

static bool is_propagation(const char *m)
{
    static const char *const p[] = {"private", "rprivate", "shared", "rshared", "slave", "rslave"};
    for (size_t i = 0; i < ARRAY_SIZE(p); i++) {
        if (streq(m, p[i])) {
            return true;
        }
    }
    return false;
}

struct bind_mode {
    bool ro, nocopy;
    const char *propagation; /* points into the mode string's copy */
};

/* volume.ValidMountMode: a comma list, at most one of each kind. */
static int parse_mode(const char *mode, struct bind_mode *ret, char ***keep,
                      struct berth_error **err)
{
    *ret = (struct bind_mode){0};
    if (!mode || !*mode) {
        return 0;
    }
    _cleanup_strv_free_ char **parts = strv_split(mode, ",");
    int rw = 0, label = 0, copy = 0, prop = 0, cons = 0;
    STRV_FOREACH(p, parts)
    {
        if (streq(*p, "rw") || streq(*p, "ro")) {
            rw++;
            ret->ro = streq(*p, "ro");
        } else if (streq(*p, "z") || streq(*p, "Z")) {
            label++;
        } else if (streq(*p, "nocopy")) {
            copy++;
            ret->nocopy = true;
        } else if (is_propagation(*p)) {
            prop++;
            ret->propagation = *p;
        } else if (streq(*p, "consistent") || streq(*p, "cached") || streq(*p, "delegated")) {
            cons++;
        } else {
            return berth_error_set(err, EINVAL, "invalid mode: %s", mode);
        }
    }
    if (rw > 1 || label > 1 || copy > 1 || prop > 1 || cons > 1) {
        return berth_error_set(err, EINVAL, "invalid mode: %s", mode);
    }
    *keep = TAKE_PTR(parts);
    return 0;
}

static bool valid_volume_name(const char *s)
{
    if (!s || strlen(s) < 2 || !isalnum_ascii(s[0])) {
        return false;
    }
    for (const char *c = s + 1; *c; c++) {
        if (!isalnum_ascii(*c) && *c != '_' && *c != '.' && *c != '-') {
            return false;
        }
    }
    return true;
}

static json_t *mount_point(const char *type, const char *dest)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "Type", type, "Name", "", "Source",
                     "", "Destination", dest, "Driver", "", "Mode", "", "RW", 1, "Propagation", "");
}

/* One HostConfig.Binds string (dockerd's linux ParseMountRaw). */
static int parse_bind(const char *spec, json_t **ret, struct berth_error **err)
{
    _cleanup_strv_free_ char **arr = strv_split(spec, ":");
    size_t n = strv_length(arr);
    if (n < 2 || n > 3 || !*arr[0] || !*arr[1]) {
        return berth_error_set(err, EINVAL, "invalid volume specification: '%s'", spec);
    }
    if (arr[1][0] != '/') {
        return berth_error_set(err, EINVAL,
                               "invalid volume specification: '%s': invalid mount config for type "
                               "\"%s\": invalid mount path: '%s' mount path must be absolute",
                               spec, arr[0][0] == '/' ? "bind" : "volume", arr[1]);
    }
    _cleanup_free_ char *dest = clean_abs(arr[1]);
    if (streq(dest, "/")) {
        return berth_error_set(err, EINVAL, "invalid specification: destination can't be '/'");
    }
    struct bind_mode m;
    _cleanup_strv_free_ char **keep = NULL;
    int r = parse_mode(n == 3 ? arr[2] : NULL, &m, &keep, err);
    if (r < 0) {
        return r;
    }
    bool bind = arr[0][0] == '/';
    if (!bind && !valid_volume_name(arr[0])) {
        return berth_error_set(err, EINVAL,
                               "\"%s\" includes invalid characters for a local volume name, only "
                               "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass "
                               "a host directory, use absolute path",
                               arr[0]);
    }
    if (!bind && m.propagation) {
        return berth_error_set(err, EINVAL, "invalid mode: %s", arr[2]);
    }
    json_t *p = mount_point(bind ? "bind" : "volume", dest);
    json_object_set_new(p, "Mode", json_string(n == 3 ? arr[2] : (bind ? "" : "z")));
    json_object_set_new(p, "RW", json_boolean(!m.ro));
    if (bind) {
        _cleanup_free_ char *src = clean_abs(arr[0]);
        json_object_set_new(p, "Source", json_string(src));
        json_object_set_new(p, "Propagation",
                            json_string(m.propagation ? m.propagation : "rprivate"));
        json_object_set_new(p, "CreateSource", json_true());
    } else {
        json_object_set_new(p, "Name", json_string(arr[0]));
        json_object_set_new(p, "Driver", json_string("local"));
        json_object_set_new(p, "CopyData", json_boolean(!m.nocopy));
    }
    *ret = p;
    return 0;
}

/* One HostConfig.Mounts object (dockerd's validateMountConfig + parse). */
static int parse_api_mount(json_t *m, json_t **ret, struct berth_error **err)
{
    const char *type = jstr(m, "Type");
    const char *target = jstr(m, "Target");
    const char *source = jstr(m, "Source");
    if (!type || (!streq(type, "bind") && !streq(type, "volume") && !streq(type, "tmpfs"))) {
        return berth_error_set(err, EINVAL,
                               "invalid mount config for type \"%s\": mount type unknown",
                               type ? type : "");
    }
    if (!target || target[0] != '/') {
        return berth_error_set(
            err, EINVAL,
            "invalid mount config for type \"%s\": invalid mount path: '%s' mount path must be "
            "absolute",
            type, target ? target : "");
    }
    _cleanup_free_ char *dest = clean_abs(target);
    bool ro = jtrue(m, "ReadOnly");
    json_t *p = mount_point(type, dest);
    json_object_set_new(p, "RW", json_boolean(!ro));
    if (streq(type, "bind")) {
        if (!source || source[0] != '/') {
            json_decref(p);
            return berth_error_set(err, EINVAL,
                                   "invalid mount config for type \"bind\": invalid mount path: "
                                   "'%s' mount path must be absolute",
                                   source ? source : "");
        }
        struct stat st;
        if (stat(source, &st) < 0) {
            json_decref(p);
            return berth_error_set(err, EINVAL,
                                   "invalid mount config for type \"bind\": bind source path does "
                                   "not exist: %s",
                                   source);
        }
        json_t *bo = json_object_get(m, "BindOptions");
        const char *prop = jstr(bo, "Propagation");
        if (prop && *prop && !is_propagation(prop)) {
            json_decref(p);
            return berth_error_set(err, EINVAL,
                                   "invalid mount config for type \"bind\": invalid propagation "
                                   "mode: %s",
                                   prop);
        }
        _cleanup_free_ char *src = clean_abs(source);
        json_object_set_new(p, "Source", json_string(src));
        json_object_set_new(p, "Propagation", json_string(prop && *prop ? prop : "rprivate"));
        if (jtrue(bo, "NonRecursive")) {
            json_object_set_new(p, "NonRecursive", json_true());
        }
    } else if (streq(type, "volume")) {
        json_t *vo = json_object_get(m, "VolumeOptions");
        if (source && *source && !valid_volume_name(source)) {
            json_decref(p);
            return berth_error_set(
                err, EINVAL,
                "\"%s\" includes invalid characters for a local volume name, "
                "only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended "
                "to pass a host directory, use absolute path",
                source);
        }
        if (source && *source) {
            json_object_set_new(p, "Name", json_string(source));
        } else {
            json_object_set_new(p, "Anonymous", json_true());
        }
        json_t *dc = json_object_get(vo, "DriverConfig");
        const char *driver = jstr(dc, "Name");
        json_object_set_new(p, "Driver", json_string(driver && *driver ? driver : "local"));
        json_object_set_new(p, "CopyData", json_boolean(!jtrue(vo, "NoCopy")));
        /* For volume_create only; dropped before mounts.json is written. */
        json_t *labels = json_object_get(vo, "Labels");
        json_t *opts = json_object_get(dc, "Options");
        if (json_is_object(labels)) {
            json_object_set(p, "_Labels", labels);
        }
        if (json_is_object(opts)) {
            json_object_set(p, "_Options", opts);
        }
    } else {
        if (source && *source) {
            json_decref(p);
            return berth_error_set(err, EINVAL,
                                   "invalid mount config for type \"tmpfs\": field Source must not "
                                   "be specified");
        }
        json_t *to = json_object_get(m, "TmpfsOptions");
        json_t *size = json_object_get(to, "SizeBytes");
        json_t *mode = json_object_get(to, "Mode");
        if (json_is_integer(size) && json_integer_value(size) > 0) {
            json_object_set(p, "TmpfsSize", size);
        }
        if (json_is_integer(mode) && json_integer_value(mode) > 0) {
            json_object_set(p, "TmpfsMode", mode);
        }
    }
    *ret = p;
    return 0;
}

static int read_mounts(struct store *s, const char *id, json_t **ret, struct berth_error **err)
{
    _cleanup_free_ char *p = mounts_path(s, id);
    json_t *a = NULL;
    int r = json_load_file_at(AT_FDCWD, p, MOUNTS_MAX, &a, err);
    if (r == -ENOENT) {
        if (err && *err) {
            berth_error_free(*err);
            *err = NULL;
        }
        *ret = json_array();
        return 0;
    }
    if (r < 0) {
        return berth_error_prefix(err, "read mounts of '%.12s'", id);
    }
    if (!json_is_array(a)) {
        json_decref(a);
        return berth_error_set(err, EINVAL, "%s: not an array", p);
    }
    *ret = a;
    return 0;
}

/* --volumes-from C[:ro|:rw]: C's mount points, keyed by destination. */
static int add_volumes_from(struct store *s, const char *spec, json_t *byd,
                            struct berth_error **err)
{
    _cleanup_free_ char *name = xstrdup(spec);
    char *colon = strchr(name, ':');
    const char *mode = "rw";
    if (colon) {
        *colon = '\0';
        mode = colon + 1;
        if (!streq(mode, "ro") && !streq(mode, "rw") && !streq(mode, "z") && !streq(mode, "Z")) {
            struct bind_mode bm;
            _cleanup_strv_free_ char **keep = NULL;
            int r = parse_mode(mode, &bm, &keep, err);
            if (r < 0) {
                return r;
            }
            mode = bm.ro ? "ro" : "rw";
        }
    }
    _cleanup_free_ char *cid = NULL;
    int r = container_resolve(s, name, &cid, err);
    if (r < 0) {
        return r;
    }
    _cleanup_json_ json_t *theirs = NULL;
    r = read_mounts(s, cid, &theirs, err);
    if (r < 0) {
        return r;
    }
    size_t i;
    json_t *m;
    json_array_foreach(theirs, i, m)
    {
        const char *dest = jstr(m, "Destination");
        if (!dest) {
            continue;
        }
        json_t *cp = json_deep_copy(m);
        if (streq(mode, "ro")) {
            json_object_set_new(cp, "RW", json_false());
        }
        /* Docker: a volume from another container is never filled again. */
        json_object_set_new(cp, "CopyData", json_false());
        json_object_set_new(cp, "CreateSource", json_false());
        json_object_set_new(byd, dest, cp);
    }
    return 0;
}

static int cmp_dest(const void *a, const void *b)
{
    const char *x = jstr(*(json_t *const *)a, "Destination");
    const char *y = jstr(*(json_t *const *)b, "Destination");
    return strcmp(x ? x : "", y ? y : "");
}

static size_t depth(const char *p)
{
    size_t n = 0;
    for (; p && *p; p++) {
        n += *p == '/';
    }
    return n;
}

static int cmp_depth(const void *a, const void *b)
{
    size_t x = depth(jstr(*(json_t *const *)a, "Destination"));
    size_t y = depth(jstr(*(json_t *const *)b, "Destination"));
    if (x != y) {
        return x < y ? -1 : 1;
    }
    return cmp_dest(a, b);
}

/* The array of obj's values, sorted by cmp. */
static json_t *sorted_values(json_t *obj, int (*cmp)(const void *, const void *))
{
    size_t n = json_object_size(obj), i = 0;
    _cleanup_free_ json_t **v = xmalloc(sizeof(*v) * (n ? n : 1));
    const char *k;
    json_t *m;
    json_object_foreach(obj, k, m)
    {
        v[i++] = m;
    }
    qsort(v, n, sizeof(*v), cmp);
    json_t *a = json_array();
    for (i = 0; i < n; i++) {
        json_array_append(a, v[i]);
    }
    return a;
}

/* Everything the body and the image ask for, keyed by destination, without
 * side effects (no volume made yet). */
static int resolve_mounts(struct store *s, json_t *body, const struct image_config *img,
                          json_t **ret, struct berth_error **err)
{
    json_t *hc = json_object_get(body, "HostConfig");
    _cleanup_json_ json_t *byd = json_object();
    json_t *vf = json_object_get(hc, "VolumesFrom");
    size_t i;
    json_t *e;
    if (vf && !json_is_array(vf)) {
        return berth_error_set(err, EINVAL, "HostConfig.VolumesFrom: expected an array");
    }
    json_array_foreach(vf, i, e)
    {
        if (!json_is_string(e)) {
            return berth_error_set(err, EINVAL, "HostConfig.VolumesFrom[%zu]: expected a string",
                                   i);
        }
        int r = add_volumes_from(s, json_string_value(e), byd, err);
        if (r < 0) {
            return r;
        }
    }
    /* Binds and Mounts: explicit, so two on one place is an error. */
    _cleanup_json_ json_t *explicit = json_object();
    json_t *tmpfs = json_object_get(hc, "Tmpfs");
    const char *k;
    json_object_foreach(tmpfs, k, e)
    {
        _cleanup_free_ char *d = clean_abs(k);
        json_object_set_new(explicit, d, json_true());
    }
    json_t *binds = json_object_get(hc, "Binds");
    json_t *mounts = json_object_get(hc, "Mounts");
    if ((binds && !json_is_array(binds)) || (mounts && !json_is_array(mounts))) {
        return berth_error_set(err, EINVAL, "HostConfig.Binds and Mounts must be arrays");
    }
    if (json_array_size(binds) + json_array_size(mounts) > MOUNTS_COUNT_MAX) {
        return berth_error_set(err, E2BIG, "more than %d mounts", MOUNTS_COUNT_MAX);
    }
    for (int pass = 0; pass < 2; pass++) {
        json_array_foreach(pass ? mounts : binds, i, e)
        {
            json_t *p = NULL;
            int r;
            if (pass == 0) {
                if (!json_is_string(e)) {
                    return berth_error_set(err, EINVAL, "HostConfig.Binds[%zu]: expected a string",
                                           i);
                }
                r = parse_bind(json_string_value(e), &p, err);
            } else {
                if (!json_is_object(e)) {
                    return berth_error_set(err, EINVAL,
                                           "HostConfig.Mounts[%zu]: expected an object", i);
                }
                r = parse_api_mount(e, &p, err);
            }
            if (r < 0) {
                return r;
            }
            const char *dest = jstr(p, "Destination");
            if (json_object_get(explicit, dest)) {
                r = berth_error_set(err, EINVAL, "Duplicate mount point: %s", dest);
                json_decref(p);
                return r;
            }
            json_object_set_new(explicit, dest, json_true());
            json_object_set_new(byd, dest, p);
        }
    }
    /* Anonymous volumes: -v /path, then the image's VOLUMEs. */
    _cleanup_strv_free_ char **anon = NULL;
    json_object_foreach(json_object_get(body, "Volumes"), k, e)
    {
        strv_push(&anon, k);
    }
    STRV_FOREACH(v, img ? img->volumes : NULL)
    {
        strv_push(&anon, *v);
    }
    STRV_FOREACH(v, anon)
    {
        _cleanup_free_ char *d = clean_abs(*v);
        if (streq(d, "/") || json_object_get(byd, d) || json_object_get(explicit, d)) {
            continue;
        }
        json_t *p = mount_point("volume", d);
        json_object_set_new(p, "Driver", json_string("local"));
        json_object_set_new(p, "Anonymous", json_true());
        json_object_set_new(p, "CopyData", json_true());
        json_object_set_new(byd, d, p);
    }
    *ret = sorted_values(byd, cmp_dest);
    return 0;
}

/* ---- create ------------------------------------------------------------- */

int container_mounts_create(struct store *s, const char *id, json_t *body, const char *image_id,
                            struct berth_error **err)
{
    const struct image_config *config = NULL;
    int r = image_config_get(s, image_id, &config, err);
    if (r < 0) {
        return r;
    }
    _cleanup_json_ json_t *list = NULL;
    r = resolve_mounts(s, body, config, &list, err);
    if (r < 0) {
        return r;
    }
    if (json_array_size(list) == 0) {
        return 0;
    }
    _cleanup_strv_free_ char **created = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m)
    {
        if (!streq(jstr(m, "Type"), "volume")) {
            continue;
        }
        bool anonymous = jtrue(m, "Anonymous");
        const char *name = jstr(m, "Name");
        _cleanup_json_ json_t *labels = json_is_object(json_object_get(m, "_Labels"))
                                            ? json_deep_copy(json_object_get(m, "_Labels"))
                                            : json_object();
        if (anonymous) {
            json_object_set_new(labels, VOLUME_ANONYMOUS_LABEL, json_string(""));
        }
        struct volume_create_opts o = {
            .name = name && *name ? name : NULL,
            .driver = jstr(m, "Driver"),
            .labels = labels,
            .options = json_object_get(m, "_Options"),
            .anonymous = anonymous,
        };
        _cleanup_(volume_freep) struct volume *v = NULL;
        bool made = false;
        r = volume_create(s, &o, &v, &made, err);
        if (r < 0) {
            goto rollback;
        }
        if (made) {
            strv_push(&created, v->name);
        }
        json_object_set_new(m, "Name", json_string(v->name));
        json_object_set_new(m, "Source", json_string(v->mountpoint));
        json_object_set_new(m, "Driver", json_string(v->driver));
        json_object_del(m, "_Labels");
        json_object_del(m, "_Options");
    }
    json_array_foreach(list, i, m)
    {
        if (streq(jstr(m, "Type"), "volume")) {
            r = volume_ref(s, jstr(m, "Name"), id, err);
            if (r < 0) {
                goto rollback;
            }
        }
    }
    {
        _cleanup_free_ char *text = json_dumps(list, JSON_COMPACT | JSON_SORT_KEYS);
        _cleanup_free_ char *p = mounts_path(s, id);
        r = write_file_atomic_at(AT_FDCWD, p, text, strlen(text), 0600, err);
        if (r < 0) {
            goto rollback;
        }
    }
    return 0;

rollback:
    /* The refs would go with the record; they go now so that the volumes
     * made here can be removed (a volume in use cannot). */
    (void)db_run(s->db, NULL, "DELETE FROM volume_refs WHERE container_id = ?", "s", id);
    container_volumes_release(s, created);
    return r;
}

/* ---- start -------------------------------------------------------------- */

/* Docker's copy-up: an empty volume mounted over image content gets that
 * content first. The destination is a path in an attacker-controlled
 * rootfs: it is resolved from rootfd inside the root (chase_open,
 * RESOLVE_IN_ROOT: a symlinked or "../"-laden VOLUME stays in the rootfs,
 * CVE-2022-23648), and the tree is read through dirfds with O_NOFOLLOW. */
static int copy_up(struct store *s, const char *name, const char *data, int rootfd,
                   const char *dest, struct berth_error **err)
{
    _cleanup_close_ int src = chase_open(rootfd, dest, O_RDONLY | O_DIRECTORY, 0);
    if (src < 0) {
        /* Nothing (or no directory) there in the image: nothing to copy. */
        return 0;
    }
    /* the volumes' own lock (with its check that the file locked is still
     * the one at that name, which a bare open+flock lacked) */
    _cleanup_close_ int lock = volume_lock_take(s, name, err);
    if (lock < 0) {
        return berth_error_prefix(err, "copy-up into volume '%s'", name);
    }
    _cleanup_close_ int dst = open(data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dst < 0) {
        return berth_error_sys(err, errno, "open volume '%s'", name);
    }
    int empty = dir_is_empty(dst);
    if (empty < 0) {
        return berth_error_sys(err, -empty, "read volume '%s'", name);
    }
    if (!empty) {
        return 0;
    }
    if (dir_is_empty(src) == 1) {
        return 0;
    }
    log_debug("copy-up: '%s' into volume '%s'", dest, name);
    int r = container_tree_copy(src, dst, err);
    if (r < 0) {
        (void)rm_rf_contents(dst, NULL);
        return berth_error_prefix(err, "copy '%s' into volume '%s'", dest, name);
    }
    return 0;
}

static json_t *oci_mount(const char *dest, const char *type, const char *src)
{
    return json_pack("{s:s, s:s, s:s, s:[]}", "destination", dest, "type", type, "source", src,
                     "options");
}

int container_mounts_oci(struct store *s, const char *id, int rootfd, json_t **ret,
                         struct berth_error **err)
{
    _cleanup_free_ char *p = mounts_path(s, id);
    if (access(p, F_OK) < 0) {
        *ret = NULL;
        return 0;
    }
    _cleanup_json_ json_t *list = NULL;
    int r = read_mounts(s, id, &list, err);
    if (r < 0) {
        return r;
    }
    /* Parents before children (Docker's sortMounts), so /a/b lands on /a. */
    _cleanup_json_ json_t *byd = json_object();
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m)
    {
        const char *d = jstr(m, "Destination");
        if (d) {
            json_object_set(byd, d, m);
        }
    }
    _cleanup_json_ json_t *sorted = sorted_values(byd, cmp_depth);
    _cleanup_json_ json_t *out = json_array();
    json_array_foreach(sorted, i, m)
    {
        const char *type = jstr(m, "Type"), *dest = jstr(m, "Destination");
        if (!type || !dest || dest[0] != '/') {
            return berth_error_set(err, EINVAL, "%s: bad entry %zu", p, i);
        }
        bool rw = !json_is_false(json_object_get(m, "RW"));
        json_t *o;
        if (streq(type, "tmpfs")) {
            o = oci_mount(dest, "tmpfs", "tmpfs");
            json_t *opts = json_object_get(o, "options");
            json_array_append_new(opts, json_string("noexec"));
            json_array_append_new(opts, json_string("nosuid"));
            json_array_append_new(opts, json_string("nodev"));
            json_int_t size = json_integer_value(json_object_get(m, "TmpfsSize"));
            json_int_t mode = json_integer_value(json_object_get(m, "TmpfsMode"));
            if (size > 0) {
                json_array_append_new(opts,
                                      json_sprintf("size=%lldk", (long long)(size + 1023) / 1024));
            }
            if (mode > 0) {
                json_array_append_new(opts, json_sprintf("mode=%llo", (long long)mode));
            }
            if (!rw) {
                json_array_append_new(opts, json_string("ro"));
            }
            json_array_append_new(out, o);
            continue;
        }
        _cleanup_free_ char *src = NULL;
        if (streq(type, "volume")) {
            const char *name = jstr(m, "Name");
            r = volume_path(s, name ? name : "", &src, err);
            if (r < 0) {
                return berth_error_prefix(err, "mount volume for '%s'", dest);
            }
            if (jtrue(m, "CopyData")) {
                r = copy_up(s, name, src, rootfd, dest, err);
                if (r < 0) {
                    return r;
                }
            }
        } else if (streq(type, "bind")) {
            const char *sp = jstr(m, "Source");
            if (!sp || sp[0] != '/') {
                return berth_error_set(err, EINVAL, "%s: bad bind source", p);
            }
            src = xstrdup(sp);
            struct stat st;
            if (stat(src, &st) < 0) {
                if (errno != ENOENT || !jtrue(m, "CreateSource")) {
                    return berth_error_sys(err, errno,
                                           "invalid mount config for type \"bind\": bind source "
                                           "path does not exist: %s",
                                           src);
                }
                /* Docker's -v: a missing host directory is made. */
                r = mkdir_p(src, 0755, err);
                if (r < 0) {
                    return berth_error_prefix(err, "error while creating mount source path '%s'",
                                              src);
                }
            }
        } else {
            return berth_error_set(err, EINVAL, "%s: unknown mount type '%s'", p, type);
        }
        o = oci_mount(dest, "bind", src);
        json_t *opts = json_object_get(o, "options");
        json_array_append_new(opts, json_string(jtrue(m, "NonRecursive") ? "bind" : "rbind"));
        json_array_append_new(opts, json_string(rw ? "rw" : "ro"));
        const char *prop = jstr(m, "Propagation");
        json_array_append_new(opts, json_string(prop && *prop ? prop : "rprivate"));
        json_array_append_new(out, o);
    }
    *ret = json_array_size(out) ? TAKE_PTR(out) : NULL;
    return 0;
}

/* ---- inspect and removal ------------------------------------------------ */

int container_mounts_inspect(struct store *s, const char *id, json_t **ret,
                             struct berth_error **err)
{
    _cleanup_json_ json_t *list = NULL;
    int r = read_mounts(s, id, &list, err);
    if (r < 0) {
        return r;
    }
    static const char *const keep[] = {"Type",   "Name", "Source", "Destination",
                                       "Driver", "Mode", "RW",     "Propagation"};
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m)
    {
        json_t *o = json_object();
        for (size_t k = 0; k < ARRAY_SIZE(keep); k++) {
            json_t *v = json_object_get(m, keep[k]);
            /* Docker omits an empty Name and Driver (binds, tmpfs). */
            if (v && !((streq(keep[k], "Name") || streq(keep[k], "Driver")) && json_is_string(v) &&
                       !*json_string_value(v))) {
                json_object_set(o, keep[k], v);
            }
        }
        json_array_append_new(out, o);
    }
    *ret = out;
    return 0;
}

int container_mounts_anonymous(struct store *s, const char *id, char ***ret,
                               struct berth_error **err)
{
    _cleanup_json_ json_t *list = NULL;
    int r = read_mounts(s, id, &list, err);
    if (r < 0) {
        return r;
    }
    char **names = xcalloc(1, sizeof(char *));
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m)
    {
        const char *n = jstr(m, "Name");
        if (streq(jstr(m, "Type") ? jstr(m, "Type") : "", "volume") && jtrue(m, "Anonymous") && n &&
            *n) {
            strv_push(&names, n);
        }
    }
    *ret = names;
    return 0;
}

void container_volumes_release(struct store *s, char **names)
{
    STRV_FOREACH(n, names)
    {
        _cleanup_error_ struct berth_error *e = NULL;
        int r = volume_remove(s, *n, true, &e);
        if (r < 0) {
            log_debug("keep volume '%s': %s", *n, e && e->msg ? e->msg : strerror(-r));
        }
    }
}

int container_remove_with_volumes(struct store *s, const char *id, struct berth_error **err)
{
    _cleanup_strv_free_ char **anon = NULL;
    (void)container_mounts_anonymous(s, id, &anon, NULL);
    int r = container_remove(s, id, err);
    if (r < 0) {
        return r;
    }
    container_volumes_release(s, anon);
    return 0;
}
