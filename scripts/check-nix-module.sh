#!/usr/bin/env bash
# Evaluates the NixOS hardening module (nix/modules/hardening.nix) with nixpkgs' module system for
# every level and checks that the options it sets carry exactly the values of nix/lib/settings.nix,
# which the test suite (tests/nix_policy.rs) compares with hardenctl's own policy.
#
# Needs Nix (Debian's nix-bin is enough) and a nixpkgs `lib` directory; nothing is built:
#   scripts/check-nix-module.sh /path/to/nixpkgs/lib
# Where the flake's inputs are available: scripts/check-nix-module.sh "$(nix eval --raw nixpkgs#path)/lib"
set -euo pipefail
cd "$(dirname "$0")/.."
lib=${1:?usage: $0 /path/to/nixpkgs/lib}

for level in minimal standard strict; do
  module=$(nix-instantiate --eval --strict --json nix/tests/module-eval.nix \
    --arg lib "import $(realpath "$lib")" --argstr level "$level" 2>/dev/null)
  settings=$(nix-instantiate --eval --strict --json \
    -E "(import ./nix/lib/settings.nix) (import ./nix/lib/policy.nix {}).levels.$level" 2>/dev/null)
  MODULE="$module" SETTINGS="$settings" LEVEL="$level" python3 - <<'PY'
import json, os, sys
m, s, level = json.loads(os.environ["MODULE"]), json.loads(os.environ["SETTINGS"]), os.environ["LEVEL"]
problems = []
def same(what, a, b):
    if a != b:
        problems.append(f"{what}: module {a!r} != policy {b!r}")
same("boot.kernel.sysctl", m["sysctl"], s["sysctl"])
same("boot.kernelParams", sorted(m["kernelParams"]), sorted(s["kernelParams"]))
same("boot.blacklistedKernelModules", sorted(m["blacklistedKernelModules"]), sorted(s["blacklistedKernelModules"]))
same("services.openssh.settings", m["opensshSettings"], s["opensshSettings"])
fw = s["firewall"]
same("networking.firewall.enable", m["firewall"]["enable"], True)
if fw["allowedTCPPorts"] is not None:
    same("networking.firewall.allowedTCPPorts", m["firewall"]["allowedTCPPorts"], fw["allowedTCPPorts"])
if fw["allowedUDPPorts"] is not None:
    same("networking.firewall.allowedUDPPorts", m["firewall"]["allowedUDPPorts"], fw["allowedUDPPorts"])
same("ssh rate limit rule", "limit rate over" in m["firewall"]["extraInputRules"], fw["sshRateLimit"])
same("security.auditd.enable", m["audit"]["auditd"], s["audit"]["auditd"])
if s["audit"]["auditd"]:
    same("security.audit.rules", m["audit"]["rules"], s["audit"]["rules"])
if problems:
    print(f"{level}: FAIL"); print("\n".join("  " + p for p in problems)); sys.exit(1)
print(f"{level}: the module sets every policy value ({len(m['sysctl'])} sysctls, "
      f"{len(m['kernelParams'])} kernel parameters, {len(m['opensshSettings'])} sshd settings)")
PY
done
