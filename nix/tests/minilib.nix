# A minimal stand-in for nixpkgs' `lib`: just enough of the module system (evalModules, mkOption,
# mkIf, mkMerge, mkOverride/mkDefault/mkForce, the option types the hardening module and the option
# declarations of ./module-eval.nix use) to evaluate the hardening module where nixpkgs is not
# available: in CI, offline, with Debian's Nix 2.8. It follows nixpkgs' semantics for what it
# covers (priorities, mkIf/mkMerge pushed down to the options, list concatenation, per-attribute
# priorities in attrsOf, equal-or-conflict merging of scalars, undeclared options rejected), and
# scripts/check-nix-module.sh checks that it gives exactly what nixpkgs' own lib gives.
# Anything it does not implement fails loudly rather than guessing.
let
  inherit (builtins) all any attrNames concatLists concatStringsSep elem filter foldl' head
    isAttrs isBool isFunction isInt isList isString length listToAttrs mapAttrs tail toJSON;

  nameValuePair = name: value: { inherit name value; };
  mapAttrs' = f: set: listToAttrs (map (n: f n set.${n}) (attrNames set));
  optionals = cond: xs: if cond then xs else [ ];
  optionalAttrs = cond: set: if cond then set else { };
  optional = cond: x: if cond then [ x ] else [ ];
  genAttrs = names: f: listToAttrs (map (n: { name = n; value = f n; }) names);
  concatMapStringsSep = sep: f: list: concatStringsSep sep (map f list);
  showLoc = concatStringsSep ".";
  minBy = f: list: foldl' (a: b: if f b < f a then b else a) (head list) (tail list);

  mkOverride = priority: content: { _type = "override"; inherit priority content; };
  mkDefault = mkOverride 1000;
  mkForce = mkOverride 50;
  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkMerge = contents: { _type = "merge"; inherit contents; };
  mkOption = attrs: attrs // { _type = "option"; };
  mkEnableOption = name: mkOption { type = types.bool; default = false; description = "Whether to enable ${name}."; };
  literalExpression = text: { _type = "literalExpression"; inherit text; };
  literalMD = text: { _type = "literalMD"; inherit text; };

  isOption = v: isAttrs v && (v._type or null) == "option";

  # mkMerge and mkIf, resolved: the list of plain (or mkOverride) definitions a value stands for.
  discharge = v:
    if isAttrs v && (v._type or null) == "merge" then concatLists (map discharge v.contents)
    else if isAttrs v && (v._type or null) == "if" then
      (if v.condition == true then discharge v.content
       else if v.condition == false then [ ]
       else throw "mkIf: the condition is not a boolean")
    else [ v ];

  # Definitions of one value with their priorities; only the best (lowest) priority counts.
  prioritised = values:
    let
      defs = concatLists (map
        (v: map
          (d: if isAttrs d && (d._type or null) == "override"
              then map (c: { priority = d.priority; value = c; }) (discharge d.content)
              else [ { priority = 100; value = d; } ])
          (discharge v))
        values);
      flat = concatLists defs;
      best = if flat == [ ] then null else (minBy (d: d.priority) flat).priority;
    in
    map (d: d.value) (filter (d: d.priority == best) flat);

  mergeEqual = loc: values:
    if all (v: v == head values) values then head values
    else throw "The option `${showLoc loc}' has conflicting definitions: ${toJSON values}";

  mkType = { name, check, merge ? mergeEqual }: { _type = "type"; inherit name check merge; };

  types = rec {
    bool = mkType { name = "bool"; check = isBool; };
    int = mkType { name = "int"; check = isInt; };
    str = mkType { name = "str"; check = isString; };
    lines = mkType { name = "lines"; check = isString; merge = _: values: concatStringsSep "\n" values; };
    port = mkType { name = "port"; check = v: isInt v && v >= 0 && v <= 65535; };
    ints = {
      positive = mkType { name = "positive int"; check = v: isInt v && v > 0; };
      between = lo: hi: mkType { name = "int between ${toString lo} and ${toString hi}"; check = v: isInt v && v >= lo && v <= hi; };
    };
    package = mkType { name = "package"; check = v: isAttrs v && (v.type or null) == "derivation"; };
    enum = values: mkType { name = "one of ${toJSON values}"; check = v: elem v values; };
    nullOr = t: mkType {
      name = "null or ${t.name}";
      check = v: v == null || t.check v;
      merge = loc: values:
        if all (v: v == null) values then null
        else if any (v: v == null) values then throw "The option `${showLoc loc}' is defined both null and not null"
        else t.merge loc values;
    };
    oneOf = ts: mkType {
      name = "one of the types ${toJSON (map (t: t.name) ts)}";
      check = v: any (t: t.check v) ts;
      merge = loc: values:
        let fits = filter (t: all t.check values) ts; in
        if fits == [ ] then throw "The option `${showLoc loc}' mixes values of different types"
        else (head fits).merge loc values;
    };
    listOf = t: mkType {
      name = "list of ${t.name}";
      check = isList;
      merge = loc: values:
        let items = concatLists values; in
        if all t.check items then items
        else throw "The option `${showLoc loc}' has a list element that is not a ${t.name}";
    };
    attrsOf = t: mkType {
      name = "attribute set of ${t.name}";
      check = isAttrs;
      merge = loc: values:
        let names = attrNames (foldl' (a: b: a // b) { } values); in
        # mkIf false (or nothing left after priorities) removes the attribute, as in nixpkgs.
        removeEmpty (genAttrs names (n: mergeDefs (loc ++ [ n ]) t
          (map (v: v.${n}) (filter (v: v ? ${n}) values))));
    };
    lazyAttrsOf = attrsOf;
    anything = mkType {
      name = "anything";
      check = _: true;
      merge = loc: values:
        if all isAttrs values then (attrsOf anything).merge loc values
        else if all isList values then concatLists values
        else mergeEqual loc values;
    };
    functionTo = t: mkType {
      name = "function that evaluates to a(n) ${t.name}";
      check = isFunction;
      merge = loc: fns: x: t.merge (loc ++ [ "<function body>" ]) (map (f: f x) fns);
    };
    submodule = module: mkType {
      name = "submodule";
      check = isAttrs;
      merge = loc: values: (evalModules { modules = [ module ] ++ map (v: { config = v; }) values; }).config;
    };
  };

  absent = { _type = "absent"; };
  isAbsent = v: isAttrs v && (v._type or null) == "absent";
  removeEmpty = set: builtins.removeAttrs set (filter (n: isAbsent set.${n}) (attrNames set));

  # One value from its definitions: the best-priority ones, checked and merged by the type.
  mergeDefs = loc: type: values:
    let defs = prioritised values; in
    if defs == [ ] then absent
    else if !(all type.check defs)
    then throw "A definition of `${showLoc loc}' is not of type ${type.name}: ${toJSON (filter (d: !type.check d) defs)}"
    else type.merge loc defs;

  # Modules as { options, config } after following imports; a function module gets its arguments.
  collect = args: m:
    let
      value = if isFunction m then m args else if isAttrs m then m else import m;
      called = if isFunction value then value args else value;
      shorthand = !(called ? options || called ? config);
      self = {
        options = called.options or { };
        config = if shorthand then builtins.removeAttrs called [ "imports" "_file" ] else called.config or { };
      };
    in
    [ self ] ++ concatLists (map (collect args) (called.imports or [ ]));

  # The options tree of all modules, merged (an option declared twice is an error).
  mergeOptions = loc: trees:
    let names = attrNames (foldl' (a: b: a // b) { } trees); in
    genAttrs names (n:
      let here = map (t: t.${n}) (filter (t: t ? ${n}) trees); in
      if any isOption here then
        (if length here == 1 then head here else throw "The option `${showLoc (loc ++ [ n ])}' is declared more than once")
      else mergeOptions (loc ++ [ n ]) here);

  # Definitions at one path of a config value. mkIf, mkMerge and mkOverride above the path are
  # pushed down to it without evaluating any condition (as nixpkgs' pushDownProperties does), so a
  # module's `config = mkIf cfg.enable { ... }` can read its own options.
  defsAt = path: v:
    if path == [ ] then [ v ]
    else if isAttrs v && (v._type or null) == "merge" then concatLists (map (defsAt path) v.contents)
    else if isAttrs v && (v._type or null) == "if" then map (mkIf v.condition) (defsAt path v.content)
    else if isAttrs v && (v._type or null) == "override" then map (mkOverride v.priority) (defsAt path v.content)
    else if isAttrs v && v ? ${head path} then defsAt (tail path) v.${head path}
    else [ ];

  # Every defined path must be declared (nixpkgs' "The option `x' does not exist"), whatever the
  # conditions around it.
  checkDeclared = loc: options: v:
    if isAttrs v && (v._type or null) == "merge" then all (checkDeclared loc options) v.contents
    else if isAttrs v && elem (v._type or null) [ "if" "override" ] then checkDeclared loc options v.content
    else if !isAttrs v then throw "The option `${showLoc loc}' does not exist"
    else all
      (n:
        if !(options ? ${n}) then throw "The option `${showLoc (loc ++ [ n ])}' does not exist"
        else if isOption options.${n} then true
        else checkDeclared (loc ++ [ n ]) options.${n} v.${n})
      (attrNames v);

  evalModules = { modules, specialArgs ? { } }:
    let
      args = specialArgs // { inherit config options lib; };
      collected = concatLists (map (collect args) modules);
      options = mergeOptions [ ] (map (m: m.options) collected);
      valueOf = loc: opt:
        let
          defs = concatLists (map (m: defsAt loc m.config) collected);
          merged = mergeDefs loc opt.type (defs ++ (if opt ? default then [ (mkOverride 1500 opt.default) ] else [ ]));
        in
        if isAbsent merged then throw "The option `${showLoc loc}' is used but not defined" else merged;
      build = loc: tree: mapAttrs (n: v: if isOption v then valueOf (loc ++ [ n ]) v else build (loc ++ [ n ]) v) tree;
      declared = all (m: checkDeclared [ ] options m.config) collected;
      config = build [ ] options;
    in
    { config = builtins.seq declared config; inherit options; };

  lib = {
    inherit mkOverride mkDefault mkForce mkIf mkMerge mkOption mkEnableOption literalExpression
      literalMD types evalModules genAttrs concatMapStringsSep mapAttrs optional
      nameValuePair mapAttrs' optionals optionalAttrs;
  };
in
lib
