/* cmd_pki.c — placeholder until written. */
#include <stdio.h>

#include "cli.h"

int cmd_pki(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return cli_help("usage: warden pki\n");
    fprintf(stderr, "warden: pki is not built yet\n");
    return 1;
}
