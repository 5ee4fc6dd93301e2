/* db.h - the metadata database: <root>/berth.db, SQLite in WAL mode.
 *
 * Everything berth knows about images, tags, layers (and later containers,
 * names, volumes, networks and leases) lives here; related changes go in one
 * transaction (db_begin takes the write lock at once: BEGIN IMMEDIATE), so a
 * crash or a kill at any point leaves either the old or the new state.
 * Several berth processes share the file; a writer waits for another
 * (busy timeout 60 s) instead of failing.
 *
 * libsqlite3 is dlopen()ed ("libsqlite3.so.0") on the first db_open, as
 * libarchive and libcurl are: the runtime's hot path never loads it.
 * Statements are used through the small wrapper below, so no other module
 * touches the SQLite API:
 *
 *     _cleanup_(db_stmt_freep) struct db_stmt *st = NULL;
 *     r = db_query(db, &st, err, "SELECT id FROM images WHERE id = ?", "s", id);
 *     while ((r = db_step(st, err)) > 0) use(db_text(st, 0));
 *
 * Parameter formats: one character per '?': 's' text (NULL binds NULL),
 * 'i' int64_t, 'b' bool/int. Schema versions are PRAGMA user_version;
 * db_open migrates forward and refuses a newer schema than it knows.
 */
#ifndef BERTH_STORE_DB_H
#define BERTH_STORE_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "basic/error.h"

struct berth_db;
struct db_stmt;

int db_open(const char *root, struct berth_db **ret, struct berth_error **err);
void db_close(struct berth_db *db);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct berth_db *, db_close)

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. db_rollback is safe to call when no
 * transaction is open (it does nothing). */
int db_begin(struct berth_db *db, struct berth_error **err);
int db_commit(struct berth_db *db, struct berth_error **err);
void db_rollback(struct berth_db *db);

/* Run a statement that returns no rows; returns the number of rows changed. */
int db_run(struct berth_db *db, struct berth_error **err, const char *sql, const char *fmt, ...);
/* Prepare and bind a query; step it with db_step. */
int db_query(struct berth_db *db, struct db_stmt **ret, struct berth_error **err, const char *sql,
             const char *fmt, ...);
/* 1: a row is available, 0: done, < 0: error. */
int db_step(struct db_stmt *st, struct berth_error **err);
/* Column values of the current row; text is NULL for SQL NULL and valid until
 * the next step. */
const char *db_text(struct db_stmt *st, int col);
int64_t db_int(struct db_stmt *st, int col);
void db_stmt_free(struct db_stmt *st);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct db_stmt *, db_stmt_free)

/* One text value of a one-row query (-ENOENT when no row). */
int db_get_text(struct berth_db *db, char **ret, struct berth_error **err, const char *sql,
                const char *fmt, ...);

#endif
