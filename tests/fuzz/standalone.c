/* Runs a libFuzzer target over files or directories of inputs, so every
 * corpus is also a plain regression test (built with any compiler). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    size_t alloc = 1 << 16, len = 0;
    uint8_t *buf = malloc(alloc);
    size_t n;
    while (buf && (n = fread(buf + len, 1, alloc - len, f)) > 0) {
        len += n;
        if (len == alloc) {
            alloc *= 2;
            buf = realloc(buf, alloc);
        }
    }
    fclose(f);
    if (!buf) {
        return 1;
    }
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int ran = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) < 0) {
            perror(argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            bad |= run_file(argv[i]);
            ran++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (de->d_name[0] == '.') {
                continue;
            }
            char p[4096];
            snprintf(p, sizeof(p), "%s/%s", argv[i], de->d_name);
            bad |= run_file(p);
            ran++;
        }
        if (d) {
            closedir(d);
        }
    }
    printf("%d inputs\n", ran);
    return bad || ran == 0;
}
