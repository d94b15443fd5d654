//! `/nix/store` on NixOS: rehashed like any other tree, not verified against the Nix database.
//!
//! The issue asked whether verifying store paths against the NAR hashes in Nix's database
//! (`/nix/var/nix/db/db.sqlite`, what `nix-store --verify-path` does) beats rehashing. Measured
//! on this machine (2 vCPUs, load average ~17 from other jobs, warm page cache) on a private
//! store made with `nix-store --store /tmp/hc-nix/store --add ./src` (one store path, 240 MB,
//! 6542 files: Debian's python3.11 library and /usr/share/doc), three runs each:
//!
//! | command | wall | CPU (user+sys) | peak RSS |
//! |---|---|---|---|
//! | `nix-store --store … --verify-path P` (NAR hash vs the database) | 1.89–2.59 s | 0.32–0.35 s | 25 MiB |
//! | `nix-store --dump P \| openssl sha256` (the NAR hash alone) | 1.27–1.82 s | 0.56–0.72 s | – |
//! | `hardenctl integrity init` (`paths = ["/nix/store"]`, `--root`) | 1.15–1.58 s | 0.59–0.65 s | 6 MiB |
//! | `hardenctl integrity check` (same) | 1.58–1.97 s | 0.55–0.72 s | 6 MiB |
//!
//! A NAR hash is a hash of the serialised tree, so verifying one reads every byte, exactly as
//! rehashing does: it cannot be asymptotically cheaper, and Nix does it on one thread where the
//! scan uses every core (wall time above: rehashing is as fast or faster; Nix spends less CPU
//! because it does not read capabilities or stat each file twice). It is also not *as safe*:
//! the NAR covers content, symlinks and the executable bit but not owner, full mode or
//! capabilities; the database is writable by the same root that could alter the store, with no
//! digest pinned anywhere (a baseline's digest is logged and kept by the daemon); reading it needs
//! SQLite, for which there is no pure-Rust reader in hardenctl's dependency set (or shelling out
//! to `nix-store`, which an image view does not have); and the store path name does not help, as
//! input-addressed paths are named by the hash of their build inputs, not of their content.
//!
//! So `/nix/store` is covered like any tree: add it to `[integrity] paths` on NixOS, or build
//! the baseline from the image (`integrity init --image`), which records the store the system
//! booted from. Reproduce with `scripts/bench-integrity.sh`'s commands on a store made as above.
