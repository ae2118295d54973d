#!/usr/bin/env bash
# quickstart.sh WARDEN — warden's main job, end to end, in a scratch directory:
# keys and signatures, a trust roster and a signed policy bundle verified the way a follower
# does it, and servers started or blocked by the gate on the embedded default policy.
set -uo pipefail
W=${1:-build/src/cli/warden}
W=$(cd "$(dirname "$W")" && pwd)/$(basename "$W")
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
cd "$D"
step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; local rc=$?; printf '(exit %d)\n' "$rc"; return 0; }

step "1. keys: an offline root key and a policy signing key"
run "$W" key gen root.key
run "$W" key gen signer.key
PIN=$("$W" key id root.key.pub)

step "2. a signed envelope, verified, and a tampered copy rejected"
printf 'hello, fleet\n' > msg.txt
run "$W" dsse sign --type application/vnd.example+text --key signer.key msg.txt msg.dsse
run "$W" dsse verify --key signer.key.pub msg.dsse
sed 's/"payload":"aGVsbG8s/"payload":"aGVsbG9z/' msg.dsse > tampered.dsse
run "$W" dsse verify --key signer.key.pub tampered.dsse

step "3. a trust roster pinned by the root key's fingerprint ($PIN)"
run "$W" roster init --org acme --root-key root.key --out roster.1.json
run "$W" roster add-key roster.1.json --key signer.key.pub --purpose policy-bundle-signing \
    --sign root.key --out roster.json
run "$W" roster verify --pin "$PIN" roster.json

step "4. a signed policy bundle, verified as follower web-7 of acme/prod/eu1 would"
cat > policy.yaml <<'POLICY'
version: 1
mode: enforce
servers:
  default: deny
  rules:
    - name: official-everything
      action: allow
      reason: "reviewed"
      match:
        command: ["node", "npx"]
POLICY
run "$W" bundle create --policy policy.yaml --org acme --fleet prod --env eu1 --version 1 \
    --instances '*' --sign signer.key --out bundle.json
run "$W" bundle verify --roster roster.json --pin "$PIN" --org acme --fleet prod --env eu1 \
    --instance web-7 bundle.json

step "5. the gate on the embedded default policy: an allowed server, then inline code and a shell blocked"
printf 'console.log("hello from an allowed MCP server")\n' > server.js
run "$W" run --name hello -- node server.js
run "$W" run --name inline -- node -e 'console.log("inline code: this must never print")'
run "$W" run --name shell -- /bin/sh -c 'echo this must never print'
printf '\nquickstart finished\n'
