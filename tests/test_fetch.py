"""fetch.py against a real local HTTP server, with files in the real raw formats."""

import functools
import gzip
import hashlib
import http.server
import io
import socket
import struct
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from gmnrep.core.errors import DataError
from gmnrep.data import fetch
from gmnrep.data.sources import SOURCES, RawFile

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(array: np.ndarray) -> bytes:
    array = np.asarray(array, dtype=np.uint8)
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape) + array.tobytes()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


class Server:
    def __init__(self, root: Path):
        self.root = root
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server(tmp_path, monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    root = tmp_path / "served"
    root.mkdir()
    srv = Server(root)
    yield srv
    srv.close()


@pytest.fixture
def closed_port_url():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there any more: connection refused
    return f"http://127.0.0.1:{port}/train-images-idx3-ubyte.gz"


@pytest.fixture
def idx_file():
    """(decompressed IDX bytes, gz bytes, RawFile) for a small image file."""
    images = np.random.default_rng(7).integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
    content = idx_bytes(images)
    raw = RawFile(
        "train-images-idx3-ubyte.gz",
        {"train-images-idx3-ubyte": hashlib.md5(content).hexdigest()},
        urls=("http://127.0.0.1:9/unused.gz",),
    )
    return content, gzip.compress(content, compresslevel=9, mtime=0), raw


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_download_verifies(server, tmp_path, idx_file):
    content, gz, raw = idx_file
    (server.root / raw.name).write_bytes(gz)
    target = tmp_path / "raw" / raw.name
    origin = fetch.fetch_file(raw, target, (), urls=(server.url(raw.name),), timeout=5)
    assert origin == server.url(raw.name)
    assert target.read_bytes() == gz
    fetch.verify(target, raw)
    assert leftovers(target.parent) == [raw.name]


def test_first_mirror_missing_falls_back_to_second(server, tmp_path, idx_file):
    _, gz, raw = idx_file
    (server.root / "mirror2").mkdir()
    (server.root / "mirror2" / raw.name).write_bytes(gz)
    urls = (server.url(f"mirror1/{raw.name}"), server.url(f"mirror2/{raw.name}"))
    target = tmp_path / "raw" / raw.name
    assert fetch.fetch_file(raw, target, (), urls=urls, timeout=5) == urls[1]
    assert target.read_bytes() == gz
    assert leftovers(target.parent) == [raw.name]


def test_default_urls_come_from_the_raw_file(server, tmp_path, idx_file):
    content, gz, raw = idx_file
    (server.root / raw.name).write_bytes(gz)
    raw = RawFile(raw.name, raw.content_md5, urls=(server.url("missing.gz"), server.url(raw.name)))
    target = tmp_path / "raw" / raw.name
    assert fetch.fetch_file(raw, target, (), timeout=5) == server.url(raw.name)
    fetch.verify(target, raw)


def test_wrong_content_is_rejected_and_nothing_left(server, tmp_path, idx_file):
    _, _, raw = idx_file
    foreign = idx_bytes(np.zeros((20, 28, 28), dtype=np.uint8))
    (server.root / raw.name).write_bytes(gzip.compress(foreign))
    url = server.url(raw.name)
    target = tmp_path / "raw" / raw.name
    with pytest.raises(DataError) as info:
        fetch.fetch_file(raw, target, (), urls=(url,), timeout=5)
    message = str(info.value)
    assert url in message
    assert "md5" in message
    assert not target.exists()
    assert leftovers(target.parent) == []  # no final file, no .name.*.tmp


def test_truncated_download_is_rejected_and_nothing_left(server, tmp_path, idx_file):
    _, gz, raw = idx_file
    (server.root / raw.name).write_bytes(gz[: len(gz) - 100])
    url = server.url(raw.name)
    target = tmp_path / "raw" / raw.name
    with pytest.raises(DataError) as info:
        fetch.fetch_file(raw, target, (), urls=(url,), timeout=5)
    assert url in str(info.value)
    assert not target.exists()
    assert leftovers(target.parent) == []


def test_every_mirror_failing_lists_each_url(server, tmp_path, idx_file, closed_port_url):
    _, _, raw = idx_file
    urls = (server.url("nope.gz"), closed_port_url)
    target = tmp_path / "raw" / raw.name
    with pytest.raises(DataError) as info:
        fetch.fetch_file(raw, target, (), urls=urls, timeout=5)
    message = str(info.value)
    assert all(url in message for url in urls)
    assert leftovers(target.parent) == []


def test_unreachable_and_no_local_copy_says_where_to_put_the_file(tmp_path, idx_file, closed_port_url):
    _, _, raw = idx_file
    target = tmp_path / "raw" / raw.name
    search = tmp_path / "system"
    search.mkdir()
    with pytest.raises(DataError) as info:
        fetch.fetch_file(raw, target, (search,), urls=(closed_port_url,), timeout=5)
    message = str(info.value)
    assert f"at {target}" in message
    assert closed_port_url in message
    assert str(search) in message
    assert raw.content_md5["train-images-idx3-ubyte"] in message
    assert not target.exists()
    assert leftovers(target.parent) == []


def test_local_copy_is_copied_without_download(tmp_path, idx_file, closed_port_url):
    _, gz, raw = idx_file
    empty, system = tmp_path / "empty", tmp_path / "system"
    empty.mkdir()
    system.mkdir()
    (system / raw.name).write_bytes(gz)
    target = tmp_path / "raw" / raw.name
    origin = fetch.fetch_file(raw, target, (empty, system), urls=(closed_port_url,), timeout=5)
    assert origin == str(system / raw.name)
    assert target.read_bytes() == gz
    assert (system / raw.name).read_bytes() == gz  # the local copy is left in place
    assert leftovers(target.parent) == [raw.name]


def test_corrupt_local_copy_is_an_error_naming_it(tmp_path, idx_file, closed_port_url):
    _, gz, raw = idx_file
    system = tmp_path / "system"
    system.mkdir()
    (system / raw.name).write_bytes(gz[:-50])
    target = tmp_path / "raw" / raw.name
    with pytest.raises(DataError) as info:
        fetch.fetch_file(raw, target, (system,), urls=(closed_port_url,), timeout=5)
    assert str(system / raw.name) in str(info.value)
    assert not target.exists()


def test_existing_verified_target_is_kept(tmp_path, idx_file, closed_port_url):
    _, gz, raw = idx_file
    target = tmp_path / "raw" / raw.name
    target.parent.mkdir()
    target.write_bytes(gz)
    before = target.stat()
    assert fetch.fetch_file(raw, target, (), urls=(closed_port_url,), timeout=5) == str(target)
    after = target.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert target.read_bytes() == gz


def test_recompressed_gzip_of_same_content_is_accepted(server, tmp_path, idx_file):
    """Debian ships Fashion-MNIST recompressed: other compressed bytes, same content."""
    content, gz, raw = idx_file
    recompressed = gzip.compress(content, compresslevel=1, mtime=1234567890)
    assert recompressed != gz
    (server.root / raw.name).write_bytes(recompressed)
    target = tmp_path / "raw" / raw.name
    fetch.fetch_file(raw, target, (), urls=(server.url(raw.name),), timeout=5)
    assert target.read_bytes() == recompressed
    # and as a local copy
    system = tmp_path / "system"
    system.mkdir()
    (system / raw.name).write_bytes(recompressed)
    other = tmp_path / "raw2" / raw.name
    assert fetch.fetch_file(raw, other, (system,), urls=(), timeout=5) == str(system / raw.name)


# --- tar.gz archives with members ------------------------------------------------------------


def make_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return path


@pytest.fixture
def tar_raw():
    members = {"batches/a": b"first member" * 100, "batches/b": b"second member" * 50}
    return members, RawFile("toy.tar.gz", {name: hashlib.md5(p).hexdigest() for name, p in members.items()}, urls=())


def test_verify_tar_accepts_complete_archive(tmp_path, tar_raw):
    members, raw = tar_raw
    path = make_tar(tmp_path / "toy.tar.gz", {**members, "batches/readme": b"extra members are ignored"})
    fetch.verify(path, raw)
    assert fetch.content_md5s(path, raw) == raw.content_md5


def test_verify_tar_missing_member(tmp_path, tar_raw):
    members, raw = tar_raw
    path = make_tar(tmp_path / "toy.tar.gz", {"batches/a": members["batches/a"]})
    with pytest.raises(DataError) as info:
        fetch.verify(path, raw)
    assert str(path) in str(info.value) and "batches/b" in str(info.value)


def test_verify_tar_wrong_member_content(tmp_path, tar_raw):
    members, raw = tar_raw
    path = make_tar(tmp_path / "toy.tar.gz", {"batches/a": members["batches/a"], "batches/b": b"tampered"})
    with pytest.raises(DataError) as info:
        fetch.verify(path, raw)
    assert str(path) in str(info.value) and "batches/b" in str(info.value)


def test_verify_tar_truncated(tmp_path, tar_raw):
    members, raw = tar_raw
    path = make_tar(tmp_path / "toy.tar.gz", members)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="toy.tar.gz"):
        fetch.verify(path, raw)


# --- the real Debian copy --------------------------------------------------------------------


def test_registry_checksums_accept_debian_fashion_mnist():
    if not DEBIAN_FASHION.is_dir():
        pytest.skip(f"{DEBIAN_FASHION} not present (Debian package dataset-fashion-mnist not installed)")
    source = SOURCES["fashion_mnist"]
    assert DEBIAN_FASHION in source.system_dirs
    assert len(source.files) == 4
    for raw in source.files:
        path = DEBIAN_FASHION / raw.name
        assert path.is_file(), f"{path} missing from the Debian package"
        fetch.verify(path, raw)
