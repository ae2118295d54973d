/* cmd_publish.c — placeholder until written. */
#include <stdio.h>

#include "cli.h"

int cmd_publish(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help("usage: warden publish\n");
    fprintf(stderr, "warden: publish is not built yet\n");
    return 1;
}
