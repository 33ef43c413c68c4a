/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the server side of an MCP session (src/mcp/server.c)
 * fed hostile messages, one per input line, as a transport would. The
 * output is a fake transport that checks every message the session sends
 * is a well-formed JSON-RPC message, so a bad answer aborts. Requests
 * the session does not answer itself go to a handler that answers at
 * once, fails, or waits for the cancellation, so the worker threads,
 * notifications/cancelled and the client's responses to the session's
 * own requests are exercised too.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "mcp/jsonrpc.h"
#include "mcp/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every outgoing message must parse back as JSON-RPC. */
static int fake_send(void *opaque, json_t *msg, const json_t *related)
{
	struct jsonrpc_msg m;
	json_t *bad = NULL;
	char err[128];
	size_t len;
	char *s;

	(void)opaque;
	(void)related;
	s = jsonrpc_dump(msg, &len);
	if (!s)
		return -ENOMEM;
	if (jsonrpc_parse(s, len, 0, &m, &bad, err, sizeof(err)) < 0) {
		/* Only an error answering an unreadable id has a null id. */
		json_t *e = json_object_get(msg, "error");

		if (!e || !json_is_null(json_object_get(msg, "id")))
			abort();
		json_decref(bad);
	} else {
		jsonrpc_msg_free(&m);
	}
	free(s);
	return 0;
}

static json_t *fake_list(void *opaque, const char *key)
{
	(void)opaque;
	(void)key;
	return json_pack("[{s:s},{s:s},{s:s}]", "name", "a", "name", "b",
			 "name", "c");
}

static int fake_request(void *opaque, struct mcp_req *req, const char *method,
			json_t *params, json_t **result,
			struct mcp_server_error *e)
{
	struct pollfd p = {.fd = req->cancel_fd, .events = POLLIN};

	(void)opaque;
	(void)params;
	if (strcmp(method, "wait") == 0) {
		/* Until cancelled or the session ends (at most 10 ms). */
		poll(&p, 1, 10);
		*result = json_object();
		return 0;
	}
	if (strcmp(method, "progress") == 0)
		mcp_req_progress(req, 1, 2, "half");
	if (strcmp(method, "fail") == 0) {
		e->code = -32000;
		snprintf(e->message, sizeof(e->message), "failed");
		return -EIO;
	}
	*result = json_pack("{s:s}", "method", method);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct mcp_server_info info = {.name = "fuzz",
						    .version = "0",
						    .logging = true,
						    .page_size = 2};
	static const struct mcp_server_handlers h = {.list = fake_list,
						     .request = fake_request};
	static int quiet;
	struct mcp_session *s;
	size_t start = 0;

	if (!quiet) {
		lg_log_set_level(LG_LOG_ERROR);
		quiet = 1;
	}
	s = mcp_session_new(&info, &h, NULL, fake_send, NULL);
	if (!s)
		return 0;
	for (size_t i = 0; i <= size; i++) {
		if (i < size && data[i] != '\n')
			continue;
		if (i > start)
			mcp_session_receive(s, (const char *)data + start,
					    i - start);
		start = i + 1;
	}
	mcp_session_log(s, "warning", "fuzz", json_string("done"));
	mcp_session_notify(s, "notifications/tools/list_changed", NULL, NULL);
	mcp_session_free(s);
	return 0;
}
