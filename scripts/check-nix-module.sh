#!/usr/bin/env bash
# Evaluates the NixOS side with nixpkgs' own lib, where the test suite (tests/nix_policy.rs) uses
# the repository's minimal stand-in (nix/tests/minilib.nix) because CI has no nixpkgs:
#   1. the hardening module (nix/modules/hardening.nix), for every level, sets exactly the values of
#      nix/lib/settings.nix (which the test suite compares with hardenctl's own policy);
#   2. nixpkgs' lib and minilib.nix give byte-identical results, for every level and for the
#      flake's outputs (nix/tests/flake-outputs.nix), so the offline tests stand for nixpkgs;
#      and for the ROS 2 environment module (nix/tests/ros2-eval.nix);
#   3. the agent's sandbox equals packaging/hardenctl.service's, when that unit exists;
#   4. with NIX_ROS_OVERLAY=/path/to/nix-ros-overlay: the ROS 2 packages the images use exist in
#      both distros; with NIXOS_WSL=/path/to/NixOS-WSL: the wsl.* options the WSL image sets exist.
#
# Needs Nix (Debian's nix-bin is enough) and a nixpkgs `lib` directory; nothing is built:
#   scripts/check-nix-module.sh /path/to/nixpkgs/lib
# Where the flake's inputs are available:
#   scripts/check-nix-module.sh "$(nix eval --raw --impure --expr '(builtins.getFlake (toString ./.)).inputs.nixpkgs.outPath')/lib"
set -euo pipefail
cd "$(dirname "$0")/.."
lib=$(realpath "${1:?usage: $0 /path/to/nixpkgs/lib}")
eval_json() { nix-instantiate --eval --strict --json "$@" 2>/dev/null; }

for level in minimal standard strict; do
  module=$(eval_json nix/tests/module-eval.nix --arg lib "import $lib" --argstr level "$level")
  minimal=$(eval_json nix/tests/module-eval.nix --arg lib "import ./nix/tests/minilib.nix" --argstr level "$level")
  if [ "$module" != "$minimal" ]; then
    echo "$level: nixpkgs' lib and nix/tests/minilib.nix evaluate the module differently"; exit 1
  fi
  settings=$(eval_json -E "(import ./nix/lib/settings.nix) (import ./nix/lib/policy.nix {}).levels.$level")
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
same("ssh rate limit table", "limit rate over" in m["firewall"]["tables"].get("hardenctl-ssh-limit", {}).get("content", ""), fw["sshRateLimit"])
same("security.auditd.enable", m["audit"]["auditd"], s["audit"]["auditd"])
if s["audit"]["auditd"]:
    same("security.audit.rules", m["audit"]["rules"], s["audit"]["rules"])
same("systemd.services.hardenctl", "hardenctl" in m["services"], s["services"]["hardenctl"])
# The agent checks integrity itself; the timer is for a system without the agent.
same("systemd.timers.hardenctl-integrity", "hardenctl-integrity" in m["timers"],
     s["services"]["integrityTimer"] and not s["services"]["hardenctl"])
same("systemd.timers.hardenctl-update-check", "hardenctl-update-check" in m["timers"], s["services"]["updateCheck"])
if problems:
    print(f"{level}: FAIL"); print("\n".join("  " + p for p in problems)); sys.exit(1)
print(f"{level}: the module sets every policy value ({len(m['sysctl'])} sysctls, "
      f"{len(m['kernelParams'])} kernel parameters, {len(m['opensshSettings'])} sshd settings, "
      f"{len(m['services'])} services, {len(m['timers'])} timers); minilib.nix agrees with nixpkgs' lib")
PY
done

outputs=$(eval_json nix/tests/flake-outputs.nix --arg lib "import $lib")
if [ "$outputs" != "$(eval_json nix/tests/flake-outputs.nix --arg lib "import ./nix/tests/minilib.nix")" ]; then
  echo "flake outputs: nixpkgs' lib and nix/tests/minilib.nix disagree"; exit 1
fi
echo "flake outputs: $outputs"

