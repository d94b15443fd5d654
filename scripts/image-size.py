#!/usr/bin/env python3
"""Image size limits and history for the NixOS image workflow (.github/workflows/nixos-images.yml).

    image-size.py check KIND PATH [--history FILE] [--build-seconds N] [--commit SHA] [--summary FILE]

KIND is wsl, iso or vm; PATH is the image file, or a directory whose regular files are summed
(symbolic links are not followed, so a `result` link is given as its target file). The limits are
WSL 2048 MB, ISO 3072 MB, VM 4096 MB (MB = 2^20 bytes): within 10 % of the limit is a warning,
above it a failure. With --history the measurement is appended to that JSON file (a list of
{image, bytes, limit, build_seconds, commit, time}); with --summary a Markdown report (this run and
the trend of the last runs of that image) is appended to that file, e.g. $GITHUB_STEP_SUMMARY.

Prints one GitHub Actions annotation line (::notice::, ::warning:: or ::error::).
Exit status: 0 within the limit (warnings included), 1 above it, 2 bad arguments or input.
"""
import argparse
import json
import os
import sys
import tempfile
import time

MB = 1 << 20
LIMITS_MB = {"wsl": 2048, "iso": 3072, "vm": 4096}
WARN_FRACTION = 0.9
TREND_RUNS = 10


def measure(path):
    """Apparent size in bytes of a file, or of the regular files under a directory."""
    st = os.lstat(path)
    if os.path.isfile(path) and not os.path.islink(path):
        return st.st_size
    if os.path.isdir(path) and not os.path.islink(path):
        total = 0
        for root, _dirs, files in os.walk(path):
            for name in files:
                full = os.path.join(root, name)
                if os.path.isfile(full) and not os.path.islink(full):
                    total += os.lstat(full).st_size
        return total
    raise ValueError(f"{path}: not a regular file or directory (give a link's target)")


def verdict(size, limit):
    if size > limit:
        return "fail"
    if size >= limit * WARN_FRACTION:
        return "warn"
    return "ok"


def load_history(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise ValueError(f"{path}: history is not a JSON list of objects")
    return data


def write_atomically(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".image-size.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def mb(n):
    return f"{n / MB:.1f} MB"


def summary(kind, entry, history):
    runs = [e for e in history if e.get("image") == kind][-TREND_RUNS:]
    lines = [
        f"### {kind} image: {mb(entry['bytes'])} of {mb(entry['limit'])} "
        f"({100 * entry['bytes'] / entry['limit']:.0f} %), {entry['verdict']}",
        "",
        "| run | commit | size | change | build time |",
        "|---|---|---|---|---|",
    ]
    previous = None
    for e in runs:
        change = "" if previous is None else f"{(e['bytes'] - previous) / MB:+.1f} MB"
        build = "" if e.get("build_seconds") is None else f"{e['build_seconds']} s"
        lines.append(f"| {e.get('time', '')} | {(e.get('commit') or '')[:12]} | {mb(e['bytes'])} | {change} | {build} |")
        previous = e["bytes"]
    return "\n".join(lines) + "\n\n"


def check(args):
    limit = LIMITS_MB[args.kind] * MB
    size = measure(args.path)
    v = verdict(size, limit)
    entry = {
        "image": args.kind,
        "bytes": size,
        "limit": limit,
        "verdict": v,
        "build_seconds": args.build_seconds,
        "commit": args.commit,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    history = []
    if args.history:
        history = load_history(args.history)
        history.append(entry)
        write_atomically(args.history, json.dumps(history, indent=1) + "\n")
    else:
        history = [entry]
    if args.summary:
        with open(args.summary, "a", encoding="utf-8") as f:
            f.write(summary(args.kind, entry, history))
    level = {"ok": "notice", "warn": "warning", "fail": "error"}[v]
    what = {"ok": "within", "warn": "within 10 % of", "fail": "above"}[v]
    print(f"::{level}::{args.kind} image {args.path}: {mb(size)} is {what} the limit of {mb(limit)}")
    return 1 if v == "fail" else 0


def main(argv):
    parser = argparse.ArgumentParser(description="Image size limits and history.")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="measure an image against its limit")
    c.add_argument("kind", choices=sorted(LIMITS_MB))
    c.add_argument("path")
    c.add_argument("--history")
    c.add_argument("--summary")
    c.add_argument("--build-seconds", type=int)
    c.add_argument("--commit")
    args = parser.parse_args(argv)
    try:
        return check(args)
    except (OSError, ValueError) as e:
        print(f"image-size: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
