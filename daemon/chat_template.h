/* chat_template.h -- built-in chat formats (ChatML as Qwen2.5 uses it,
 * Phi-3, Llama 2, Llama 3), chosen by recognising the text of a GGUF's
 * tokenizer.chat_template. The Jinja template itself is never executed:
 * each format is written out in C and renders messages to prompt text
 * meant to be tokenized with BOS added as the file says and special
 * tokens parsed (ORC_TOK_ADD_SPECIAL | ORC_TOK_PARSE_SPECIAL). */
#ifndef ORC_CHAT_TEMPLATE_H
#define ORC_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

enum orc_chat_kind {
	ORC_CHAT_NONE = 0,      /* no template, or one we do not recognise */
	ORC_CHAT_CHATML,        /* <|im_start|>role\n...<|im_end|>\n (Qwen2.5) */
	ORC_CHAT_PHI3,          /* <|user|>\n...<|end|>\n<|assistant|>\n */
	ORC_CHAT_LLAMA2,        /* [INST] <<SYS>>...<</SYS>> ... [/INST] */
	ORC_CHAT_LLAMA3,        /* <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
};

/* Same numbers as enum orc_role of the protocol. */
enum orc_chat_role { ORC_CHAT_SYSTEM = 1, ORC_CHAT_USER = 2, ORC_CHAT_ASSISTANT = 3 };

struct orc_chat_format {
	enum orc_chat_kind kind;
	const char *default_system;  /* used when no system message comes (Qwen2.5); may be NULL */
	bool system_role;            /* the format renders system messages (else they are dropped) */
};

struct orc_chat_turn {
	enum orc_chat_role role;
	const char *content;
	size_t len;
};

/* Recognise a template text. Unknown text gives kind ORC_CHAT_NONE. */
void orc_chat_format_detect(const char *tmpl, size_t len, struct orc_chat_format *ret);
/* "chatml", "phi3", "llama2", "llama3"; "" for NONE. */
const char *orc_chat_format_name(enum orc_chat_kind kind);

/* Render the conversation followed by the assistant's generation prompt.
 * *ret is malloc'ed and NUL-terminated. -ENOTSUP for kind NONE, -EINVAL for
 * a bad role or no turns. */
int orc_chat_render(const struct orc_chat_format *f, const struct orc_chat_turn *turns,
		    size_t n, char **ret, size_t *ret_len, struct orc_err *err);

#endif
