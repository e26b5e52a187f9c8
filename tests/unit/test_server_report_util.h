/*
 * test_server_report_util.h -- helpers of the client report tests
 * (test_server_report*.c): posting to ReportingWebService with the answer
 * checked against its XSD, request bodies, the writer. Strings returned are
 * malloc'd for the caller.
 */
#ifndef TEST_SERVER_REPORT_UTIL_H
#define TEST_SERVER_REPORT_UTIL_H

#include <pthread.h>

#include "test_server_client_util.h"

#define REPORT_PATH "/ReportingWebService/ReportingWebService.asmx"
#define EX16 "16-ReportEventBatch-Event148-request.xml"
#define EX17 "17-ReportEventBatch-Event147-156-request.xml"
#define EX18 "18-ReportEventBatch-Event183-202-147-156-request.xml"

#define U1 "11111111-1111-1111-1111-111111111111"
#define U2 "22222222-2222-2222-2222-222222222222"
#define U3 "33333333-3333-3333-3333-333333333333"
#define U4 "44444444-4444-4444-4444-444444444444"
#define U5 "55555555-5555-5555-5555-555555555555"
#define U6 "66666666-6666-6666-6666-666666666666"

/* The Body's first child, alone in a document, against ReportingWebService.xsd. */
void validate_reporting(const char *text);
/* POST a whole envelope to Reporting from peer 192.0.2.20; a 200 answer is schema-checked. */
char *report_post(struct tsrv *t, const char *body, int *status);
/* An example request with the client's cookie in it. */
char *example_for(const struct tclient *c, const char *file);
/* Post a body and expect ReportEventBatchResult want ("true"/"false"). */
void report_ok(struct tsrv *t, const char *body, const char *want);
/* Post a body and expect a fault with ErrorCode code. */
void report_fault(struct tsrv *t, const char *body, const char *code);
struct storage_report_summary summary(struct tsrv *t);
/* A ReportEventBatch body of raw ReportingEvent elements. */
char *batch_body(const struct tclient *c, const char *events);
/* One ReportingEvent; misc is a list of <string> elements or "". */
void add_event(struct wsus_buf *b, const char *instance, int event_id, const char *uid, const char *when,
	       const char *misc);
/* server_report_start on t's server (lim NULL: defaults). */
void start_writer(struct tsrv *t, const struct server_report_limits *lim);

/* A ReportEventBatch posted from another thread (it waits for its commit). */
struct tpost {
	struct tsrv *t;
	const char *body;
	char *resp;
	int status;
	pthread_t thread;
};
void tpost_start(struct tpost *p, struct tsrv *t, const char *body);
/* Wait for the answer (the caller frees it). */
char *tpost_join(struct tpost *p, int *status);
/* 1 for a true ReportEventBatchResult, 0 for false; fails the test otherwise. */
int report_result(const char *resp);
/* Poll (up to 5 s) until the writer's queue holds depth events. */
void wait_queued(struct tsrv *t, size_t depth);

#endif /* TEST_SERVER_REPORT_UTIL_H */
