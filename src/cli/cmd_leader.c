/* cmd_leader.c — placeholder until written. */
#include <stdio.h>

#include "cli.h"

int cmd_leader(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help("usage: warden leader\n");
    fprintf(stderr, "warden: leader is not built yet\n");
    return 1;
}
