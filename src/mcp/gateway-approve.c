/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one point every tools/call of the gateway passes. The Approval
 * Cliff (issue 5) decides here; until then everything is allowed and
 * logged. Arguments are never logged (they may hold secrets), only a
 * digest that lets a later audit match a call to its arguments.
 */
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "mcp/gateway.h"

void gateway_args_digest(json_t *arguments, char out[17])
{
	unsigned char h[SHA256_DIGEST_LENGTH];
	char *s = arguments
			  ? json_dumps(arguments, JSON_COMPACT | JSON_SORT_KEYS)
			  : NULL;

	SHA256((const unsigned char *)(s ? s : "{}"), strlen(s ? s : "{}"), h);
	for (int i = 0; i < 8; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
	free(s);
}

int gateway_approve(const struct gateway_call *call, char *why, size_t why_len)
{
	char digest[17];

	(void)why;
	(void)why_len;
	gateway_args_digest(call->arguments, digest);
	lg_info("gateway: tools/call server=%s tool=%s args=sha256:%s "
		"decision=allow",
		call->server ? call->server : "(built-in)", call->tool, digest);
	return 0;
}
