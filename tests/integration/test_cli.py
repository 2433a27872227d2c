"""Command-line errors are one clear line and a non-zero exit, never a crash (SPEC §2)."""

import socket
import subprocess

import pytest

from conftest import ATRIUM_BIN, LOOPBACK

CRASH_MARKERS = ("terminate called", "Aborted", "Segmentation", "core dumped", "what():",
                 "Traceback", "#0 ", "stack")


def run(*args, timeout=15):
    return subprocess.run([ATRIUM_BIN, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def assert_one_line_error(r, *expected_words):
    assert r.returncode not in (0, None), (r.returncode, r.stdout, r.stderr)
    assert r.returncode > 0, f"killed by signal {-r.returncode}"
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    for marker in CRASH_MARKERS:
        assert marker not in r.stderr, r.stderr
    for word in expected_words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("args,words", [
    (["--http-port", "abc"], ["--http-port", "abc"]),
    (["--http-port", "70000"], ["--http-port"]),
    (["--admin-port", "-1"], ["--admin-port"]),
    (["--nope"], ["nope"]),
    (["--threads", "many"], ["--threads"]),
    (["--drain-timeout", "soon"], ["--drain-timeout"]),
    (["--log-level", "loud"], ["--log-level"]),
    (["--http-port"], ["http-port"]),
    (["positional-garbage"], []),
])
def test_bad_flags(args, words):
    assert_one_line_error(run(*args), *words)


def test_help_and_version():
    r = run("--help")
    assert r.returncode == 0
    assert "--manifests" in r.stdout and "--http-port" in r.stdout
    r = run("--version")
    assert r.returncode == 0
    assert r.stdout.startswith("atrium ")


def test_check_without_paths():
    assert_one_line_error(run("check"), "check")


def test_missing_manifests_dir_fails_cleanly(tmp_path):
    r = run("--manifests", str(tmp_path / "does-not-exist"), "--bind", LOOPBACK,
            "--http-port", "0", "--https-port", "0", "--admin-port", "0", "--admin-bind", LOOPBACK)
    assert r.returncode > 0, (r.returncode, r.stderr)
    assert "does-not-exist" in r.stderr
    for marker in CRASH_MARKERS:
        assert marker not in r.stderr, r.stderr


def test_port_in_use_fails_cleanly(tmp_path):
    busy = socket.socket()
    busy.bind((LOOPBACK, 0))
    busy.listen(1)
    try:
        port = busy.getsockname()[1]
        (tmp_path / "m").mkdir()
        r = run("--manifests", str(tmp_path / "m"), "--bind", LOOPBACK, "--http-port", str(port),
                "--admin-port", "0", "--admin-bind", LOOPBACK)
    finally:
        busy.close()
    assert r.returncode > 0, (r.returncode, r.stderr)
    assert str(port) in r.stderr
    for marker in CRASH_MARKERS:
        assert marker not in r.stderr, r.stderr
