"""The Dockerfile's runtime stage installs a package for every shared library the binary links
(the image is built by CI elsewhere, not here: this keeps the two in step). Each library
`ldd build/atrium` names is mapped to its Debian package with `dpkg -S`; packages the slim base
image already has are allowed to be missing from the list."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from conftest import ATRIUM_BIN

REPO = Path(__file__).resolve().parents[2]
IN_BASE_IMAGE = {"libc6", "libstdc++6", "libgcc-s1", "libcrypt1"}


def runtime_packages() -> set[str]:
    text = (REPO / "Dockerfile").read_text()
    runtime = text.split("FROM debian:bookworm-slim", 1)[1]
    install = re.search(r"apt-get install[^\n]*\\\n((?:.*\\\n)+)", runtime).group(1)
    return set(re.findall(r"[a-z0-9][a-z0-9.+-]+", install.replace("\\", " ")))


def test_every_linked_library_has_its_runtime_package():
    ldd = subprocess.run(["ldd", ATRIUM_BIN], capture_output=True, text=True, check=True).stdout
    paths = re.findall(r"=> (/\S+)", ldd)
    assert paths, ldd
    wanted = set()
    for path in paths:
        owner = subprocess.run(["dpkg", "-S", Path(path).resolve()], capture_output=True,
                               text=True)
        if owner.returncode != 0:  # dpkg knows the /usr/lib name, not the /lib symlink
            owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        assert owner.returncode == 0, f"{path}: no Debian package owns it"
        wanted.add(owner.stdout.split(":")[0])
    # The sanitizer runtimes belong to the ASan/UBSan test build, never to the image.
    wanted = {p for p in wanted if not re.match(r"lib(asan|ubsan|lsan|tsan)\d*$", p)}
    missing = wanted - IN_BASE_IMAGE - runtime_packages()
    assert not missing, f"add {sorted(missing)} to the Dockerfile's runtime stage"
