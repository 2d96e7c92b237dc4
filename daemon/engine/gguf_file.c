/* gguf_file.c -- gets a GGUF file's bytes for the parser (gguf.c): mapped
 * (offline tools), read() into anonymous memory (orcd: a later truncation
 * cannot raise SIGBUS, read() returns errors instead), or only the leading
 * header and tables (listing models). Library code. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf_impl.h"

#define META_FIRST_READ (1u << 20)  /* META: bytes read first, doubled until the tables fit */

static int open_regular(const char *path, int *ret_fd, uint64_t *ret_size, struct orc_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return orc_err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		r = orc_err_set(err, -errno, "%s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return orc_err_set(err, -EINVAL, "%s: not a regular file", path);
	}
	*ret_fd = fd;
	*ret_size = (uint64_t)st.st_size;
	return 0;
}

/* Anonymous memory filled with bytes [0, len) of fd; a short read means
 * the file shrank after fstat. */
static int read_anon(int fd, const char *path, size_t len, void **ret, struct orc_err *err)
{
	uint8_t *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t got = 0;
	int r;

	if (buf == MAP_FAILED)
		return orc_err_set(err, -errno, "%s: cannot allocate %zu bytes: %s", path, len,
				   strerror(errno));
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? orc_err_set(err, -errno, "%s: read: %s", path, strerror(errno))
				  : orc_err_set(err, -EIO, "%s: the file shrank while it was read "
						"(%zu of %zu bytes)", path, got, len);
			munmap(buf, len);
			return r;
		}
		got += (size_t)n;
	}
	mprotect(buf, len, PROT_READ);
	*ret = buf;
	return 0;
}

static int adopt(struct orc_gguf *g, void *buf, size_t len, bool copy)
{
	g->map = buf;
	g->map_len = len;
	g->private_copy = copy;
	return 0;
}

static int open_mmap(int fd, const char *path, uint64_t size, struct orc_gguf **ret,
		     struct orc_err *err)
{
	void *map = NULL;
	int r;

	if (size > 0) {
		map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED)
			return orc_err_set(err, -errno, "%s: mmap: %s", path, strerror(errno));
	}
	r = orc_gguf_parse(map, (size_t)size, size, ret, err);
	if (r < 0) {
		orc_err_prefix(err, "%s", path);
		if (map)
			munmap(map, (size_t)size);
		return r;
	}
	return map ? adopt(*ret, map, (size_t)size, false) : 0;
}

static int open_copy(int fd, const char *path, uint64_t size, struct orc_gguf **ret,
		     struct orc_err *err)
{
	void *buf = NULL;
	int r;

	if (size > SIZE_MAX)
		return orc_err_set(err, -EFBIG, "%s: too large", path);
	if (size > 0 && (r = read_anon(fd, path, (size_t)size, &buf, err)) < 0)
		return r;
	r = orc_gguf_parse(buf, (size_t)size, size, ret, err);
	if (r < 0) {
		orc_err_prefix(err, "%s", path);
		if (buf)
			munmap(buf, (size_t)size);
		return r;
	}
	return buf ? adopt(*ret, buf, (size_t)size, true) : 0;
}

/* Parse growing prefixes until the tables fit (or the whole file was read:
 * then the parser's error stands). At most about twice the file is read. */
static int open_meta(int fd, const char *path, uint64_t size, struct orc_gguf **ret,
		     struct orc_err *err)
{
	uint64_t len = size < META_FIRST_READ ? size : META_FIRST_READ;
	void *buf = NULL;
	int r;

	for (;;) {
		if (len > 0 && (r = read_anon(fd, path, (size_t)len, &buf, err)) < 0)
			return r;
		r = orc_gguf_parse(buf, (size_t)len, size, ret, err);
		if (r == 0)
			return buf ? adopt(*ret, buf, (size_t)len, false) : 0;
		if (buf)
			munmap(buf, (size_t)len);
		buf = NULL;
		if (len == size || r == -ENOMEM)
			return orc_err_prefix(err, "%s", path), r;
		len = len > size / 2 ? size : len * 2;
		orc_err_clear(err);
	}
}

int orc_gguf_open_read(const char *path, enum orc_gguf_read how, struct orc_gguf **ret,
		       struct orc_err *err)
{
	uint64_t size = 0;
	int fd = -1, r;

	if ((r = open_regular(path, &fd, &size, err)) < 0)
		return r;
	if (how == ORC_GGUF_COPY)
		r = open_copy(fd, path, size, ret, err);
	else if (how == ORC_GGUF_META)
		r = open_meta(fd, path, size, ret, err);
	else
		r = open_mmap(fd, path, size, ret, err);
	close(fd);
	return r;
}

int orc_gguf_open(const char *path, struct orc_gguf **ret, struct orc_err *err)
{
	return orc_gguf_open_read(path, ORC_GGUF_MMAP, ret, err);
}

void orc_gguf_drop_tensor_data(struct orc_gguf *g)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t keep;

	if (!g || !g->private_copy || page <= 0)
		return;
	keep = (g->data_offset + (uint64_t)page - 1) / (uint64_t)page * (uint64_t)page;
	if (keep < g->map_len) {
		munmap((uint8_t *)g->map + keep, g->map_len - keep);
		g->map_len = (size_t)keep;
		g->buf_len = keep;
	}
	for (uint64_t i = 0; i < g->n_tensors; i++)
		g->tensors[i].data = NULL;
}
