# The NixOS option values that enforce one resolved hardenctl policy level (from ./policy.nix).
# A pure function of the policy: no nixpkgs, no module system, so CI evaluates it with a plain
# `nix-instantiate --eval` and compares it with the policy hardenctl resolves. The hardening module
# (../modules/hardening.nix) applies these values with mkDefault.
policy:
let
  inherit (builtins) attrNames filter isBool isList elem concatStringsSep toString hasAttr listToAttrs;

  get = set: name: default: if hasAttr name set then set.${name} else default;
  kernel = get policy "kernel" { };
  ssh = get policy "ssh" { };
  firewall = get policy "firewall" { };
  audit = get policy "audit" { };
  services = get policy "services" { };

  # `name = true` is a bare flag, `name = value` is `name=value`, `false` leaves the parameter out.
  cmdline = get kernel "cmdline" { };
  param = name:
    let value = cmdline.${name}; in
    if isBool value then name else "${name}=${toString value}";
  kernelParams = map param (filter (name: cmdline.${name} != false) (attrNames cmdline));

  modules = get kernel "blacklisted-modules" { };
  blacklistedKernelModules = filter (name: modules.${name} == true) (attrNames modules);

  # NixOS renders services.openssh.settings as `Key value` lines with yes/no for booleans and
  # comma-joined algorithm lists; its option is spelled `Macs` (sshd keywords are case-insensitive,
  # and the module asserts against case-duplicate keys).
  rename = { MACs = "Macs"; };
  # NixOS accepts a list only for the keys it knows how to join (Ciphers, KexAlgorithms, Macs with
  # commas; AuthorizedKeysFile and the Allow/Deny lists with spaces) and throws on any other list
  # when it writes sshd_config. The policy's other lists (HostKeyAlgorithms, ...) are
  # comma-separated algorithm lists in sshd_config, so they are given as one joined string.
  nixosJoins = [ "Ciphers" "KexAlgorithms" "Macs" "AuthorizedKeysFile" "AllowGroups" "AllowUsers" "DenyGroups" "DenyUsers" ];
  sshValue = name: value:
    if isList value && !(elem name nixosJoins) then concatStringsSep "," value else value;
  opensshSettings = listToAttrs (map
    (key: let name = get rename key key; in { inherit name; value = sshValue name ssh.${key}; })
    (attrNames ssh));
in
{
  sysctl = get policy "sysctl" { };
  inherit kernelParams blacklistedKernelModules opensshSettings;

  firewall = {
    enable = get firewall "enable" false;
    # The NixOS firewall drops unsolicited input by default and accepts established traffic.
    dropByDefault = (get firewall "input-policy" "accept") == "drop";
    allowedTCPPorts = get firewall "allowed-tcp-ports" null;
    allowedUDPPorts = get firewall "allowed-udp-ports" null;
    logRefusedConnections = get firewall "log-dropped" false;
    sshRateLimit = get firewall "ssh-rate-limit" false;
  };

  audit = {
    auditd = get audit "auditd" false;
    rules = get audit "rules" [ ];
  };

  # What `hardenctl integrity` covers and how often the daemon checks (the module passes the
  # policy file to the daemon; this is for options such as a timer's interval).
  integrity = get policy "integrity" { };

  services = {
    hardenctl = get services "hardenctl" false;
    loginMonitoring = get services "login-monitoring" false;
    integrityTimer = get services "integrity-timer" false;
    updateCheck = get services "update-check" false;
  };
}
