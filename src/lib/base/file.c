/* file.c — bounded reads and durable writes. Never reads more than a caller's cap plus one byte,
 * and never leaves a half-written file at the destination path. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"

static wd_code read_fd(int fd, const char *name, size_t max, unsigned char **buf, size_t *len,
                       wd_err *e)
{
    size_t cap = 4096, n = 0;
    if (max < SIZE_MAX - 2 && cap > max + 2)
        cap = max + 2;
    unsigned char *b = malloc(cap);
    if (b == NULL)
        return wd_err_set(e, WD_E_NOMEM, "%s: out of memory", name);
    for (;;) {
        if (n == cap - 1) {
            if (n > max)
                break;
            size_t ncap = cap * 2;
            if (ncap > max + 2)
                ncap = max + 2;
            unsigned char *nb = realloc(b, ncap);
            if (nb == NULL) {
                free(b);
                return wd_err_set(e, WD_E_NOMEM, "%s: out of memory", name);
            }
            b = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, b + n, cap - 1 - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int err = errno;
            free(b);
            return wd_err_set(e, WD_E_IO, "%s: read failed: %s", name, strerror(err));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > max) {
        free(b);
        return wd_err_set(e, WD_E_OVERSIZED, "%s: larger than the limit of %zu bytes", name, max);
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return WD_OK;
}

wd_code wd_read_file(const char *path, size_t max, unsigned char **buf, size_t *len, wd_err *e)
{
    char name[256];
    *buf = NULL;
    *len = 0;
    if (strcmp(path, "-") == 0)
        return read_fd(STDIN_FILENO, "standard input", max, buf, len, e);
    wd_clean_text(path, name, sizeof name);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return wd_err_set(e, WD_E_IO, "%s: cannot open: %s", name, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        close(fd);
        return wd_err_set(e, WD_E_IO, "%s: not a readable file", name);
    }
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > (uintmax_t)max) {
        close(fd);
        return wd_err_set(e, WD_E_OVERSIZED, "%s: %jd bytes, larger than the limit of %zu bytes",
                          name, (intmax_t)st.st_size, max);
    }
    wd_code rc = read_fd(fd, name, max, buf, len, e);
    close(fd);
    return rc;
}

int wd_fsync_parent(const char *path)
{
    char *copy = strdup(path);
    if (copy == NULL)
        return -1;
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (dfd < 0)
        return -1;
    int rc = fsync(dfd);
    close(dfd);
    return rc;
}

/* wd_write_file and wd_write_file_new: with excl, the temp file is linked to path (which fails
 * when path exists, atomically) instead of renamed over it. */
static wd_code write_file(const char *path, const void *data, size_t len, unsigned mode,
                          bool excl, wd_err *e)
{
    char name[256];
    wd_clean_text(path, name, sizeof name);
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (tmp == NULL)
        return wd_err_set(e, WD_E_NOMEM, "%s: out of memory", name);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        free(tmp);
        return wd_err_set(e, WD_E_IO, "%s: cannot create: %s", name, strerror(err));
    }
    const unsigned char *p = data;
    size_t left = len;
    int err = 0;
    if (fchmod(fd, (mode_t)mode) != 0)
        err = errno;
    while (err == 0 && left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (err == 0 && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && err == 0)
        err = errno;
    if (err == 0 && !excl && rename(tmp, path) != 0)
        err = errno;
    if (err == 0 && excl && link(tmp, path) != 0)
        err = errno;
    if (excl || err != 0)
        unlink(tmp);
    free(tmp);
    if (err == EEXIST && excl)
        return wd_err_set(e, WD_E_IO, "%s: already exists; not replaced", name);
    if (err != 0)
        return wd_err_set(e, WD_E_IO, "%s: cannot write: %s", name, strerror(err));
    if (wd_fsync_parent(path) != 0)
        return wd_err_set(e, WD_E_IO, "%s: written, but syncing its directory failed: %s", name,
                          strerror(errno));
    return WD_OK;
}

wd_code wd_write_file(const char *path, const void *data, size_t len, unsigned mode, wd_err *e)
{
    return write_file(path, data, len, mode, false, e);
}

wd_code wd_write_file_new(const char *path, const void *data, size_t len, unsigned mode,
                          wd_err *e)
{
    return write_file(path, data, len, mode, true, e);
}
