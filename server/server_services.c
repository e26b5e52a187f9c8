/*
 * server_services.c -- the table of SOAP services the front end routes to
 * (server.c matches a request path against each service's paths). Each
 * service is defined in its own file; add it here, before the NULL.
 */
#include "server_int.h"

const struct server_service *const server_services[] = {
	&server_sss_service,
	&server_dssauth_service,
	&server_reporting_service,
	&server_client_service,
	&server_simpleauth_service,
	NULL,
};
