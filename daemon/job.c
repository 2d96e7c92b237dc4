/* job.c -- freeing a job and the microsecond clock jobs are timed with. */
#include "config.h"

#include <stdlib.h>
#include <time.h>

#include "evq.h"
#include "job.h"

uint64_t orc_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void orc_job_free(struct orc_job *j)
{
	if (!j)
		return;
	free(j->text);
	free(j->ids);
	free(j->turns);
	free(j->turns_blob);
	for (size_t i = 0; i < j->n_stop; i++)
		free(j->stop[i]);
	free(j->stop);
	orc_event_free(j->term);
	free(j);
}
