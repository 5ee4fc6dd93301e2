/* dl.h - libraries loaded on first use instead of linked.
 *
 * Linked, libarchive, libcurl, libsqlite3 and the decompressors would load
 * dozens of shared objects at every start of berth, the runtime's hot path
 * included; a module instead lists the functions it uses and resolves them
 * once, on the first call that needs them:
 *
 *     #define SQ_SYMBOLS(X) X(sqlite3_open_v2) X(sqlite3_close_v2)
 *     DEFINE_DL_LIB(sq, SQ_SYMBOLS, "libsqlite3.so.0", "libsqlite3-0")
 *     ...
 *     int r = sq_load(err);      // 0, or -ELIBACC/-ELIBBAD with a clear message
 *     sq.sqlite3_open_v2(...);
 *
 * The table's members keep the declared types of the real functions (the
 * library's header is included at build time, only for its declarations).
 * Loading is thread-safe (pthread_once); the handle stays open for the life
 * of the process, since the table points into it.
 */
#ifndef BERTH_COMMON_DL_H
#define BERTH_COMMON_DL_H

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

#include "basic/error.h"

#define DL_MEMBER_(name) __typeof__(name) *name;
#define DL_RESOLVE_(name)                                                                          \
    if (!missing) {                                                                                \
        t->name = (__typeof__(name) *)dlsym(h, #name);                                             \
        if (!t->name)                                                                              \
            missing = #name;                                                                       \
    }

/* Defines the table `lib`, and lib_load(err). package names the Debian
 * package to install when the library is absent. */
#define DEFINE_DL_LIB(lib, SYMBOLS, soname, package)                                               \
    static struct {                                                                                \
        SYMBOLS(DL_MEMBER_)                                                                        \
    } lib;                                                                                         \
    static pthread_once_t lib##_once = PTHREAD_ONCE_INIT;                                          \
    static bool lib##_ok;                                                                          \
    static const char *lib##_missing;                                                              \
    static void lib##_load_once(void)                                                              \
    {                                                                                              \
        __typeof__(lib) *t = &lib;                                                                 \
        const char *missing = NULL;                                                                \
        void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);                                           \
        if (!h)                                                                                    \
            return;                                                                                \
        SYMBOLS(DL_RESOLVE_)                                                                       \
        lib##_missing = missing;                                                                   \
        lib##_ok = !missing;                                                                       \
    }                                                                                              \
    static inline int lib##_load(struct berth_error **err)                                         \
    {                                                                                              \
        pthread_once(&lib##_once, lib##_load_once);                                                \
        if (lib##_missing)                                                                         \
            return berth_error_set(err, ELIBBAD, "%s: missing symbol '%s'", soname,                \
                                   lib##_missing);                                                 \
        if (!lib##_ok)                                                                             \
            return berth_error_set(err, ELIBACC, "%s not found: install %s", soname, package);     \
        return 0;                                                                                  \
    }

/* The same table for a library linked in (statically): filled at build
 * time, lib_load() always succeeds. */
#define DL_LINKED_(name) .name = name,
#define DEFINE_LINKED_LIB(lib, SYMBOLS)                                                            \
    static const struct {                                                                          \
        SYMBOLS(DL_MEMBER_)                                                                        \
    } lib = {SYMBOLS(DL_LINKED_)};                                                                 \
    static inline int lib##_load(struct berth_error **err)                                         \
    {                                                                                              \
        (void)err;                                                                                 \
        return 0;                                                                                  \
    }

#endif
