/* db.c - the SQLite metadata database, through a dlopen()ed libsqlite3. */
#include "db.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "basic/alloc.h"
#include "libberth/common/dl.h"
#include "basic/fileio.h"
#include "basic/log.h"

#define SQLITE_SONAME "libsqlite3.so.0"
#define BUSY_TIMEOUT_MS 60000

#define SQ_SYMBOLS(X)                                                                              \
    X(sqlite3_open_v2)                                                                             \
    X(sqlite3_close_v2)                                                                            \
    X(sqlite3_busy_timeout)                                                                        \
    X(sqlite3_db_config)                                                                           \
    X(sqlite3_exec)                                                                                \
    X(sqlite3_prepare_v2)                                                                          \
    X(sqlite3_bind_text)                                                                           \
    X(sqlite3_bind_int64)                                                                          \
    X(sqlite3_bind_null)                                                                           \
    X(sqlite3_step)                                                                                \
    X(sqlite3_column_text)                                                                         \
    X(sqlite3_column_int64)                                                                        \
    X(sqlite3_finalize)                                                                            \
    X(sqlite3_changes)                                                                             \
    X(sqlite3_errmsg)                                                                              \
    X(sqlite3_extended_errcode)                                                                    \
    X(sqlite3_get_autocommit)                                                                      \
    X(sqlite3_db_handle)

#ifdef BERTH_SQLITE_STATIC
DEFINE_LINKED_LIB(sq, SQ_SYMBOLS)
#else
DEFINE_DL_LIB(sq, SQ_SYMBOLS, SQLITE_SONAME, "libsqlite3-0")
#endif

struct berth_db {
    sqlite3 *h;
    char *path;
};

struct db_stmt {
    sqlite3_stmt *st;
    struct berth_db *db;
};

/* SQLite result codes to errno: busy/locked past the timeout is EBUSY, a
 * full disk ENOSPC, a constraint (duplicate name) EEXIST, corruption EIO. */
static int sq_errno(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return EBUSY;
    case SQLITE_FULL:
        return ENOSPC;
    case SQLITE_CONSTRAINT:
        return EEXIST;
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return EROFS;
    case SQLITE_NOMEM:
        return ENOMEM;
    case SQLITE_CANTOPEN:
        return EACCES;
    default:
        return EIO;
    }
}

static int sq_error(struct berth_db *db, int rc, struct berth_error **err, const char *what)
{
    return berth_error_set(err, sq_errno(rc), "metadata db '%s': %s: %s", db->path, what,
                           sq.sqlite3_errmsg(db->h));
}

/* Schema, one entry per version; db_open applies those above user_version
 * in one transaction each. */
static const char *const schema[] = {
    /* 1: images, tags, layers */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE layers(chain_id TEXT PRIMARY KEY, diff_id TEXT NOT NULL, parent TEXT,"
    " size INTEGER NOT NULL, blob_digest TEXT, blob_size INTEGER, media_type TEXT,"
    " created INTEGER NOT NULL);"
    "CREATE TABLE images(id TEXT PRIMARY KEY, manifest_digest TEXT, manifest_media_type TEXT,"
    " size INTEGER NOT NULL, created TEXT, added INTEGER NOT NULL);"
    "CREATE TABLE image_layers(image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,"
    " idx INTEGER NOT NULL, chain_id TEXT NOT NULL REFERENCES layers(chain_id),"
    " PRIMARY KEY(image_id, idx));"
    "CREATE INDEX image_layers_chain ON image_layers(chain_id);"
    "CREATE TABLE tags(name TEXT PRIMARY KEY,"
    " image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE, added INTEGER NOT NULL);"
    "CREATE INDEX tags_image ON tags(image_id);"
    "CREATE TABLE repo_digests(repo TEXT NOT NULL, digest TEXT NOT NULL,"
    " image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,"
    " PRIMARY KEY(repo, digest));"
    "CREATE INDEX repo_digests_image ON repo_digests(image_id);",
    /* 2: containers (runtime status lives in each one's state.json) */
    "CREATE TABLE containers(id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " image_id TEXT NOT NULL, image_name TEXT, created TEXT NOT NULL, body TEXT NOT NULL);"
    "CREATE INDEX containers_image ON containers(image_id);",
    /* 3: volumes (volume.h); a ref is a container that mounts the volume,
     * from create to removal (Docker's "in use", running or not) */
    "CREATE TABLE volumes(name TEXT PRIMARY KEY, driver TEXT NOT NULL, created TEXT NOT NULL,"
    " labels TEXT, options TEXT, anonymous INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE volume_refs(volume TEXT NOT NULL REFERENCES volumes(name),"
    " container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,"
    " PRIMARY KEY(volume, container_id));"
    "CREATE INDEX volume_refs_container ON volume_refs(container_id);",
    /* 4: networks (net/networks.h) and endpoints: a container's membership
     * of a network (aliases, a requested address), and while it runs its
     * lease (ipv4/ipv6/mac; NULL when stopped) */
    "CREATE TABLE networks(id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " driver TEXT NOT NULL, bridge TEXT UNIQUE, created TEXT NOT NULL, config TEXT NOT NULL);"
    "CREATE TABLE endpoints(network_id TEXT NOT NULL REFERENCES networks(id),"
    " container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,"
    " config TEXT, ipv4 TEXT, ipv6 TEXT, mac TEXT, PRIMARY KEY(network_id, container_id));"
    "CREATE UNIQUE INDEX endpoints_ipv4 ON endpoints(network_id, ipv4);"
    "CREATE UNIQUE INDEX endpoints_ipv6 ON endpoints(network_id, ipv6);"
    "CREATE INDEX endpoints_container ON endpoints(container_id);",
};

