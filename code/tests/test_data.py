import gzip
import hashlib
import os
import re
import stat

import pytest
import torch

from dlcv import data


def idx_bytes(t: torch.Tensor) -> bytes:
    """Encode a uint8 tensor as an IDX file: magic 0x00 0x00 0x08 ndim, sizes, data."""
    header = bytes([0, 0, 0x08, t.dim()]) + b"".join(
        s.to_bytes(4, "big") for s in t.shape
    )
    return header + t.numpy().tobytes()


def write_split(folder, split="train", n=6, seed=0, gz=True):
    """A small valid split with the official file names; returns tensors and MD5s."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, 10, (n,), generator=g, dtype=torch.uint8)
    prefix = "train" if split == "train" else "t10k"
    md5 = {}
    for kind, t in (("images-idx3", images), ("labels-idx1", labels)):
        name = f"{prefix}-{kind}-ubyte"
        raw = idx_bytes(t)
        md5[name] = hashlib.md5(raw).hexdigest()
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return images, labels.long(), md5


@pytest.fixture
def small_files(tmp_path, monkeypatch):
    """Point the loader at a folder of small files whose checksums it knows."""
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    images, labels, md5 = write_split(tmp_path)
    files = {
        name: data.FileInfo(
            "unused", md5[name], (6, 28, 28) if "images" in name else (6,)
        )
        for name in md5
    }
    monkeypatch.setattr(data, "FILES", {**data.FILES, **files})
    env = {"DLCV_DATA": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    return images, labels, env, tmp_path


def test_parse_idx_roundtrip():
    t = torch.arange(24, dtype=torch.uint8).reshape(2, 3, 4)
    assert torch.equal(data.parse_idx(idx_bytes(t)), t)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b"\x01" + b[1:], "expected magic bytes 0x00 0x00, got 0100"),
        (
            lambda b: b[:2] + b"\x0d" + b[3:],
            "expected IDX type 0x08 \\(uint8\\), got 0x0d",
        ),
        (lambda b: b[:-1], "truncated: header declares shape \\(2, 3, 4\\)"),
        (lambda b: b + b"\x00", "has trailing bytes"),
        (lambda b: b[:6], "truncated header"),
        (lambda b: b"", "got nothing"),
    ],
)
def test_parse_idx_rejects_corrupt_files_naming_them(mutate, message):
    good = idx_bytes(torch.zeros(2, 3, 4, dtype=torch.uint8))
    with pytest.raises(data.DataFileError, match=f"^images.idx: .*{message}"):
        data.parse_idx(mutate(good), name="images.idx")


def test_load_from_dlcv_data(small_files):
    images, labels, env, _ = small_files
    x, y = data.load_fashion_mnist("train", download=False, env=env)
    assert torch.equal(x, images) and torch.equal(y, labels)
    assert x.dtype == torch.uint8 and y.dtype == torch.int64


def test_plain_idx_files_are_found_too(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    images, _labels, md5 = write_split(tmp_path, split="test", gz=False)
    files = {
        n: data.FileInfo("x", md5[n], (6, 28, 28) if "images" in n else (6,))
        for n in md5
    }
    monkeypatch.setattr(data, "FILES", {**data.FILES, **files})
    x, _y = data.load_fashion_mnist(
        "test", download=False, env={"DLCV_DATA": str(tmp_path)}
    )
    assert torch.equal(x, images)


def test_checksum_mismatch_names_the_file(small_files):
    _, _, env, folder = small_files
    path = folder / "train-labels-idx1-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-1] + bytes([(raw[-1] + 1) % 256])))
    with pytest.raises(
        data.DataFileError, match="train-labels-idx1-ubyte.gz: checksum mismatch"
    ):
        data.load_fashion_mnist("train", download=False, env=env)


def test_truncated_gzip_names_the_file(small_files):
    _, _, env, folder = small_files
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(
        data.DataFileError, match="train-images-idx3-ubyte.gz: cannot decompress"
    ):
        data.load_fashion_mnist("train", download=False, env=env)


def test_search_order(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "debian")
    env = {"DLCV_DATA": str(tmp_path / "mine"), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    (tmp_path / "mine").mkdir()
    assert data.search_dirs(env) == [
        tmp_path / "mine",
        tmp_path / "debian",
        tmp_path / "xdg" / "dlcv" / "fashion-mnist",
    ]
    for d in data.search_dirs(env)[1:]:
        d.mkdir(parents=True)
        (d / "f.gz").write_bytes(b"")
    assert data.find_file("f", data.search_dirs(env)) == tmp_path / "debian" / "f.gz"
    assert data.find_file("g", data.search_dirs(env)) is None


def test_missing_files_without_download(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte: not found"):
        data.load_fashion_mnist(
            "train", download=False, env={"XDG_CACHE_HOME": str(tmp_path)}
        )


def test_unknown_split():
    with pytest.raises(
        ValueError, match="split must be one of \\('train', 'test'\\), got 'val'"
    ):
        data.load_fashion_mnist("val")


# Downloads are exercised against file:// URLs: tests never touch the network.
def served(tmp_path, payload: bytes):
    src = tmp_path / "server" / "file.gz"
    src.parent.mkdir()
    src.write_bytes(payload)
    return src.as_uri()


def test_download_verifies_then_moves_into_place(tmp_path):
    raw = idx_bytes(torch.ones(3, dtype=torch.uint8))
    gz = gzip.compress(raw)
    dest = tmp_path / "cache" / "labels.gz"
    out = data.download_file(
        served(tmp_path, gz),
        dest,
        gz_md5=hashlib.md5(gz).hexdigest(),
        raw_md5=hashlib.md5(raw).hexdigest(),
    )
    assert out == dest and dest.read_bytes() == gz
    assert list(dest.parent.iterdir()) == [dest]  # no temporary file left behind


@pytest.mark.parametrize("what", ["gz checksum", "raw checksum", "partial download"])
def test_bad_download_caches_nothing(tmp_path, what):
    raw = idx_bytes(torch.ones(3, dtype=torch.uint8))
    gz = gzip.compress(raw)
    gz_md5, raw_md5 = hashlib.md5(gz).hexdigest(), hashlib.md5(raw).hexdigest()
    if what == "gz checksum":
        gz_md5 = "0" * 32
    elif what == "raw checksum":
        raw_md5 = "0" * 32
    else:
        gz = gz[: len(gz) // 2]  # the server sent a consistent but cut file
        gz_md5 = hashlib.md5(gz).hexdigest()
    dest = tmp_path / "cache" / "labels.gz"
    url = served(tmp_path, gz)
    message = "checksum mismatch|the download does not decompress"
    with pytest.raises(data.DataFileError, match=f"^{url}: ({message})") as err:
        data.download_file(url, dest, gz_md5=gz_md5, raw_md5=raw_md5)
    assert ".part" not in str(err.value)  # names the URL, not a deleted temporary file
    assert list(dest.parent.iterdir()) == []


def test_a_failed_download_names_its_url(tmp_path):
    url = (tmp_path / "server" / "absent.gz").as_uri()
    dest = tmp_path / "cache" / "labels.gz"
    with pytest.raises(OSError, match=f"^{url}: download failed"):
        data.download_file(url, dest, gz_md5="0" * 32, raw_md5="0" * 32)
    assert list(dest.parent.iterdir()) == []


def test_cached_files_are_readable_by_others_and_stale_parts_are_removed(tmp_path):
    raw = idx_bytes(torch.ones(3, dtype=torch.uint8))
    gz = gzip.compress(raw)
    dest = tmp_path / "cache" / "labels.gz"
    dest.parent.mkdir()
    old = dest.parent / ".labels.gz.killed.part"  # left by a download killed long ago
    old.write_bytes(b"half")
    os.utime(old, (1, 1))
    fresh = dest.parent / ".labels.gz.running.part"  # another download, still running
    fresh.write_bytes(b"half")
    umask = os.umask(0o022)
    try:
        data.download_file(
            served(tmp_path, gz),
            dest,
            gz_md5=hashlib.md5(gz).hexdigest(),
            raw_md5=hashlib.md5(raw).hexdigest(),
        )
    finally:
        os.umask(umask)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644
    assert not old.exists() and fresh.exists()


def test_dlcv_data_must_be_a_folder(tmp_path):
    env = {"DLCV_DATA": str(tmp_path / "typo")}
    with pytest.raises(FileNotFoundError, match="DLCV_DATA=.*typo' is not a folder"):
        data.load_fashion_mnist("test", env=env)


def test_an_unreadable_file_is_not_called_corrupt(small_files):
    folder = small_files[-1]
    path = folder / "train-images-idx3-ubyte.gz"
    (folder / "a-folder.gz").mkdir()
    with pytest.raises(IsADirectoryError):  # was reported as "corrupt or partial"
        data.read_idx_file(folder / "a-folder.gz")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):  # root reads anything: nothing more to show
            return
        with pytest.raises(PermissionError) as err:
            data.read_idx_file(path)
        assert not isinstance(err.value, data.DataFileError)
    finally:
        path.chmod(0o644)


@pytest.mark.parametrize(
    ("where", "remedy"),
    [
        ("debian", "apt-get install --reinstall dataset-fashion-mnist"),
        ("cache", "delete the file so that it is downloaded again"),
        ("mine", "replace it with a good copy of the official file"),
    ],
)
def test_a_checksum_mismatch_gives_the_remedy_for_whose_file_it_is(
    tmp_path, monkeypatch, where, remedy
):
    folders = {
        "debian": tmp_path / "debian",
        "cache": tmp_path / "xdg" / "dlcv" / "fashion-mnist",
        "mine": tmp_path / "mine",
    }
    monkeypatch.setattr(data, "DEBIAN_DIR", folders["debian"])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = folders[where] / "labels.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(idx_bytes(torch.ones(3, dtype=torch.uint8))))
    with pytest.raises(data.DataFileError, match=f"checksum mismatch.*; .*{remedy}$"):
        data.read_idx_file(path, raw_md5="0" * 32)


def test_loader_downloads_into_cache_once(tmp_path, monkeypatch):
    """With no local copy, each file is fetched into the cache once, then reused."""
    server = tmp_path / "server"
    server.mkdir()
    images, labels, md5 = write_split(server, split="test")
    files = {
        n: data.FileInfo(
            hashlib.md5((server / f"{n}.gz").read_bytes()).hexdigest(),
            md5[n],
            (6, 28, 28) if "images" in n else (6,),
        )
        for n in md5
    }
    monkeypatch.setattr(data, "FILES", {**data.FILES, **files})
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(data, "URL", server.as_uri() + "/")
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    x, y = data.load_fashion_mnist("test", env=env)
    assert torch.equal(x, images) and torch.equal(y, labels)
    cached = sorted(p.name for p in data.cache_dir(env).iterdir())
    assert cached == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    for p in server.iterdir():
        p.unlink()  # the server is gone: the second load must use the cache
    x2, _ = data.load_fashion_mnist("test", env=env)
    assert torch.equal(x2, images)


@pytest.mark.skipif(
    not data.DEBIAN_DIR.is_dir(),
    reason="Debian's dataset-fashion-mnist is not installed",
)
def test_debian_files_are_the_official_data():
    x, y = data.load_fashion_mnist("test", download=False, env={})
    assert x.shape == (10000, 28, 28) and y.shape == (10000,)
    assert torch.bincount(y).tolist() == [1000] * 10  # the test set is balanced


def test_train_val_test_splits(small_files, monkeypatch):
    images, _labels, env, folder = small_files
    _, _, md5 = write_split(folder, split="test", seed=1)
    files = {
        n: data.FileInfo("x", md5[n], (6, 28, 28) if "images" in n else (6,))
        for n in md5
    }
    monkeypatch.setattr(data, "FILES", {**data.FILES, **files})
    g = torch.Generator().manual_seed(0)
    split = data.train_val_test(4, 2, 3, generator=g, env=env)
    x_tr, _y_tr = split["train"]
    x_va, _y_va = split["val"]
    assert (
        x_tr.shape == (4, 784)
        and x_va.shape == (2, 784)
        and split["test"][0].shape == (3, 784)
    )
    assert x_tr.dtype == torch.float32 and 0 <= x_tr.min() and x_tr.max() <= 1
    # train and validation are disjoint rows of the training split
    rows = {tuple(r.tolist()) for r in torch.cat([x_tr, x_va])}
    assert len(rows) == 6
    expected = {tuple((im.flatten().float() / 255).tolist()) for im in images}
    assert rows == expected
    again = data.train_val_test(
        4, 2, 3, generator=torch.Generator().manual_seed(0), env=env
    )
    assert torch.equal(again["train"][0], x_tr)
    square = data.train_val_test(1, 1, 1, generator=g, env=env, flatten=False)
    assert square["train"][0].shape == (1, 28, 28)


def test_train_val_test_rejects_bad_sizes():
    g = torch.Generator()
    with pytest.raises(
        ValueError, match="n_train \\+ n_val must be at most 60000, got 60001"
    ):
        data.train_val_test(60_000, 1, generator=g)
    with pytest.raises(
        ValueError, match="n_test must be an int in \\[0, 10000\\], got 10001"
    ):
        data.train_val_test(1, 1, 10_001, generator=g)


# --- captions composed from Fashion-MNIST items -------------------------------------


def distinct_items(n=10):
    """n images, each filled with its own index + 1, and labels 0..n-1 (mod 10)."""
    images = (torch.arange(n, dtype=torch.float32) + 1)[:, None, None].expand(n, 28, 28)
    return images.clone(), torch.arange(n) % 10


def test_compose_captions_places_the_items_it_names_left_to_right():
    images, labels = distinct_items()
    g = torch.Generator().manual_seed(0)
    canvas, tokens = data.compose_captions(images, labels, 200, slots=4, generator=g)
    assert canvas.shape == (200, 1, 28, 112) and canvas.dtype == torch.float32
    assert tokens.shape == (200, 4) and tokens.dtype == torch.int64
    counts = set()
    for c, t in zip(canvas, tokens, strict=True):
        cells = c[0].reshape(28, 4, 28).permute(1, 0, 2)  # (slot, 28, 28)
        values = cells.flatten(1)
        assert (values == values[:, :1]).all()  # each cell is one item or blank
        ids = [int(v) - 1 for v in values[:, 0] if v != 0]  # items, left to right
        k = len(ids)
        counts.add(k)
        assert t[:k].tolist() == [labels[i].item() for i in ids]
        assert t[k] == data.END and (t[k + 1 :] == data.PAD).all()
    assert counts == {2, 3}


def test_compose_captions_accepts_flat_and_channel_images_and_is_seeded():
    images, labels = distinct_items()
    runs = [
        data.compose_captions(
            x, labels, 7, min_items=1, generator=torch.Generator().manual_seed(3)
        )
        for x in (images, images[:, None], images.reshape(10, 784))
    ]
    for canvas, tokens in runs[1:]:
        assert torch.equal(canvas, runs[0][0]) and torch.equal(tokens, runs[0][1])
    canvas, tokens = data.compose_captions(
        images.double(), labels, 5, min_items=3, max_items=3
    )
    assert canvas.dtype == torch.float64 and canvas.shape == (5, 1, 28, 84)
    assert (tokens[:, 3] == data.END).all()


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"images": torch.zeros(4, 28, 28, dtype=torch.uint8)}, TypeError, "floating"),
        ({"images": torch.zeros(4, 28, 27)}, ValueError, "(N, 28, 28)"),
        ({"labels": torch.tensor([0, 1, 2, 10])}, ValueError, "[0, 10)"),
        ({"labels": torch.zeros(3, dtype=torch.int64)}, ValueError, "shape (4,)"),
        ({"n": 0}, ValueError, "n must be an int >= 1"),
        ({"min_items": 3, "max_items": 2}, ValueError, "max_items must be an int >= 3"),
        ({"slots": 2}, ValueError, "slots must be an int >= 3"),
        ({"n": 2.0}, TypeError, "n must be an int"),
    ],
)
def test_compose_captions_rejects_bad_input(kwargs, error, message):
    args = {"images": torch.zeros(4, 28, 28), "labels": torch.arange(4), "n": 2}
    args.update(kwargs)
    with pytest.raises(error, match=re.escape(message)):
        data.compose_captions(**args)


def test_caption_text():
    assert data.caption_text(torch.tensor([5, 6, 8, data.END])) == "Sandal, Shirt, Bag"
    words = [data.START, 9, data.END, data.PAD]
    assert data.caption_text(torch.tensor(words)) == "Ankle boot"
    assert data.caption_text(torch.tensor([data.END, 3])) == ""
    assert data.caption_text(torch.tensor([1, data.END, 99])) == "Trouser"
    assert data.CAPTION_WORDS[data.END] == "<end>"
    assert data.CAPTION_WORDS[data.START] == "<start>"
    with pytest.raises(ValueError, match="got 12"):
        data.caption_text(torch.tensor([1, 12]))
    with pytest.raises(TypeError, match="integer dtype"):
        data.caption_text(torch.tensor([1.0]))
    with pytest.raises(ValueError, match="1 dimensions"):
        data.caption_text(torch.tensor([[1]]))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_compose_captions_follows_the_images_device():
    images, labels = distinct_items()
    canvas, tokens = data.compose_captions(images.cuda(), labels.cuda(), 3)
    assert canvas.device.type == "cuda" and tokens.device.type == "cuda"


# --- the fortunes corpus -------------------------------------------------------------


def test_load_fortunes_splits_entries_and_cleans_them(tmp_path):
    (tmp_path / "a").write_bytes(
        b"First line\t\n\t\t-- Someone\n%\n\n%\nCaf\xc3\xa9 \x08ok  \n%\n"
    )
    (tmp_path / "b").write_text("Last one.\n")
    fortunes = data.load_fortunes(["a", "b"], directory=tmp_path)
    assert fortunes == ["First line\n                -- Someone", "Caf ok", "Last one."]


@pytest.mark.parametrize(
    "files, error, message",
    [
        ("literature", TypeError, "sequence of file names"),
        ([], ValueError, "at least one"),
        (["../etc"], ValueError, "bare file names"),
        ([3], TypeError, "str names"),
        (["missing"], FileNotFoundError, "apt-get install fortunes"),
    ],
)
def test_load_fortunes_rejects_bad_input(tmp_path, files, error, message):
    with pytest.raises(error, match=re.escape(message)):
        data.load_fortunes(files, directory=tmp_path)


@pytest.mark.skipif(
    not (data.FORTUNE_DIR / "literature").is_file(),
    reason="Debian's fortunes package is not installed",
)
def test_the_debian_fortunes_are_a_real_corpus():
    fortunes = data.load_fortunes()
    text = "\n\n".join(fortunes)
    assert len(fortunes) > 2000 and len(text) > 400_000
    assert set(text) <= {"\n", *map(chr, range(32, 127))}
    assert "-- Mark Twain" in text
