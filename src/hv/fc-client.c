/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Firecracker API client on libcurl. Written to Firecracker's documented
 * API (swagger firecracker.yaml): PUT/PATCH with a JSON body answer 204,
 * GET answers 200 with JSON, errors are 4xx/5xx with
 * {"fault_message": "..."}. Whatever comes back is treated as hostile:
 * bodies are capped, and text that reaches an error message is cleaned
 * of control characters.
 */
#include "hv/fc-client.h"
#include "hv/errmsg.h"
#include "hv/fc-proc.h"

#include "common/clock.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* How much of a non-JSON error body is quoted. */
#define EXCERPT_MAX 200u
/* Backoff between connection attempts while waiting for the socket. */
#define READY_BACKOFF_FIRST_MS 1u
#define READY_BACKOFF_MAX_MS 50u

struct lg_fc_client {
	CURL *curl;
	char *name;
	char *sock_path;
	unsigned timeout_ms;
	struct curl_slist *headers;
	char curl_err[CURL_ERROR_SIZE];
};

/* The response body, growing up to LG_FC_RESPONSE_MAX. */
struct body {
	char *data;
	size_t len;
	bool too_big;
	bool oom;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init(void)
{
	/* Plain HTTP on a Unix socket: no TLS library to initialise. */
	curl_init_result = curl_global_init(CURL_GLOBAL_NOTHING);
}

int lg_fc_client_open(const char *name, const char *sock_path,
		      unsigned timeout_ms, struct lg_fc_client **out)
{
	struct lg_fc_client *c;
	struct curl_slist *h = NULL, *next;
	/* No "Expect: 100-continue": Firecracker's server does not do it. */
	static const char *const headers[] = {
		"Content-Type: application/json",
		"Accept: application/json",
		"Expect:",
	};

	*out = NULL;
	pthread_once(&curl_once, curl_init);
	if (curl_init_result != CURLE_OK)
		return -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->timeout_ms = timeout_ms;
	c->name = strdup(name);
	c->sock_path = strdup(sock_path);
	c->curl = curl_easy_init();
	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		next = curl_slist_append(h, headers[i]);
		if (!next) {
			curl_slist_free_all(h);
			h = NULL;
			break;
		}
		h = next;
	}
	c->headers = h;
	if (!c->name || !c->sock_path || !c->curl || !c->headers) {
		lg_fc_client_close(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void lg_fc_client_close(struct lg_fc_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->headers);
	free(c->name);
	free(c->sock_path);
	free(c);
}

void lg_fc_client_set_timeout(struct lg_fc_client *c, unsigned timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n;
	char *nd;

	if (len > LG_FC_RESPONSE_MAX - b->len) {
		b->too_big = true;
		return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
	}
	nd = realloc(b->data, b->len + len + 1);
	if (!nd) {
		b->oom = true;
		return 0;
	}
	memcpy(nd + b->len, p, len);
	b->data = nd;
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

/* Copies src into dst, control and non-ASCII bytes as '?'. */
static void clean_copy(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t n = srclen < dstlen - 1 ? srclen : dstlen - 1;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	dst[n] = '\0';
}

/* The fault_message of an error body, else an excerpt of the body. */
static void describe_fault(const struct body *b, char *buf, size_t len)
{
	const char *msg = NULL;
	json_t *j = NULL;

	if (b->len)
		j = json_loadb(b->data, b->len, 0, NULL);
	msg = json_string_value(json_object_get(j, "fault_message"));
	if (msg)
		clean_copy(buf, len, msg, strlen(msg));
	else if (b->len)
		clean_copy(buf, len < EXCERPT_MAX ? len : EXCERPT_MAX, b->data,
			   b->len);
	else
		snprintf(buf, len, "(empty body)");
	json_decref(j);
}

/* A failed transfer in words, and as -errno. */
static int transfer_error(struct lg_fc_client *c, CURLcode rc,
			  const struct body *b, char *why, size_t len)
{
	long os_errno = 0;

	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(why, len, "no answer within %u ms", c->timeout_ms);
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
		if (os_errno <= 0)
			os_errno = ECONNREFUSED;
		snprintf(why, len, "cannot connect to %s: %s", c->sock_path,
			 strerror((int)os_errno));
		return -(int)os_errno;
	case CURLE_GOT_NOTHING:
		snprintf(why, len, "connection closed without an answer");
		return -ECONNRESET;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
		snprintf(why, len, "connection lost: %s", c->curl_err);
		return -ECONNRESET;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		if (b->oom)
			break;
		snprintf(why, len, "answer larger than %u bytes",
			 LG_FC_RESPONSE_MAX);
		return -EMSGSIZE;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_WEIRD_SERVER_REPLY:
		snprintf(why, len, "not an HTTP answer: %s", c->curl_err);
		return -EPROTO;
	default:
		break;
	}
	if (rc == CURLE_OUT_OF_MEMORY || b->oom) {
		snprintf(why, len, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	snprintf(why, len, "%s%s%s", curl_easy_strerror(rc),
		 c->curl_err[0] ? ": " : "", c->curl_err);
	return -EIO;
}

/* First failing curl_easy_setopt wins; the rest are skipped. */
#define SETOPT(rc, c, opt, val)                                                \
	do {                                                                   \
		if ((rc) == CURLE_OK)                                          \
			(rc) = curl_easy_setopt((c)->curl, (opt), (val));      \
	} while (0)

static CURLcode prepare(struct lg_fc_client *c, const char *method,
			const char *url, const char *json, struct body *b)
{
	CURLcode rc = CURLE_OK;

	/* Keeps the open connection; clears the previous request's options. */
	curl_easy_reset(c->curl);
	SETOPT(rc, c, CURLOPT_UNIX_SOCKET_PATH, c->sock_path);
	SETOPT(rc, c, CURLOPT_URL, url);
	SETOPT(rc, c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SETOPT(rc, c, CURLOPT_NOSIGNAL, 1L);
	SETOPT(rc, c, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	SETOPT(rc, c, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
	SETOPT(rc, c, CURLOPT_MAXFILESIZE, (long)LG_FC_RESPONSE_MAX);
	SETOPT(rc, c, CURLOPT_HTTPHEADER, c->headers);
	SETOPT(rc, c, CURLOPT_WRITEFUNCTION, on_data);
	SETOPT(rc, c, CURLOPT_WRITEDATA, b);
	SETOPT(rc, c, CURLOPT_ERRORBUFFER, c->curl_err);
	if (strcmp(method, "GET") == 0) {
		SETOPT(rc, c, CURLOPT_HTTPGET, 1L);
	} else {
		SETOPT(rc, c, CURLOPT_CUSTOMREQUEST, method);
		SETOPT(rc, c, CURLOPT_POSTFIELDSIZE,
		       (long)(json ? strlen(json) : 0));
		SETOPT(rc, c, CURLOPT_POSTFIELDS, json ? json : "");
	}
	return rc;
}

/* Paths are ours ("/drives/rootfs"): no characters URLs would mangle. */
static bool path_ok(const char *path)
{
	if (path[0] != '/')
		return false;
	for (const char *p = path; *p; p++) {
		if (!strchr("/-_.", *p) && !(*p >= 'a' && *p <= 'z') &&
		    !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9'))
			return false;
	}
	return true;
}

static int request(struct lg_fc_client *c, const char *method, const char *path,
		   const char *json, long *status, char **response, char *err,
		   size_t errlen)
{
	struct body b = {0};
	char url[256], why[512];
	CURLcode rc;
	int ret = 0;
	int n;

	*status = 0;
	if (response)
		*response = NULL;
	n = snprintf(url, sizeof(url), "http://localhost%s", path);
	if (!path_ok(path) || n < 0 || (size_t)n >= sizeof(url)) {
		snprintf(err, errlen, "%s: %s: bad API path", c->name, method);
		return -EINVAL;
	}
	c->curl_err[0] = '\0';
	rc = prepare(c, method, url, json, &b);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(c->curl);
	if (rc != CURLE_OK) {
		ret = transfer_error(c, rc, &b, why, sizeof(why));
		snprintf(err, errlen, "%s: %s %s: %s", c->name, method, path,
			 why);
		free(b.data);
		return ret;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
	if (*status < 200 || *status > 299) {
		describe_fault(&b, why, sizeof(why));
		snprintf(err, errlen, "%s: %s %s: %ld %s", c->name, method,
			 path, *status, why);
		ret = -EREMOTEIO;
	}
	if (response && !b.data)
		b.data = calloc(1, 1);
	if (response && !b.data) {
		snprintf(err, errlen, "%s: %s %s: %s", c->name, method, path,
			 strerror(ENOMEM));
		return -ENOMEM;
	}
	if (response)
		*response = b.data;
	else
		free(b.data);
	return ret;
}

int lg_fc_client_put(struct lg_fc_client *c, const char *path,
		     const char *json_body, long *status, char **response,
		     char *err, size_t errlen)
{
	return request(c, "PUT", path, json_body, status, response, err,
		       errlen);
}

int lg_fc_client_patch(struct lg_fc_client *c, const char *path,
		       const char *json_body, long *status, char **response,
		       char *err, size_t errlen)
{
	return request(c, "PATCH", path, json_body, status, response, err,
		       errlen);
}

int lg_fc_client_get(struct lg_fc_client *c, const char *path, long *status,
		     char **response, char *err, size_t errlen)
{
	return request(c, "GET", path, NULL, status, response, err, errlen);
}

/* 0 connected; -ENOENT, -ECONNREFUSED, -EAGAIN: not yet; else -errno. */
static int try_connect(const struct sockaddr_un *sa)
{
	int fd, ret = 0;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int lg_fc_client_wait_ready(const char *name, const char *sock_path,
			    const struct lg_proc *proc, uint64_t deadline_ns,
			    char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint64_t start = lg_now_ns();
	unsigned backoff = READY_BACKOFF_FIRST_MS, wait;
	char how[160];
	int ret, st = 0, ms;

	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: socket path too long: %s", name,
			 sock_path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	for (;;) {
		ret = try_connect(&sa);
		if (ret == 0)
			return 0;
		if (ret != -ENOENT && ret != -ECONNREFUSED && ret != -EAGAIN) {
			errno = -ret;
			return lg_hv_syserr(err, errlen, "%s: connect %s", name,
					    sock_path);
		}
		if (lg_fc_proc_exited(proc, 0, &st)) {
			lg_proc_describe(st, how, sizeof(how));
			snprintf(err, errlen,
				 "%s %s before its API socket was ready", name,
				 how);
			return -ECHILD;
		}
		ms = lg_ms_until(deadline_ns);
		if (ms == 0) {
			snprintf(err, errlen,
				 "%s did not open its API socket %s within "
				 "%llu ms",
				 name, sock_path,
				 (unsigned long long)((lg_now_ns() - start) /
						      1000000ull));
			return -ETIMEDOUT;
		}
		wait = (unsigned)ms < backoff ? (unsigned)ms : backoff;
		if (proc) {
			lg_fc_proc_exited(proc, wait, NULL);
		} else {
			struct timespec nap = {.tv_nsec =
						       (long)wait * 1000000l};

			nanosleep(&nap, NULL);
		}
		backoff = backoff * 2 > READY_BACKOFF_MAX_MS
				  ? READY_BACKOFF_MAX_MS
				  : backoff * 2;
	}
}