static int db_migrate(struct berth_db *db, struct berth_error **err)
{
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    int r = db_query(db, &st, err, "PRAGMA user_version", "");
    if (r < 0) {
        return r;
    }
    r = db_step(st, err);
    if (r < 0) {
        return r;
    }
    int64_t version = r > 0 ? db_int(st, 0) : 0;
    db_stmt_free(TAKE_PTR(st));
    int64_t known = (int64_t)(sizeof(schema) / sizeof(schema[0]));
    if (version > known) {
        return berth_error_set(err, EPROTO,
                               "metadata db '%s' has schema version %lld, this berth knows %lld: "
                               "upgrade berth",
                               db->path, (long long)version, (long long)known);
    }
    while (version < known) {
        r = db_begin(db, err);
        if (r < 0) {
            return r;
        }
        /* Re-read under the write lock: another berth may have migrated. */
        r = db_query(db, &st, err, "PRAGMA user_version", "");
        if (r >= 0) {
            r = db_step(st, err);
        }
        if (r < 0) {
            db_rollback(db);
            return r;
        }
        version = r > 0 ? db_int(st, 0) : 0;
        db_stmt_free(TAKE_PTR(st));
        if (version >= known) {
            db_rollback(db);
            break;
        }
        char *msg = NULL;
        int rc = sq.sqlite3_exec(db->h, schema[version], NULL, NULL, &msg);
        if (rc == SQLITE_OK) {
            _cleanup_free_ char *pragma =
                xasprintf("PRAGMA user_version = %lld", (long long)version + 1);
            rc = sq.sqlite3_exec(db->h, pragma, NULL, NULL, NULL);
        }
        if (rc != SQLITE_OK) {
            r = sq_error(db, rc, err, "migrate schema");
            db_rollback(db);
            return r;
        }
        r = db_commit(db, err);
        if (r < 0) {
            return r;
        }
        version++;
    }
    return 0;
}

int db_open(const char *root, struct berth_db **ret, struct berth_error **err)
{
    int r = sq_load(err);
    if (r < 0) {
        return r;
    }
    r = mkdir_p(root, 0711, err);
    if (r < 0) {
        return r;
    }
    struct berth_db *db = xcalloc(1, sizeof(*db));
    db->path = xasprintf("%s/berth.db", root);
    _cleanup_(db_closep) struct berth_db *owned = db;
    int rc = sq.sqlite3_open_v2(
        db->path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        if (!db->h) {
            return berth_error_set(err, ENOMEM, "open metadata db '%s'", db->path);
        }
        return sq_error(db, rc, err, "open");
    }
    sq.sqlite3_busy_timeout(db->h, BUSY_TIMEOUT_MS);
    /* Every berth command opens and closes the db; the last connection to
     * close would checkpoint the WAL into the db and delete it (two disk
     * flushes per command). Leave that to SQLite's automatic checkpoints:
     * WAL mode stays crash-safe either way. */
    sq.sqlite3_db_config(db->h, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
    /* WAL: readers never block the writer and a crash mid-write rolls back;
     * synchronous=NORMAL in WAL mode keeps the database consistent across a
     * power loss (a last commit may be lost, never half-applied).
     * wal_autocheckpoint=64: the first connection of every process rebuilds
     * the WAL index by reading and checksumming every frame since the last
     * checkpoint; at SQLite's default (1000 pages, ~4 MB) that was up to
     * 2 ms of each command. 64 pages bound it to 256 KiB for a checkpoint
     * every dozen or so container runs. */
    /* Switching a new database to WAL takes a lock for which SQLite does not
     * always call the busy handler: two processes opening a fresh store at
     * once would see SQLITE_BUSY. Retry for as long as the busy timeout. */
    for (int waited_ms = 0;; waited_ms += 5) {
        rc = sq.sqlite3_exec(db->h,
                             "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                             " PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=64;",
                             NULL, NULL, NULL);
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) {
            break;
        }
        if (waited_ms >= BUSY_TIMEOUT_MS) {
            break;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (rc != SQLITE_OK) {
        return sq_error(db, rc, err, "configure");
    }
    (void)chmod(db->path, 0600);
    r = db_migrate(db, err);
    if (r < 0) {
        return r;
    }
    *ret = TAKE_PTR(owned);
    return 0;
}

/* Past this size the WAL is checkpointed and truncated at close. */
#define WAL_TRUNCATE_AT (1u << 20)

void db_close(struct berth_db *db)
{
    if (!db) {
        return;
    }
    if (db->h) {
        /* Automatic checkpoints cannot restart the WAL while another berth
         * process reads (a `rm -f` and the container's exit handler at
         * once, say): under such overlap it only grows, and every process's
         * first query reads all of it. Whoever closes with a big WAL waits
         * briefly for readers and truncates it; if they stay, a later close
         * will. */
        struct stat st;
        _cleanup_free_ char *wal = xasprintf("%s-wal", db->path);
        if (stat(wal, &st) == 0 && (uint64_t)st.st_size > WAL_TRUNCATE_AT) {
            sq.sqlite3_busy_timeout(db->h, 200);
            (void)sq.sqlite3_exec(db->h, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        }
        sq.sqlite3_close_v2(db->h);
    }
    free(db->path);
    free(db);
}

int db_begin(struct berth_db *db, struct berth_error **err)
{
    int rc = sq.sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sq_error(db, rc, err, "begin transaction");
}

int db_commit(struct berth_db *db, struct berth_error **err)
{
    int rc = sq.sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        int r = sq_error(db, rc, err, "commit");
        db_rollback(db);
        return r;
    }
    return 0;
}

void db_rollback(struct berth_db *db)
{
    if (db && db->h && !sq.sqlite3_get_autocommit(db->h)) {
        sq.sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    }
}

static int bind_args(struct db_stmt *st, const char *fmt, va_list ap, struct berth_error **err)
{
    int idx = 1;
    for (const char *f = fmt; *f; f++, idx++) {
        int rc;
        switch (*f) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            rc = s ? sq.sqlite3_bind_text(st->st, idx, s, -1, SQLITE_TRANSIENT)
                   : sq.sqlite3_bind_null(st->st, idx);
            break;
        }
        case 'i':
            rc = sq.sqlite3_bind_int64(st->st, idx, va_arg(ap, int64_t));
            break;
        case 'b':
            rc = sq.sqlite3_bind_int64(st->st, idx, va_arg(ap, int));
            break;
        default:
            return berth_error_set(err, EINVAL, "db: bad parameter format '%c'", *f);
        }
        if (rc != SQLITE_OK) {
            return sq_error(st->db, rc, err, "bind");
        }
    }
    return 0;
}

