/* proto_status.c -- names and messages of the stable status codes (enum
 * occ_status in occlient.h): error replies carry the name, and
 * occ_strerror() / orcctl print the message. */
#include "config.h"

#include <stddef.h>

#include "proto.h"

struct status_text {
	uint32_t code;
	const char *name, *message;
};

static const struct status_text texts[] = {
	{ OCC_OK, "OK", "success" },
	{ OCC_BAD_REQUEST, "BAD_REQUEST", "malformed request" },
	{ OCC_BAD_FRAME, "BAD_FRAME", "malformed frame" },
	{ OCC_UNSUPPORTED_VERSION, "UNSUPPORTED_VERSION", "unsupported protocol version" },
	{ OCC_UNKNOWN_TYPE, "UNKNOWN_TYPE", "unknown message type" },
	{ OCC_DUPLICATE_ID, "DUPLICATE_ID", "request id already in flight" },
	{ OCC_PERMISSION, "PERMISSION", "permission denied" },
	{ OCC_NOT_FOUND, "NOT_FOUND", "no such model" },
	{ OCC_BUSY, "BUSY", "the model's request queue is full" },
	{ OCC_TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS", "too many requests in flight on this connection" },
	{ OCC_TOO_LARGE, "TOO_LARGE", "over a size limit" },
	{ OCC_CONTEXT_OVERFLOW, "CONTEXT_OVERFLOW", "the prompt does not fit the context" },
	{ OCC_MODEL_LOAD_FAILED, "MODEL_LOAD_FAILED", "the model could not be loaded" },
	{ OCC_NO_MEMORY, "NO_MEMORY", "the model does not fit in memory" },
	{ OCC_CANCELED, "CANCELED", "canceled" },
	{ OCC_UNSUPPORTED, "UNSUPPORTED", "not supported" },
	{ OCC_SHUTTING_DOWN, "SHUTTING_DOWN", "the daemon is shutting down" },
	{ OCC_INTERNAL, "INTERNAL", "internal error in the daemon" },
	{ OCC_CONNECT, "CONNECT", "could not connect to the daemon" },
	{ OCC_DISCONNECTED, "DISCONNECTED", "the daemon closed the connection" },
	{ OCC_PROTOCOL, "PROTOCOL", "the daemon sent a malformed or unexpected message" },
	{ OCC_INVALID_ARGUMENT, "INVALID_ARGUMENT", "invalid argument" },
	{ OCC_TIMEOUT, "TIMEOUT", "timed out" },
	{ OCC_IO, "IO", "socket error" },
	{ OCC_ALLOC_FAILED, "ALLOC_FAILED", "out of memory in the client" },
};

static const struct status_text *find(uint32_t code)
{
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (texts[i].code == code)
			return &texts[i];
	return NULL;
}

const char *orc_status_name(uint32_t code)
{
	const struct status_text *t = find(code);

	return t ? t->name : "UNKNOWN";
}

const char *orc_status_message(uint32_t code)
{
	const struct status_text *t = find(code);

	return t ? t->message : "unknown status code";
}
