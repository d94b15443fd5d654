//! On a live host hardenctl also runs the real `sshd -T`; where it disagrees with hardenctl's own
//! evaluation, the check reports an error of hardenctl instead of trusting either side. A live view
//! whose `sshd` answers with a crafted `sshd -T` output drives that path.

use std::io;

use hardenctl::facts::sshd::{self, MatchSpec};
use hardenctl::system::{CommandOutput, Metadata, ReadError, RootView, SystemView, ViewKind};

/// Files from a temporary root, and one canned `sshd -T` answer.
struct FakeLive {
    files: RootView,
    sshd_t: String,
}

impl SystemView for FakeLive {
    fn kind(&self) -> ViewKind {
        ViewKind::Live
    }
    fn target(&self) -> String {
        "/".into()
    }
    fn read(&self, path: &str) -> Result<Vec<u8>, ReadError> {
        self.files.read(path)
    }
    fn metadata(&self, path: &str) -> Result<Metadata, ReadError> {
        self.files.metadata(path)
    }
    fn symlink_metadata(&self, path: &str) -> Result<Metadata, ReadError> {
        self.files.symlink_metadata(path)
    }
    fn read_dir(&self, path: &str) -> Result<Vec<String>, ReadError> {
        self.files.read_dir(path)
    }
    fn read_link(&self, path: &str) -> Result<String, ReadError> {
        self.files.read_link(path)
    }
    fn command(&self, program: &str, _args: &[&str]) -> Option<io::Result<CommandOutput>> {
        Some(match program {
            "sshd" => Ok(CommandOutput {
                status: Some(0),
                stdout: self.sshd_t.clone(),
                stderr: String::new(),
            }),
            _ => Err(io::Error::new(io::ErrorKind::NotFound, "not in this test")),
        })
    }
}

#[test]
fn a_disagreement_with_sshd_t_is_an_error_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("etc/ssh")).unwrap();
    std::fs::write(
        dir.path().join("etc/ssh/sshd_config"),
        "PasswordAuthentication no\n",
    )
    .unwrap();
    let files = RootView::open(dir.path()).unwrap();
    let spec = MatchSpec {
        lport: Some(22),
        ..MatchSpec::default()
    };
    let ours = sshd::effective(&files, "/etc/ssh/sshd_config", &spec)
        .unwrap()
        .render();
    assert!(ours.contains("passwordauthentication no\n"));

    let policy = hardenctl::policy::load(Some(hardenctl::policy::Level::Standard), None).unwrap();
    let finding = |sshd_t: String| {
        let view = FakeLive {
            files: RootView::open(dir.path()).unwrap(),
            sshd_t,
        };
        let report = hardenctl::engine::audit(&policy, &view, jiff::Timestamp::UNIX_EPOCH);
        report
            .findings
            .into_iter()
            .find(|f| f.id == "ssh.password-authentication")
            .unwrap()
    };

    // The real sshd agrees: the check passes on hardenctl's evaluation.
    let agree = finding(ours.clone());
    assert_eq!(agree.status.as_str(), "pass");

    // The real sshd says otherwise: an error naming both values.
    let disagree = finding(ours.replace("passwordauthentication no", "passwordauthentication yes"));
    assert_eq!(disagree.status.as_str(), "error");
    let reason = disagree.reason.unwrap();
    assert!(
        reason.contains("passwordauthentication no")
            && reason.contains("sshd -T reports `passwordauthentication yes`"),
        "{reason}"
    );
}
