//! The systemd notification protocol (`Type=notify`): READY=1 once the first policy is loaded,
//! STATUS= lines a person reads in `systemctl status`, STOPPING=1, and WATCHDOG=1 pings at half of
//! the watchdog interval systemd announces in `WATCHDOG_USEC`.
//!
//! Outside systemd (`NOTIFY_SOCKET` unset) every call does nothing.

use std::time::Duration;

use sd_notify::NotifyState;

#[derive(Debug)]
pub struct Notifier {
    watchdog: Option<Duration>,
    /// A failed send is logged once, not once per ping.
    warned: bool,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from the environment.
    pub fn from_env() -> Self {
        Self {
            watchdog: sd_notify::watchdog_enabled().filter(|d| !d.is_zero()),
            warned: false,
        }
    }

    /// How often to ping the watchdog: half its interval, as sd_watchdog_enabled(3) advises, so a
    /// late ping still arrives in time. `None` when systemd runs no watchdog.
    pub fn ping_every(&self) -> Option<Duration> {
        self.watchdog.map(|d| d / 2)
    }

    pub fn ready(&mut self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    pub fn status(&mut self, status: &str) {
        self.send(&[NotifyState::Status(status)]);
    }

    pub fn watchdog(&mut self) {
        self.send(&[NotifyState::Watchdog]);
    }

    pub fn stopping(&mut self) {
        self.send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }

    fn send(&mut self, states: &[NotifyState<'_>]) {
        if let Err(e) = sd_notify::notify(states)
            && !self.warned
        {
            self.warned = true;
            log::warn!("cannot notify systemd (NOTIFY_SOCKET): {e}");
        }
    }
}
