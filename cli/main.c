/* main.c -- placeholder until the subcommands land. */
#include <stdio.h>
#include "common.h"

int main(void)
{
	fprintf(stderr, "wsus-replica: not built yet\n");
	return 1;
}
