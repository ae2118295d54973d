/* daemon.c — placeholder for the follower daemon: this branch builds the state directory and
 * the offline commands only. It must never pretend to run: it says so and exits 1. */
#include <stdio.h>

#include "daemon.h"

int wd_agent_daemon_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "warden agent: the daemon is not built in this branch\n");
    return 1;
}
