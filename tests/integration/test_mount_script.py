"""The data-volume mount script, run for real against filesystem image files (loop-mounted).

The script takes the device path as an argument, so a test passes an image file:
an empty one must be formatted and mounted, one with a filesystem and data must
be mounted untouched, and anything else must be refused without a byte written.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.aws.host import TEMPLATES
from tests.conftest import require_tool

SCRIPT = TEMPLATES / "mount-data-volume.sh"
IMAGE_MB = 32


@pytest.fixture
def place(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.fail("the mount script tests loop-mount image files, which needs root (CI runs as root)")
    for tool, package in (("mkfs.ext4", "e2fsprogs"), ("blkid", "util-linux"), ("mount", "mount")):
        require_tool(tool, f"apt-get install {package}")
    yield tmp_path
    for mount_point in (tmp_path / "data", tmp_path / "other"):
        if subprocess.run(["mountpoint", "-q", str(mount_point)]).returncode == 0:
            subprocess.run(["umount", str(mount_point)], check=True)


def _run(place: Path, device: Path, mount_point: str = "data", wait: int = 4) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FSTAB": str(place / "fstab"), "WAIT_SECONDS": str(wait)}
    return subprocess.run(
        ["bash", str(SCRIPT), str(device), str(place / mount_point)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _blank(path: Path) -> Path:
    with path.open("wb") as f:
        f.truncate(IMAGE_MB * 1024 * 1024)
    return path


def _blkid(device: Path, tag: str) -> str:
    return subprocess.run(
        ["blkid", "-p", "-o", "value", "-s", tag, str(device)], capture_output=True, text=True
    ).stdout.strip()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_shellcheck_passes() -> None:
    shellcheck = require_tool("shellcheck", "apt-get install shellcheck")
    result = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_empty_device_is_formatted_mounted_and_recorded_in_fstab(place: Path) -> None:
    image = _blank(place / "empty.img")
    result = _run(place, image)
    assert result.returncode == 0, result.stderr
    assert _blkid(image, "TYPE") == "ext4" and _blkid(image, "LABEL") == "data"
    assert subprocess.run(["mountpoint", "-q", str(place / "data")]).returncode == 0
    assert (place / "fstab").read_text().split() == [
        str(image), str(place / "data"), "ext4", "defaults,nofail,x-systemd.device-timeout=120s", "0", "2",
    ]  # fmt: skip


def test_existing_filesystem_with_data_is_never_reformatted(place: Path) -> None:
    content = place / "content"
    content.mkdir()
    (content / "PG_VERSION").write_text("16\n")
    image = _blank(place / "existing.img")
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(content), str(image)], check=True)
    uuid = _blkid(image, "UUID")
    result = _run(place, image)
    assert result.returncode == 0, result.stderr
    assert "keeping its data" in result.stdout
    assert _blkid(image, "UUID") == uuid
    assert (place / "data" / "PG_VERSION").read_text() == "16\n"


def test_device_with_unknown_content_is_refused_and_left_untouched(place: Path) -> None:
    image = _blank(place / "unknown.img")
    with image.open("r+b") as f:
        f.seek(4096)
        f.write(os.urandom(8192))
    before = _digest(image)
    result = _run(place, image)
    assert result.returncode == 1
    assert "refusing to format" in result.stderr
    assert _digest(image) == before
    assert not (place / "fstab").exists() or (place / "fstab").read_text() == ""


def test_running_twice_keeps_one_fstab_line_and_the_data(place: Path) -> None:
    image = _blank(place / "twice.img")
    assert _run(place, image).returncode == 0
    (place / "data" / "marker").write_text("kept")
    second = _run(place, image)
    assert second.returncode == 0, second.stderr
    assert "already mounted" in second.stdout
    assert len((place / "fstab").read_text().splitlines()) == 1
    assert (place / "data" / "marker").read_text() == "kept"


def test_remount_after_reboot_keeps_the_data(place: Path) -> None:
    image = _blank(place / "reboot.img")
    assert _run(place, image).returncode == 0
    (place / "data" / "marker").write_text("kept")
    subprocess.run(["umount", str(place / "data")], check=True)
    again = _run(place, image)
    assert again.returncode == 0, again.stderr
    assert (place / "data" / "marker").read_text() == "kept"


def test_missing_device_fails_after_the_wait_with_a_clear_error(place: Path) -> None:
    result = _run(place, place / "absent.img", wait=2)
    assert result.returncode == 1
    assert "did not appear within 2s" in result.stderr


def test_mount_point_taken_by_another_device_is_refused(place: Path) -> None:
    (place / "fstab").write_text(f"/dev/other {place / 'data'} ext4 defaults 0 2\n")
    image = _blank(place / "conflict.img")
    result = _run(place, image)
    assert result.returncode == 1
    assert "already mounts /dev/other" in result.stderr
    assert _blkid(image, "TYPE") == ""


def test_wrong_arguments_print_usage_and_exit_64(place: Path) -> None:
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 64 and "usage: mount-data-volume DEVICE MOUNTPOINT" in result.stderr
