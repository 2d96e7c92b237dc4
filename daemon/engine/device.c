/* device.c -- what a backend runs on (engine.h, "the device"): the name and
 * memory that a backend reports through its ops table (mem_info,
 * device_name), a one-off query that starts a backend just to ask, and the
 * host's RAM and CPU name read from /proc for the CPU backend. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"

void orc_backend_describe(struct orc_backend *be, struct orc_device_info *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->backend = be->ops->name;
	ret->gpu = strcmp(be->ops->name, "cpu") != 0;
	if (be->ops->device_name)
		be->ops->device_name(be, ret->name, sizeof(ret->name));
	if (be->ops->mem_info)
		be->ops->mem_info(be, &ret->mem_free, &ret->mem_total);
	if (ret->mem_total == 0)
		ret->mem_free = 0;
}

int orc_device_query(enum orc_backend_kind kind, struct orc_device_info *ret, struct orc_err *err)
{
	struct orc_backend_opts opts = { .n_threads = 1, .device = 0 };
	struct orc_backend *be;
	int rc = orc_backend_new(kind, &opts, &be, NULL, 0, err);

	if (rc < 0)
		return rc;
	orc_backend_describe(be, ret);
	orc_backend_free(be);
	return 0;
}

/* ---- the host ---- */

void orc_host_mem_info(uint64_t *ret_free, uint64_t *ret_total)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kb;
	uint64_t avail = 0, total = 0;
	char line[256];

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			total = (uint64_t)kb * 1024;
		else if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			avail = (uint64_t)kb * 1024;
	}
	if (f)
		fclose(f);
	*ret_free = total ? avail : 0;
	*ret_total = total;
}

void orc_host_cpu_name(char *buf, size_t size)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[512];

	if (size)
		buf[0] = '\0';
	while (f && size && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		size_t n;

		if (strncmp(line, "model name", 10) != 0 || !colon)
			continue;
		colon += 1 + (colon[1] == ' ');
		n = strcspn(colon, "\n");
		snprintf(buf, size, "%.*s", (int)n, colon);
		break;
	}
	if (f)
		fclose(f);
}
