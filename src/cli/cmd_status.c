/* cmd_status.c — placeholder until written. */
#include <stdio.h>

#include "cli.h"

int cmd_status(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help("usage: warden status\n");
    fprintf(stderr, "warden: status is not built yet\n");
    return 1;
}
