/* fileio.h - whole-file reads and writes relative to a directory fd.
 *
 * Every read takes a size cap: input never decides how much we allocate.
 * write_file_atomic_at() writes a temp file, fsyncs it and renames it over
 * the target, so readers see the old or the new content, never a mix.
 */
#ifndef BERTH_BASIC_FILEIO_H
#define BERTH_BASIC_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* Read all of fd into a NUL-terminated buffer; -EFBIG past max bytes. */
int read_fd_full(int fd, size_t max, char **ret, size_t *ret_len, struct berth_error **err);
int read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len,
                 struct berth_error **err);
/* Write data to an existing file (O_WRONLY|O_TRUNC unless append); for
 * procfs and cgroupfs knobs. No create. */
int write_file_at(int dirfd, const char *path, const char *data, size_t len,
                  struct berth_error **err);
int write_file_atomic_at(int dirfd, const char *path, const void *data, size_t len, mode_t mode,
                         struct berth_error **err);
/* Like write_file_atomic_at without the fsync: readers still see old or new
 * content, but a crash may lose the write. For state that dies with the
 * machine anyway (runtime state under /run). */
int write_file_replace_at(int dirfd, const char *path, const void *data, size_t len, mode_t mode,
                          struct berth_error **err);
/* Create a file that must not exist yet (O_EXCL, mode exactly as given) and
 * write data: for files of a directory just made, which nobody reads
 * before it is complete (no temp file and rename). On failure the file is
 * removed. */
int write_file_new_at(int dirfd, const char *path, const void *data, size_t len, mode_t mode,
                      struct berth_error **err);
int write_all(int fd, const void *data, size_t len);
/* Read exactly len bytes; returns bytes read (short only at EOF) or -errno. */
ssize_t read_all(int fd, void *buf, size_t len);
/* mkdir -p for host paths owned by berth (not for paths inside a rootfs). */
int mkdir_p(const char *path, mode_t mode, struct berth_error **err);
/* Remove name (file or tree) under dirfd without following symlinks and
 * without crossing into other mounts. Missing is success. */
int rm_rf_at(int dirfd, const char *name, struct berth_error **err);
/* rm_rf_at of everything in the directory dfd, which stays. */
int rm_rf_contents(int dfd, struct berth_error **err);
/* 1 when the directory dfd has no entries, 0 when it has, -errno. */
int dir_is_empty(int dfd);

#endif