static int vquery(struct berth_db *db, struct db_stmt **ret, struct berth_error **err,
                  const char *sql, const char *fmt, va_list ap)
{
    struct db_stmt *st = xcalloc(1, sizeof(*st));
    st->db = db;
    _cleanup_(db_stmt_freep) struct db_stmt *owned = st;
    int rc = sq.sqlite3_prepare_v2(db->h, sql, -1, &st->st, NULL);
    if (rc != SQLITE_OK) {
        return sq_error(db, rc, err, "prepare");
    }
    int r = bind_args(st, fmt, ap, err);
    if (r < 0) {
        return r;
    }
    *ret = TAKE_PTR(owned);
    return 0;
}

int db_query(struct berth_db *db, struct db_stmt **ret, struct berth_error **err, const char *sql,
             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vquery(db, ret, err, sql, fmt, ap);
    va_end(ap);
    return r;
}

int db_run(struct berth_db *db, struct berth_error **err, const char *sql, const char *fmt, ...)
{
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    va_list ap;
    va_start(ap, fmt);
    int r = vquery(db, &st, err, sql, fmt, ap);
    va_end(ap);
    if (r < 0) {
        return r;
    }
    while ((r = db_step(st, err)) > 0) {
    }
    if (r < 0) {
        return r;
    }
    return sq.sqlite3_changes(db->h);
}

int db_get_text(struct berth_db *db, char **ret, struct berth_error **err, const char *sql,
                const char *fmt, ...)
{
    _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
    va_list ap;
    va_start(ap, fmt);
    int r = vquery(db, &st, err, sql, fmt, ap);
    va_end(ap);
    if (r < 0) {
        return r;
    }
    r = db_step(st, err);
    if (r < 0) {
        return r;
    }
    if (r == 0 || !db_text(st, 0)) {
        return -ENOENT;
    }
    *ret = xstrdup(db_text(st, 0));
    return 0;
}

int db_step(struct db_stmt *st, struct berth_error **err)
{
    int rc = sq.sqlite3_step(st->st);
    if (rc == SQLITE_ROW) {
        return 1;
    }
    if (rc == SQLITE_DONE) {
        return 0;
    }
    return sq_error(st->db, rc, err, "query");
}

const char *db_text(struct db_stmt *st, int col)
{
    return (const char *)sq.sqlite3_column_text(st->st, col);
}

int64_t db_int(struct db_stmt *st, int col)
{
    return sq.sqlite3_column_int64(st->st, col);
}

void db_stmt_free(struct db_stmt *st)
{
    if (!st) {
        return;
    }
    if (st->st) {
        sq.sqlite3_finalize(st->st);
    }
    free(st);
}
