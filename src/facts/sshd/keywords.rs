//! The sshd_config keyword table and the compiled-in algorithm lists.
//!
//! The table is servconf.c's `keywords[]` of OpenSSH 9.2p1 plus the Debian patches (GSSAPI key
//! exchange, `DebianBanner`, `PermitBlacklistedKeys`), checked keyword by keyword against
//! `/usr/sbin/sshd` of Debian 12: which keywords exist, which are aliases, which only warn
//! (deprecated/unsupported), and which are allowed inside `Match`. The opcode says how the value
//! is parsed and stored; several spellings share one opcode (aliases).

/// How a keyword's arguments are parsed and where they are stored (servconf.c's `ServerOpCodes`
/// folded by parsing style). The `&'static str` is the storage slot, which is also the keyword's
/// `sshd -T` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// yes/no, first value wins.
    Flag(&'static str),
    /// One of a fixed set of words, first value wins.
    Multi(&'static str, &'static [(&'static str, &'static str)]),
    /// Non-negative integer, first value wins.
    Int(&'static str),
    /// Time with units (`1m30s`), first value wins.
    Time(&'static str),
    /// A path made absolute against sshd's working directory (`none` kept), first value wins.
    Filename(&'static str),
    /// A public key algorithm list with `+`/`-`/`^` modifiers.
    KeyAlgos(&'static str),
    Ciphers,
    Macs,
    Kex,
    GssKex,
    Port,
    ListenAddress,
    HostKey,
    HostKeyAgent,
    HostCertificate,
    PubkeyAuthOptions,
    PermitUserEnvironment,
    RekeyLimit,
    LogFacility,
    LogLevel,
    LogVerbose,
    /// AllowUsers/DenyUsers: accumulate, `user@host` patterns validated.
    Users(&'static str),
    /// AllowGroups/DenyGroups: accumulate.
    Groups(&'static str),
    Subsystem,
    MaxStartups,
    PerSourceNetBlockSize,
    PerSourceMaxStartups,
    AuthorizedKeysFile,
    AuthorizedPrincipalsFile,
    AcceptEnv,
    SetEnv,
    PermitTunnel,
    Include,
    Match,
    PermitOpen(&'static str),
    ForceCommand,
    ChrootDirectory,
    SecurityKeyProvider,
    IpQos,
    VersionAddendum,
    /// AuthorizedKeysCommand / AuthorizedPrincipalsCommand: the rest of the line.
    Command(&'static str),
    /// AuthorizedKeysCommandUser / AuthorizedPrincipalsCommandUser.
    LocalUser(&'static str),
    AuthenticationMethods,
    StreamLocalBindMask,
    FingerprintHash,
    RDomain,
    ChannelTimeout,
    UnusedConnectionTimeout,
    /// Accepted with a "Deprecated option" message and ignored.
    Deprecated,
    /// Accepted with an "Unsupported option" message and ignored.
    Unsupported,
    /// Accepted silently and ignored (`Protocol`).
    Ignore,
}

pub(crate) const FLAG: &[(&str, &str)] = &[("yes", "yes"), ("no", "no")];
const IGNORE_RHOSTS: &[(&str, &str)] =
    &[("yes", "yes"), ("no", "no"), ("shosts-only", "shosts-only")];
const ADDRESS_FAMILY: &[(&str, &str)] = &[("inet", "inet"), ("inet6", "inet6"), ("any", "any")];
/// sshd -T prints the first name of a value, so `prohibit-password` prints as `without-password`.
const PERMIT_ROOT_LOGIN: &[(&str, &str)] = &[
    ("without-password", "without-password"),
    ("prohibit-password", "without-password"),
    ("forced-commands-only", "forced-commands-only"),
    ("yes", "yes"),
    ("no", "no"),
];
const COMPRESSION: &[(&str, &str)] = &[("yes", "yes"), ("delayed", "yes"), ("no", "no")];
const GATEWAY_PORTS: &[(&str, &str)] = &[
    ("clientspecified", "clientspecified"),
    ("yes", "yes"),
    ("no", "no"),
];
const TCP_FWD: &[(&str, &str)] = &[
    ("yes", "yes"),
    ("all", "yes"),
    ("no", "no"),
    ("remote", "remote"),
    ("local", "local"),
];

/// Allowed in the global section.
pub(crate) const GLOBAL: u8 = 1;
/// Allowed inside a Match block.
pub(crate) const MATCH: u8 = 2;
const ALL: u8 = GLOBAL | MATCH;

/// One keyword spelling: lower-case name, opcode, where it is allowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keyword {
    pub(crate) name: &'static str,
    pub(crate) op: Op,
    pub(crate) flags: u8,
}

const fn kw(name: &'static str, op: Op, flags: u8) -> Keyword {
    Keyword { name, op, flags }
}

use Op::*;

/// Every keyword this sshd accepts, in servconf.c order.
pub(crate) const KEYWORDS: &[Keyword] = &[
    kw("usepam", Flag("usepam"), GLOBAL),
    kw("pamauthenticationviakbdint", Deprecated, GLOBAL),
    kw("port", Port, GLOBAL),
    kw("hostkey", HostKey, GLOBAL),
    kw("hostdsakey", HostKey, GLOBAL),
    kw("hostkeyagent", HostKeyAgent, GLOBAL),
    kw("pidfile", Filename("pidfile"), GLOBAL),
    kw("modulifile", Filename("modulifile"), GLOBAL),
    kw("serverkeybits", Deprecated, GLOBAL),
    kw("logingracetime", Time("logingracetime"), GLOBAL),
    kw("keyregenerationinterval", Deprecated, GLOBAL),
    kw(
        "permitrootlogin",
        Multi("permitrootlogin", PERMIT_ROOT_LOGIN),
        ALL,
    ),
    kw("syslogfacility", LogFacility, GLOBAL),
    kw("loglevel", LogLevel, ALL),
    kw("logverbose", LogVerbose, ALL),
    kw("rhostsauthentication", Deprecated, GLOBAL),
    kw("rhostsrsaauthentication", Deprecated, ALL),
    kw(
        "hostbasedauthentication",
        Flag("hostbasedauthentication"),
        ALL,
    ),
    kw(
        "hostbasedusesnamefrompacketonly",
        Flag("hostbasedusesnamefrompacketonly"),
        ALL,
    ),
    kw(
        "hostbasedacceptedalgorithms",
        KeyAlgos("hostbasedacceptedalgorithms"),
        ALL,
    ),
    kw(
        "hostbasedacceptedkeytypes",
        KeyAlgos("hostbasedacceptedalgorithms"),
        ALL,
    ),
    kw("hostkeyalgorithms", KeyAlgos("hostkeyalgorithms"), GLOBAL),
    kw("rsaauthentication", Deprecated, ALL),
    kw("pubkeyauthentication", Flag("pubkeyauthentication"), ALL),
    kw(
        "pubkeyacceptedalgorithms",
        KeyAlgos("pubkeyacceptedalgorithms"),
        ALL,
    ),
    kw(
        "pubkeyacceptedkeytypes",
        KeyAlgos("pubkeyacceptedalgorithms"),
        ALL,
    ),
    kw("pubkeyauthoptions", PubkeyAuthOptions, ALL),
    kw("dsaauthentication", Flag("pubkeyauthentication"), GLOBAL),
    kw(
        "kerberosauthentication",
        Flag("kerberosauthentication"),
        ALL,
    ),
    kw(
        "kerberosorlocalpasswd",
        Flag("kerberosorlocalpasswd"),
        GLOBAL,
    ),
    kw(
        "kerberosticketcleanup",
        Flag("kerberosticketcleanup"),
        GLOBAL,
    ),
    kw("kerberosgetafstoken", Unsupported, GLOBAL),
    kw("kerberostgtpassing", Unsupported, GLOBAL),
    kw("afstokenpassing", Unsupported, GLOBAL),
    kw("gssapiauthentication", Flag("gssapiauthentication"), ALL),
    kw(
        "gssapicleanupcredentials",
        Flag("gssapicleanupcredentials"),
        GLOBAL,
    ),
    kw(
        "gssapicleanupcreds",
        Flag("gssapicleanupcredentials"),
        GLOBAL,
    ),
    kw(
        "gssapistrictacceptorcheck",
        Flag("gssapistrictacceptorcheck"),
        GLOBAL,
    ),
    kw("gssapikeyexchange", Flag("gssapikeyexchange"), GLOBAL),
    kw(
        "gssapistorecredentialsonrekey",
        Flag("gssapistorecredentialsonrekey"),
        GLOBAL,
    ),
    kw("gssapikexalgorithms", GssKex, GLOBAL),
    kw("gssusesessionccache", Unsupported, GLOBAL),
    kw("gssapiusesessioncredcache", Unsupported, GLOBAL),
    kw(
        "passwordauthentication",
        Flag("passwordauthentication"),
        ALL,
    ),
    kw(
        "kbdinteractiveauthentication",
        Flag("kbdinteractiveauthentication"),
        ALL,
    ),
    kw(
        "challengeresponseauthentication",
        Flag("kbdinteractiveauthentication"),
        ALL,
    ),
    kw(
        "skeyauthentication",
        Flag("kbdinteractiveauthentication"),
        ALL,
    ),
    kw("checkmail", Deprecated, GLOBAL),
    kw("listenaddress", ListenAddress, GLOBAL),
    kw(
        "addressfamily",
        Multi("addressfamily", ADDRESS_FAMILY),
        GLOBAL,
    ),
    kw("printmotd", Flag("printmotd"), GLOBAL),
    kw("printlastlog", Flag("printlastlog"), GLOBAL),
    kw("ignorerhosts", Multi("ignorerhosts", IGNORE_RHOSTS), ALL),
    kw("ignoreuserknownhosts", Flag("ignoreuserknownhosts"), GLOBAL),
    kw("x11forwarding", Flag("x11forwarding"), ALL),
    kw("x11displayoffset", Int("x11displayoffset"), ALL),
    kw("x11uselocalhost", Flag("x11uselocalhost"), ALL),
    kw("xauthlocation", Filename("xauthlocation"), GLOBAL),
    kw("strictmodes", Flag("strictmodes"), GLOBAL),
    kw("permitblacklistedkeys", Deprecated, GLOBAL),
    kw("permitemptypasswords", Flag("permitemptypasswords"), ALL),
    kw("permituserenvironment", PermitUserEnvironment, GLOBAL),
    kw("uselogin", Deprecated, GLOBAL),
    kw("compression", Multi("compression", COMPRESSION), GLOBAL),
    kw("rekeylimit", RekeyLimit, ALL),
    kw("tcpkeepalive", Flag("tcpkeepalive"), GLOBAL),
    kw("keepalive", Flag("tcpkeepalive"), GLOBAL),
    kw(
        "allowtcpforwarding",
        Multi("allowtcpforwarding", TCP_FWD),
        ALL,
    ),
    kw("allowagentforwarding", Flag("allowagentforwarding"), ALL),
    kw("allowusers", Users("allowusers"), ALL),
    kw("denyusers", Users("denyusers"), ALL),
    kw("allowgroups", Groups("allowgroups"), ALL),
    kw("denygroups", Groups("denygroups"), ALL),
    kw("ciphers", Ciphers, GLOBAL),
    kw("macs", Macs, GLOBAL),
    kw("protocol", Ignore, GLOBAL),
    kw("gatewayports", Multi("gatewayports", GATEWAY_PORTS), ALL),
    kw("subsystem", Subsystem, GLOBAL),
    kw("maxstartups", MaxStartups, GLOBAL),
    kw("persourcemaxstartups", PerSourceMaxStartups, GLOBAL),
    kw("persourcenetblocksize", PerSourceNetBlockSize, GLOBAL),
    kw("maxauthtries", Int("maxauthtries"), ALL),
    kw("maxsessions", Int("maxsessions"), ALL),
    kw("banner", Filename("banner"), ALL),
    kw("usedns", Flag("usedns"), GLOBAL),
    kw("verifyreversemapping", Deprecated, GLOBAL),
    kw("reversemappingcheck", Deprecated, GLOBAL),
    kw("clientaliveinterval", Time("clientaliveinterval"), ALL),
    kw("clientalivecountmax", Int("clientalivecountmax"), ALL),
    kw("authorizedkeysfile", AuthorizedKeysFile, ALL),
    kw("authorizedkeysfile2", Deprecated, ALL),
    kw("useprivilegeseparation", Deprecated, GLOBAL),
    kw("acceptenv", AcceptEnv, ALL),
    kw("setenv", SetEnv, ALL),
    kw("permittunnel", PermitTunnel, ALL),
    kw("permittty", Flag("permittty"), ALL),
    kw("permituserrc", Flag("permituserrc"), ALL),
    kw("match", Match, ALL),
    kw("permitopen", PermitOpen("permitopen"), ALL),
    kw("permitlisten", PermitOpen("permitlisten"), ALL),
    kw("forcecommand", ForceCommand, ALL),
    kw("chrootdirectory", ChrootDirectory, ALL),
    kw("hostcertificate", HostCertificate, GLOBAL),
    kw("revokedkeys", Filename("revokedkeys"), ALL),
    kw("trustedusercakeys", Filename("trustedusercakeys"), ALL),
    kw("authorizedprincipalsfile", AuthorizedPrincipalsFile, ALL),
    kw("kexalgorithms", Kex, GLOBAL),
    kw("include", Include, ALL),
    kw("ipqos", IpQos, ALL),
    kw(
        "authorizedkeyscommand",
        Command("authorizedkeyscommand"),
        ALL,
    ),
    kw(
        "authorizedkeyscommanduser",
        LocalUser("authorizedkeyscommanduser"),
        ALL,
    ),
    kw(
        "authorizedprincipalscommand",
        Command("authorizedprincipalscommand"),
        ALL,
    ),
    kw(
        "authorizedprincipalscommanduser",
        LocalUser("authorizedprincipalscommanduser"),
        ALL,
    ),
    kw("versionaddendum", VersionAddendum, GLOBAL),
    kw("authenticationmethods", AuthenticationMethods, ALL),
    kw("streamlocalbindmask", StreamLocalBindMask, ALL),
    kw("streamlocalbindunlink", Flag("streamlocalbindunlink"), ALL),
    kw(
        "allowstreamlocalforwarding",
        Multi("allowstreamlocalforwarding", TCP_FWD),
        ALL,
    ),
    kw("fingerprinthash", FingerprintHash, GLOBAL),
    kw("disableforwarding", Flag("disableforwarding"), ALL),
    kw("exposeauthinfo", Flag("exposeauthinfo"), ALL),
    kw("rdomain", RDomain, ALL),
    kw(
        "casignaturealgorithms",
        KeyAlgos("casignaturealgorithms"),
        ALL,
    ),
    kw("securitykeyprovider", SecurityKeyProvider, GLOBAL),
    kw("requiredrsasize", Int("requiredrsasize"), ALL),
    kw("channeltimeout", ChannelTimeout, ALL),
    kw("unusedconnectiontimeout", UnusedConnectionTimeout, ALL),
    // Debian: accepted as a yes/no flag, never printed by sshd -T.
    kw("debianbanner", Flag("debianbanner"), GLOBAL),
];

/// Looks a keyword up case-insensitively.
pub(crate) fn lookup(keyword: &str) -> Option<&'static Keyword> {
    KEYWORDS
        .iter()
        .find(|k| k.name.eq_ignore_ascii_case(keyword))
}

/// The `sshd -T` name a keyword spelling is printed under (`challengeresponseauthentication` →
/// `kbdinteractiveauthentication`); `None` for keywords sshd -T never prints.
pub(crate) fn output_name(keyword: &str) -> Option<&'static str> {
    let k = lookup(keyword)?;
    Some(match k.op {
        Flag(s)
        | Multi(s, _)
        | Int(s)
        | Time(s)
        | Filename(s)
        | KeyAlgos(s)
        | Users(s)
        | Groups(s)
        | PermitOpen(s)
        | Command(s)
        | LocalUser(s) => s,
        Ciphers => "ciphers",
        Macs => "macs",
        Kex => "kexalgorithms",
        GssKex => "gssapikexalgorithms",
        Port => "port",
        ListenAddress => "listenaddress",
        HostKey => "hostkey",
        HostKeyAgent => "hostkeyagent",
        HostCertificate => "hostcertificate",
        PubkeyAuthOptions => "pubkeyauthoptions",
        PermitUserEnvironment => "permituserenvironment",
        RekeyLimit => "rekeylimit",
        LogFacility => "syslogfacility",
        LogLevel => "loglevel",
        LogVerbose => "logverbose",
        Subsystem => "subsystem",
        MaxStartups => "maxstartups",
        PerSourceNetBlockSize => "persourcenetblocksize",
        PerSourceMaxStartups => "persourcemaxstartups",
        AuthorizedKeysFile => "authorizedkeysfile",
        AuthorizedPrincipalsFile => "authorizedprincipalsfile",
        AcceptEnv => "acceptenv",
        SetEnv => "setenv",
        PermitTunnel => "permittunnel",
        ForceCommand => "forcecommand",
        ChrootDirectory => "chrootdirectory",
        SecurityKeyProvider => "securitykeyprovider",
        IpQos => "ipqos",
        VersionAddendum => "versionaddendum",
        AuthenticationMethods => "authenticationmethods",
        StreamLocalBindMask => "streamlocalbindmask",
        FingerprintHash => "fingerprinthash",
        ChannelTimeout => "channeltimeout",
        UnusedConnectionTimeout => "unusedconnectiontimeout",
        RDomain | Include | Match | Deprecated | Unsupported | Ignore => return None,
    })
}

/// Every cipher this build knows (`ssh -Q cipher`), in the library's order.
pub(crate) const ALL_CIPHERS: &[&str] = &[
    "3des-cbc",
    "aes128-cbc",
    "aes192-cbc",
    "aes256-cbc",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
];
pub(crate) const DEFAULT_CIPHERS: &str = "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com";

pub(crate) const ALL_MACS: &[&str] = &[
    "hmac-sha1",
    "hmac-sha1-96",
    "hmac-sha2-256",
    "hmac-sha2-512",
    "hmac-md5",
    "hmac-md5-96",
    "umac-64@openssh.com",
    "umac-128@openssh.com",
    "hmac-sha1-etm@openssh.com",
    "hmac-sha1-96-etm@openssh.com",
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-md5-etm@openssh.com",
    "hmac-md5-96-etm@openssh.com",
    "umac-64-etm@openssh.com",
    "umac-128-etm@openssh.com",
];
pub(crate) const DEFAULT_MACS: &str = "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1";

pub(crate) const ALL_KEX: &[&str] = &[
    "diffie-hellman-group1-sha1",
    "diffie-hellman-group14-sha1",
    "diffie-hellman-group14-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group-exchange-sha1",
    "diffie-hellman-group-exchange-sha256",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "sntrup761x25519-sha512",
    "sntrup761x25519-sha512@openssh.com",
];
pub(crate) const DEFAULT_KEX: &str = "sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256";

/// Debian's GSSAPI key exchange methods (validated by name, printed as given).
pub(crate) const ALL_GSS_KEX: &[&str] = &[
    "gss-gex-sha1-",
    "gss-group1-sha1-",
    "gss-group14-sha1-",
    "gss-group14-sha256-",
    "gss-group16-sha512-",
    "gss-nistp256-sha256-",
    "gss-curve25519-sha256-",
];
pub(crate) const DEFAULT_GSS_KEX: &str = "gss-group14-sha256-,gss-group16-sha512-,gss-nistp256-sha256-,gss-curve25519-sha256-,gss-group14-sha1-,gss-gex-sha1-";

/// `sshkey_alg_list(0, 0, 1, ',')`: every key type and signature algorithm, certificates
/// included (`ssh -Q key-sig`).
pub(crate) const ALL_KEY_ALGS: &[&str] = &[
    "ssh-ed25519",
    "ssh-ed25519-cert-v01@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
    "ssh-dss-cert-v01@openssh.com",
    "ssh-rsa",
    "ssh-rsa-cert-v01@openssh.com",
    "rsa-sha2-256",
    "rsa-sha2-256-cert-v01@openssh.com",
    "rsa-sha2-512",
    "rsa-sha2-512-cert-v01@openssh.com",
];
pub(crate) const DEFAULT_KEY_ALGS: &str = "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,sk-ssh-ed25519-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256";

/// `sshkey_alg_list(0, 1, 1, ',')`: plain (non-certificate) signature algorithms (`ssh -Q sig`).
pub(crate) const ALL_SIG_ALGS: &[&str] = &[
    "ssh-ed25519",
    "sk-ssh-ed25519@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
    "ssh-rsa",
    "rsa-sha2-256",
    "rsa-sha2-512",
];
pub(crate) const DEFAULT_SIG_ALGS: &str = "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256";

/// Authentication method names accepted in AuthenticationMethods (auth2.c `authmethods[]`).
pub(crate) const AUTH_METHODS: &[&str] = &[
    "none",
    "publickey",
    "gssapi-with-mic",
    "password",
    "keyboard-interactive",
    "hostbased",
];

/// `log_level_number()` names and the name `log_level_name()` prints back. This build also
/// knows `SILENT`, and prints the quiet level under that name (checked against the binary).
pub(crate) const LOG_LEVELS: &[(&str, &str)] = &[
    ("SILENT", "SILENT"),
    ("QUIET", "SILENT"),
    ("FATAL", "FATAL"),
    ("ERROR", "ERROR"),
    ("INFO", "INFO"),
    ("VERBOSE", "VERBOSE"),
    ("DEBUG", "DEBUG"),
    ("DEBUG1", "DEBUG"),
    ("DEBUG2", "DEBUG2"),
    ("DEBUG3", "DEBUG3"),
];

pub(crate) const LOG_FACILITIES: &[&str] = &[
    "DAEMON", "USER", "AUTH", "AUTHPRIV", "LOCAL0", "LOCAL1", "LOCAL2", "LOCAL3", "LOCAL4",
    "LOCAL5", "LOCAL6", "LOCAL7",
];

/// IPQoS names and values (misc.c `ipqos[]`); printing takes the first name with the value.
pub(crate) const IPQOS: &[(&str, i64)] = &[
    ("none", i32::MAX as i64),
    ("af11", 0x28),
    ("af12", 0x30),
    ("af13", 0x38),
    ("af21", 0x48),
    ("af22", 0x50),
    ("af23", 0x58),
    ("af31", 0x68),
    ("af32", 0x70),
    ("af33", 0x78),
    ("af41", 0x88),
    ("af42", 0x90),
    ("af43", 0x98),
    ("cs0", 0x00),
    ("cs1", 0x20),
    ("cs2", 0x40),
    ("cs3", 0x60),
    ("cs4", 0x80),
    ("cs5", 0xa0),
    ("cs6", 0xc0),
    ("cs7", 0xe0),
    ("ef", 0xb8),
    ("le", 0x04),
    ("lowdelay", 0x10),
    ("throughput", 0x08),
    ("reliability", 0x04),
];
