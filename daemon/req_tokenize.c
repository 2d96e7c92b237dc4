/* req_tokenize.c -- tokenize and detokenize with a model's tokenizer. They
 * run on the scheduler thread (a long text must not stall the event loop),
 * between two decode steps, and load the model first when needed. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "req.h"
#include "server.h"

void orc_req_tokenize(struct orc_conn *c, const struct orc_msg *m)
{
	const struct orc_msg_tokenize *t = &m->u.tokenize;
	struct orc_reg_model *e;
	struct orc_job *j;

	if (t->text.len > ORC_PROMPT_BYTES_MAX) {
		orc_conn_error(c, m->id, OCC_TOO_LARGE, "the text is over %u bytes", ORC_PROMPT_BYTES_MAX);
		return;
	}
	e = orc_req_model(c, m->id, &t->model);
	if (!e)
		return;
	j = orc_req_new_job(c, m->id, ORC_JOB_TOKENIZE);
	if (j) {
		j->text = malloc((size_t)t->text.len + 1);
		if (j->text) {
			memcpy(j->text, t->text.s, t->text.len);
			j->text[t->text.len] = '\0';
			j->text_len = t->text.len;
		}
	}
	if (!j || !j->text) {
		orc_job_free(j);
		orc_conn_error(c, m->id, OCC_INTERNAL, "out of memory");
		return;
	}
	j->add_special = t->add_special;
	j->parse_special = t->parse_special;
	j->pieces = t->pieces;
	orc_req_submit(c, m->id, e, j);
}

void orc_req_detokenize(struct orc_conn *c, const struct orc_msg *m)
{
	const struct orc_msg_detokenize *d = &m->u.detokenize;
	struct orc_reg_model *e = orc_req_model(c, m->id, &d->model);
	struct orc_job *j;

	if (!e)
		return;
	j = orc_req_new_job(c, m->id, ORC_JOB_DETOKENIZE);
	if (j) {
		j->ids = malloc((d->ids.n ? d->ids.n : 1) * sizeof(int32_t));
		if (j->ids) {
			memcpy(j->ids, d->ids.v, d->ids.n * sizeof(int32_t));
			j->n_ids = d->ids.n;
		}
	}
	if (!j || !j->ids) {
		orc_job_free(j);
		orc_conn_error(c, m->id, OCC_INTERNAL, "out of memory");
		return;
	}
	j->skip_special = d->skip_special;
	orc_req_submit(c, m->id, e, j);
}