for args in "distro=jazzy" "distro=humble gui=true" "distro=jazzy openDdsPorts=true"; do
  set --
  for a in $args; do
    k=${a%%=*} v=${a#*=}
    if [ "$k" = distro ]; then set -- "$@" --argstr "$k" "$v"; else set -- "$@" --arg "$k" "$v"; fi
  done
  real=$(eval_json nix/tests/ros2-eval.nix --arg lib "import $lib" "$@")
  if [ "$real" != "$(eval_json nix/tests/ros2-eval.nix --arg lib "import ./nix/tests/minilib.nix" "$@")" ]; then
    echo "ros2Dev ($args): nixpkgs' lib and nix/tests/minilib.nix disagree"; exit 1
  fi
  echo "ros2Dev ($args): $real"
done

if [ -f packaging/hardenctl.service ]; then
  agent=$(eval_json -E "(import ./nix/tests/module-eval.nix { lib = import $lib; level = \"standard\"; }).services.hardenctl.serviceConfig")
  AGENT="$agent" python3 - <<'PY'
import json, os, re, sys
nix = json.loads(os.environ["AGENT"])
unit, section = {}, None
for line in open("packaging/hardenctl.service", encoding="utf-8"):
    line = line.strip()
    if line.startswith("["):
        section = line
    elif section == "[Service]" and "=" in line and not line.startswith("#"):
        k, v = line.split("=", 1)
        unit.setdefault(k.strip(), []).append(v.strip())
sandbox = re.compile(r"^(Protect|Restrict|Private|NoNewPrivileges|CapabilityBoundingSet|SystemCall|LockPersonality|MemoryDenyWriteExecute|UMask|StateDirectory|Type$|WatchdogSec)")
def render(v):
    if isinstance(v, bool): return "yes" if v else "no"
    if isinstance(v, list): return " ".join(map(str, v))
    return str(v)
problems = []
for k in sorted(set(unit) | set(nix)):
    if not sandbox.match(k):
        continue
    u = " ".join(unit.get(k, [])) or None
    n = render(nix[k]) if k in nix else None
    norm = lambda x: None if x is None else {"true": "yes", "false": "no"}.get(x.lower(), x)
    if norm(u) != norm(n):
        problems.append(f"{k}: packaging/hardenctl.service {u!r}, NixOS {n!r}")
if problems:
    print("agent sandbox differs from packaging/hardenctl.service:"); print("\n".join("  " + p for p in problems)); sys.exit(1)
print("agent sandbox: the same directives as packaging/hardenctl.service")
PY
else
  echo "agent sandbox: packaging/hardenctl.service does not exist yet, not compared"
fi

if [ -n "${NIX_ROS_OVERLAY:-}" ]; then
  for distro in humble jazzy; do
    for p in ros-core ros2cli ros2launch demo-nodes-cpp demo-nodes-py rviz2; do
      [ -f "$NIX_ROS_OVERLAY/distros/$distro/$p/default.nix" ] || { echo "nix-ros-overlay: no $distro.$p"; exit 1; }
    done
  done
  grep -q '^  colcon = ' "$NIX_ROS_OVERLAY/pkgs/default.nix" || { echo "nix-ros-overlay: no colcon"; exit 1; }
  echo "nix-ros-overlay $(git -C "$NIX_ROS_OVERLAY" rev-parse --short HEAD 2>/dev/null || echo '(no git)'): every ROS 2 package of nix/images/ros2.nix exists in humble and jazzy"
fi
if [ -n "${NIXOS_WSL:-}" ]; then
  for o in defaultUser startMenuLaunchers useWindowsDriver; do
    grep -rqE "^ *$o = mk(Option|EnableOption)" "$NIXOS_WSL/modules" || { echo "NixOS-WSL: no option wsl.$o"; exit 1; }
  done
  grep -q 'system.build.tarballBuilder' "$NIXOS_WSL/modules/build-tarball.nix" || { echo "NixOS-WSL: no tarballBuilder"; exit 1; }
  echo "NixOS-WSL: the wsl.* options of nix/images/wsl.nix and system.build.tarballBuilder exist"
fi
