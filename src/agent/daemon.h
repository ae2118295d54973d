/* daemon.h — the entry point of the long-running follower (`warden agent --config FILE`):
 * polls the leader, applies what verifies through state.h, reports status. The command line
 * calls it when `warden agent` is not given a known subcommand. It must never apply anything
 * except through wd_agent_apply_* (verify -> transition -> durable apply). */
#ifndef WD_AGENT_DAEMON_H
#define WD_AGENT_DAEMON_H

/* Run the daemon with argv as given to `warden agent` (argv[0] is "agent"). Returns the
 * process exit code (0 ok, 1 operational error, 2 usage error, 3 rejected). */
int wd_agent_daemon_main(int argc, char **argv);

#endif
