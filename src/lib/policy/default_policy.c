/* default_policy.c — the policy built into warden, byte for byte examples/default-policy.yaml
 * (a unit test compares them). Must never differ from that file or grow logic of its own. */
#include "warden/policy.h"

static const char default_yaml[] =
    "# The policy built into warden: what `warden run` enforces when no --policy is given.\n"
    "# docs/POLICY.md explains each rule. src/lib/policy/default_policy.c holds the same bytes\n"
    "# (a unit test keeps the two identical).\n"
    "version: 1\n"
    "mode: enforce\n"
    "servers:\n"
    "  default: deny\n"
    "  rules:\n"
    "    - name: no-shells\n"
    "      action: deny\n"
    "      reason: \"shells and launchers can start anything; run the server program itself\"\n"
    "      match:\n"
    "        command: [sh, bash, dash, zsh, ksh, mksh, csh, tcsh, fish, busybox, env, sudo, su, doas, xargs, nohup, setsid]\n"
    "    - name: local-stdio-runtimes\n"
    "      action: allow\n"
    "      reason: \"stdio servers started by a language runtime, within the restricted profile\"\n"
    "      match:\n"
    "        transport: [stdio]\n"
    "        command: [node, npx, python3, python, uvx, deno, bun]\n"
    "      limits:\n"
    "        profile: restricted\n"
    "permission_profiles:\n"
    "  restricted:\n"
    "    network: none\n"
    "    read: []\n"
    "    write: []\n"
    "    env: [HOME, PATH, LANG, \"LC_*\", TZ, TERM, TMPDIR, USER, \"MCP_*\"]\n"
    "    privileged: false\n"
    "mcp_tool_policy:\n"
    "  default: allow\n";

const char *wd_policy_default_yaml(void)
{
    return default_yaml;
}
