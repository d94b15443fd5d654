# Pure-Nix loader of hardenctl's policy levels: the one source of truth that the NixOS module and
# the hardenctl binary share. Each level file may say `extends = "<level>"`; levels merge like
# lib.recursiveUpdate (later leaves win, lists are replaced), exactly as hardenctl merges them.
# Needs no nixpkgs, so it evaluates anywhere: `nix-instantiate --eval --strict --json nix/lib/policy.nix -A levels.strict`.
{ policiesDir ? ../../policies }:
let
  inherit (builtins) fromTOML readFile removeAttrs isAttrs hasAttr mapAttrs;

  recursiveUpdate = lhs: rhs:
    lhs // mapAttrs
      (name: value:
        if isAttrs value && hasAttr name lhs && isAttrs lhs.${name}
        then recursiveUpdate lhs.${name} value
        else value)
      rhs;

  # The resolved level: its own file merged over the level it extends.
  load = level:
    let
      file = fromTOML (readFile (policiesDir + "/${level}.toml"));
      own = removeAttrs file [ "extends" ];
    in
    if hasAttr "extends" file then recursiveUpdate (load file.extends) own else own;
in
{
  inherit load recursiveUpdate;
  levels = {
    minimal = load "minimal";
    standard = load "standard";
    strict = load "strict";
  };
}
