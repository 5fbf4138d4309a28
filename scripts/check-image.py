#!/usr/bin/env python3
"""Checks the Dockerfile without a container runtime.

1. hadolint passes; every rule the Dockerfile switches off is switched off with a reason in the
   comment above it.
2. The runtime stage installs every Debian package that holds a shared library the release
   binaries link. The binaries are built the way the Dockerfile builds them
   (`swift build -c release --static-swift-stdlib`, into .build-image unless a folder is given);
   `ldd` lists their libraries and `dpkg -S` names the package of each, on this Debian machine.
   A library is covered when its package is in the runtime stage's `apt-get install` line, is a
   dependency of one that is, or is part of debian:bookworm-slim itself.
3. Nothing in that line is unexplained: each package is linked, or is ca-certificates (read by
   libcurl at run time, so `ldd` cannot see it).

Usage: scripts/check-image.py [BINARY_FOLDER]
"""
import pathlib
import re
import subprocess
import sys

root = pathlib.Path(__file__).resolve().parent.parent
programs = ["rickmorty-api", "fake-upstream", "chaos", "lab"]
# Packages of debian:bookworm-slim that hold shared libraries (libc and the GCC runtime, which
# apt itself needs, and zlib, which is Priority: required).
base_image = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}
# Packages the runtime needs although no binary links them.
runtime_only = {"ca-certificates": "libcurl reads the CA bundle at run time to verify HTTPS"}

problems = []
dockerfile = (root / "Dockerfile").read_text()

# --- 1. hadolint, and a reason for every ignore -----------------------------------------------------
result = subprocess.run(["hadolint", "--failure-threshold", "info", str(root / "Dockerfile")], capture_output=True, text=True)
if result.returncode != 0:
    problems.append("hadolint:\n" + result.stdout + result.stderr)
lines = dockerfile.splitlines()
for number, line in enumerate(lines):
    if line.startswith("# hadolint ignore="):
        reason = lines[number - 1] if number else ""
        if not reason.startswith("#") or reason.startswith("# hadolint"):
            problems.append(f"Dockerfile line {number + 1}: {line} has no reason in the comment above it")

# --- 2. the runtime stage's packages cover what the binaries link ------------------------------------
runtime_stage = dockerfile.rsplit("\nFROM ", 1)[1]
install = re.search(r"apt-get install -y --no-install-recommends ([^\\&\n]+)", runtime_stage)
installed = set(install.group(1).split()) if install else set()
if not installed:
    problems.append("Dockerfile: no `apt-get install -y --no-install-recommends …` in the runtime stage")

binaries = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root / ".build-image" / "release"
linked = {}  # library path → the programs that link it
for program in programs:
    path = binaries / program
    if not path.is_file():
        sys.exit(f"check-image: {path} is missing; build it with "
                 "swift build -c release --static-swift-stdlib --scratch-path .build-image")
    output = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=True).stdout
    for line in output.splitlines():
        if "not found" in line:
            problems.append(f"{program}: ldd cannot find {line.strip()}")
        match = re.search(r"=> (/\S+)", line) or re.match(r"\s*(/\S+)", line)
        if match:
            linked.setdefault(match.group(1), []).append(program)
        if "libswift" in line or "libFoundation" in line:
            problems.append(f"{program}: links the Swift runtime dynamically ({line.strip()}); build with --static-swift-stdlib")


def package_of(library):
    """The Debian package that holds `library` (dpkg -S knows /usr/lib paths, not /lib ones)."""
    resolved = pathlib.Path(library).resolve()
    for candidate in (str(resolved), library, str(resolved).replace("/usr/lib/", "/lib/", 1)):
        result = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.split(":", 1)[0]
    return None


def dependencies(packages):
    """`packages` and everything they depend on (Depends and Pre-Depends, as apt installs them)."""
    result = subprocess.run(
        ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
         "--no-breaks", "--no-replaces", "--no-enhances", *packages],
        capture_output=True, text=True, check=True,
    )
    return {line.split(":", 1)[0] for line in result.stdout.splitlines() if line and not line.startswith(" ")}


closure = dependencies(sorted(installed)) if installed else set()
needed = {}
for library, users in sorted(linked.items()):
    package = package_of(library)
    if package is None:
        problems.append(f"{library} (linked by {', '.join(users)}) belongs to no Debian package")
        continue
    package = package.split(",")[0].strip()
    needed.setdefault(package, set()).update(users)
    if package not in base_image and package not in closure:
        problems.append(f"{library} (linked by {', '.join(users)}) is in {package}, which the runtime stage does not install")

for package in sorted(installed):
    if package not in needed and package not in runtime_only:
        problems.append(f"Dockerfile installs {package}, which no binary links and nothing explains")

if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"image: hadolint clean; {len(linked)} shared libraries linked by {', '.join(programs)}")
for package, users in sorted(needed.items()):
    where = "base image" if package in base_image else ("installed" if package in installed else "dependency of an installed package")
    print(f"  {package:<16} {where:<36} ({', '.join(sorted(users))})")
for package, reason in runtime_only.items():
    print(f"  {package:<16} {'installed':<36} ({reason})")
