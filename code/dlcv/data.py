"""Fashion-MNIST from verified IDX files, captions composed from it, and a text corpus.

Used by every chapter that trains on real images, starting with the kNN chapter.
Dataset: Xiao, Rasul and Vollgraf, "Fashion-MNIST: a Novel Image Dataset for
Benchmarking Machine Learning Algorithms" (2017). 60,000 training and 10,000 test
images, 28x28 grey levels, 10 classes. Torch counterpart:
``torchvision.datasets.FashionMNIST``.

Where the files come from, in this order (the first folder holding a file wins):

1. ``$DLCV_DATA``, if set;
2. Debian's ``/usr/share/datasets/fashion-mnist/`` (package ``dataset-fashion-mnist``);
3. the user cache, ``$XDG_CACHE_HOME/dlcv/fashion-mnist`` (``~/.cache/...`` by default).

If a file is in none of them, :func:`load_fashion_mnist` downloads the official
``.gz`` into the cache: it checks the MD5 of the download and of its decompressed bytes,
and only then moves it into place atomically, so nothing partial or corrupt is ever
cached. Debian recompresses the ``.gz`` files, so their compressed bytes differ from the
official ones; every local file is therefore verified by the MD5 of its *decompressed*
bytes, the values published with torchvision's ``FashionMNIST``.

IDX format (LeCun's MNIST page): a 4-byte magic number ``0x00 0x00 <type> <ndim>``,
then ``ndim`` big-endian uint32 sizes, then the data. Fashion-MNIST uses type ``0x08``
(uint8).

For the recurrent-network and attention chapters, :func:`compose_captions` places two or
three Fashion-MNIST items in a row and captions the canvas with their class names
("Sandal, Shirt, Bag"), and :func:`load_fortunes` reads a real English text corpus for
character-level language models: the quotations, poems and songs of the BSD
``fortune`` program (``fortune-mod``, BSD licence, Copyright (c) 1991 The Regents of the
University of California), which Debian ships as the package ``fortunes`` in
``/usr/share/games/fortunes``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from dlcv._checks import (
    check_float_tensor,
    check_labels,
    check_positive_int,
    check_tensor,
)

__all__ = [
    "CAPTION_WORDS",
    "CLASSES",
    "DEBIAN_DIR",
    "END",
    "FILES",
    "FORTUNE_DIR",
    "FORTUNE_FILES",
    "PAD",
    "START",
    "URL",
    "DataFileError",
    "cache_dir",
    "caption_text",
    "compose_captions",
    "download_file",
    "find_file",
    "load_fashion_mnist",
    "load_fortunes",
    "parse_idx",
    "read_idx_file",
    "search_dirs",
    "train_val_test",
]

CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# Captions: the ten class names are words 0..9, then the end and start tokens; PAD marks
# the unused places after END, and is F.cross_entropy's default ignore_index.
CAPTION_WORDS = (*CLASSES, "<end>", "<start>")
END = len(CLASSES)
START = len(CLASSES) + 1
PAD = -100
FORTUNE_DIR = Path("/usr/share/games/fortunes")
FORTUNE_FILES = ("literature", "wisdom", "songs-poems", "humorists", "people")
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True)
class FileInfo:
    """The published checksums of one official file."""

    gz_md5: str  # MD5 of the official .gz download
    # MD5 of its decompressed bytes (what Debian's recompressed .gz also holds)
    raw_md5: str
    shape: tuple[int, ...]  # the IDX shape the file must declare


FILES: dict[str, FileInfo] = {
    "train-images-idx3-ubyte": FileInfo(
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        (60000, 28, 28),
    ),
    "train-labels-idx1-ubyte": FileInfo(
        "25c81989df183df01b3e8a0aad5dffbe", "9018921c3c673c538a1fc5bad174d6f9", (60000,)
    ),
    "t10k-images-idx3-ubyte": FileInfo(
        "bef4ecab320f06d8554ea6380940ec79",
        "8181f5470baa50b63fa0f6fddb340f0a",
        (10000, 28, 28),
    ),
    "t10k-labels-idx1-ubyte": FileInfo(
        "bb300cfdad3c16e7a12a480ee83cd310", "15d484375f8d13e6eb1aabb0c3f46965", (10000,)
    ),
}
_SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_UINT8 = 0x08
STALE_PART_SECONDS = 3600  # a .part file older than this is a killed download's


class DataFileError(ValueError):
    """A data file is corrupt, truncated or not what its checksum says."""


def parse_idx(data: bytes, *, name: str = "<bytes>") -> torch.Tensor:
    """Parse the bytes of an uncompressed IDX file of uint8 values.

    Args:
        data: the whole file.
        name: the file's name, used in error messages.

    Returns:
        A uint8 tensor of the shape the header declares.

    Raises:
        DataFileError: on a wrong magic number, an unsupported type, or a size that
            does not match the header (a truncated file or trailing bytes).
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataFileError(
            f"{name}: not an IDX file: expected magic bytes 0x00 0x00, "
            f"got {data[:2].hex() or 'nothing'}"
        )
    dtype, ndim = data[2], data[3]
    if dtype != _IDX_UINT8:
        raise DataFileError(f"{name}: expected IDX type 0x08 (uint8), got {dtype:#04x}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataFileError(
            f"{name}: truncated header: need {header} bytes, got {len(data)}"
        )
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    expected = header + _prod(shape)
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise DataFileError(
            f"{name}: {what}: header declares shape {shape}, i.e. {expected} bytes, "
            f"but the file has {len(data)}"
        )
    flat = torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8)
    return flat.reshape(shape)


def _prod(shape: tuple[int, ...]) -> int:
    out = 1
    for s in shape:
        out *= s
    return out


def _read_bytes(path: Path, *, gz: bool | None = None) -> bytes:
    """The bytes of ``path``, decompressed if ``gz`` (by default: if it ends in .gz).

    A file that does not decompress raises :class:`DataFileError`; a file that cannot be
    read at all (missing, no permission) raises the ``OSError`` that says so.
    """
    if not (gz or (gz is None and path.suffix == ".gz")):
        return path.read_bytes()
    with open(path, "rb") as raw:  # OSError here: not a corrupt file, an unreadable one
        try:
            with gzip.open(raw, "rb") as f:
                return f.read()
        except (gzip.BadGzipFile, EOFError, zlib.error) as err:
            raise DataFileError(
                f"{path}: cannot decompress ({err}); the file is corrupt or partial"
            ) from err


def _remedy(path: Path) -> str:
    """What to do about a bad file, which depends on whose file it is."""
    if path.parent == DEBIAN_DIR:
        return (
            "reinstall Debian's package: "
            "apt-get install --reinstall dataset-fashion-mnist"
        )
    if path.parent == cache_dir():
        return "delete the file so that it is downloaded again"
    return "replace it with a good copy of the official file"


def read_idx_file(
    path: str | os.PathLike, *, raw_md5: str | None = None
) -> torch.Tensor:
    """Read an IDX file (plain or ``.gz``), verifying its decompressed MD5 if given.

    Args:
        path: the file; a name ending in ``.gz`` is decompressed first.
        raw_md5: the expected MD5 of the decompressed bytes, or ``None`` to skip the
            check.

    Returns:
        A uint8 tensor of the shape the file's header declares.

    Raises:
        DataFileError: naming the file, if it cannot be decompressed, its checksum
            differs or its content is not a valid IDX file.
    """
    path = Path(path)
    data = _read_bytes(path)
    if raw_md5 is not None:
        got = hashlib.md5(data).hexdigest()
        if got != raw_md5:
            raise DataFileError(
                f"{path}: checksum mismatch of the decompressed bytes: expected MD5 "
                f"{raw_md5}, got {got}; {_remedy(path)}"
            )
    return parse_idx(data, name=str(path))


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """The user cache folder that downloads go to.

    Args:
        env: where to read ``XDG_CACHE_HOME``; ``os.environ`` by default.
    """
    env = os.environ if env is None else env
    base = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "dlcv" / "fashion-mnist"


def search_dirs(env: Mapping[str, str] | None = None) -> list[Path]:
    """The folders searched for the files, in order: ``$DLCV_DATA``, Debian's, cache.

    Args:
        env: where to read ``DLCV_DATA`` and ``XDG_CACHE_HOME``; ``os.environ`` by
            default.

    Raises:
        FileNotFoundError: if ``DLCV_DATA`` is set but is not a folder.
    """
    env = os.environ if env is None else env
    dirs = [Path(env["DLCV_DATA"])] if env.get("DLCV_DATA") else []
    if dirs and not dirs[0].is_dir():
        raise FileNotFoundError(f"DLCV_DATA={env['DLCV_DATA']!r} is not a folder")
    return [*dirs, DEBIAN_DIR, cache_dir(env)]


def find_file(name: str, dirs: list[Path]) -> Path | None:
    """The first ``dir/name.gz`` or ``dir/name`` that exists, or ``None``.

    Args:
        name: the file's name without ``.gz``, e.g. ``"train-images-idx3-ubyte"``.
        dirs: the folders to look in, in order; within each, ``.gz`` comes first.
    """
    for d in dirs:
        for candidate in (d / f"{name}.gz", d / name):
            if candidate.is_file():
                return candidate
    return None


def download_file(url: str, dest: Path, *, gz_md5: str, raw_md5: str) -> Path:
    """Download a ``.gz``, verify both checksums, then move it to ``dest`` atomically.

    The download goes to a temporary file beside ``dest``; whatever goes wrong, that
    file is removed and ``dest`` is left untouched. Temporary files that a killed
    download left behind more than an hour ago are removed first. The cached file gets
    the permissions of any new file (``0o666`` less the umask), so other users can read
    a shared cache.

    Args:
        url: where to download the ``.gz`` file from.
        dest: where the verified file goes; its folder is created if needed.
        gz_md5: the expected MD5 of the downloaded (compressed) bytes.
        raw_md5: the expected MD5 of its decompressed bytes.

    Returns:
        ``dest``.

    Raises:
        DataFileError: on a checksum mismatch or a download that does not decompress.
        OSError: naming the URL, if the download itself fails.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    for stale in dest.parent.glob(f".{dest.name}.*.part"):
        if time.time() - stale.stat().st_mtime > STALE_PART_SECONDS:
            stale.unlink(missing_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=dest.parent, prefix=f".{dest.name}.", suffix=".part"
    )
    tmp = Path(tmp_name)
    try:
        digest = hashlib.md5()
        try:
            with (
                os.fdopen(fd, "wb") as out,
                urllib.request.urlopen(url, timeout=60) as response,
            ):
                while chunk := response.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
        except urllib.error.URLError as err:  # HTTPError (404, ...) included
            raise OSError(f"{url}: download failed: {err}") from err
        if digest.hexdigest() != gz_md5:
            raise DataFileError(
                f"{url}: checksum mismatch of the download: expected MD5 {gz_md5}, "
                f"got {digest.hexdigest()}"
            )
        try:
            got_raw = hashlib.md5(_read_bytes(tmp, gz=True)).hexdigest()
        except DataFileError as err:  # name the URL, not the temporary file
            raise DataFileError(
                f"{url}: the download does not decompress ({err.__cause__})"
            ) from err
        if got_raw != raw_md5:
            raise DataFileError(
                f"{url}: checksum mismatch of the decompressed bytes: "
                f"expected MD5 {raw_md5}, got {got_raw}"
            )
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)  # mkstemp made it 0o600
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _locate(name: str, *, download: bool, env: Mapping[str, str] | None) -> Path:
    path = find_file(name, search_dirs(env))
    if path is not None:
        return path
    if not download:
        where = ", ".join(str(d) for d in search_dirs(env))
        raise FileNotFoundError(f"{name}: not found in {where}, and download=False")
    info = FILES[name]
    dest = cache_dir(env) / f"{name}.gz"
    return download_file(
        f"{URL}{name}.gz", dest, gz_md5=info.gz_md5, raw_md5=info.raw_md5
    )


def load_fashion_mnist(
    split: str = "train", *, download: bool = True, env: Mapping[str, str] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load one split of Fashion-MNIST.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000 images).
        download: fetch missing files from the official site into the cache.
        env: where to read ``DLCV_DATA`` and ``XDG_CACHE_HOME``; ``os.environ`` by
            default.

    Returns:
        ``(images, labels)``: images uint8 of shape (N, 28, 28) with values 0..255,
        labels int64 of shape (N,) indexing :data:`CLASSES`.

    Raises:
        ValueError: for an unknown split.
        DataFileError: naming the file, if one is corrupt or truncated.
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {tuple(_SPLITS)}, got {split!r}")
    tensors = []
    for name in _SPLITS[split]:
        path = _locate(name, download=download, env=env)
        tensor = read_idx_file(path, raw_md5=FILES[name].raw_md5)
        if tuple(tensor.shape) != FILES[name].shape:
            raise DataFileError(
                f"{path}: expected shape {FILES[name].shape}, got {tuple(tensor.shape)}"
            )
        tensors.append(tensor)
    images, labels = tensors
    return images, labels.long()


def train_val_test(
    n_train: int,
    n_val: int,
    n_test: int = 10_000,
    *,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    flatten: bool = True,
    env: Mapping[str, str] | None = None,
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Fashion-MNIST as float tensors, split into train, validation and test.

    Train and validation are disjoint random subsets of the official training split,
    drawn with ``generator``; test is the first ``n_test`` images of the official test
    split. Pixels are scaled to [0, 1]; centring and other preprocessing are left to the
    chapter.

    Args:
        n_train: size of the training set, drawn from the 60,000 training images.
        n_val: size of the validation set, drawn from the same 60,000 images and
            disjoint from the training set (n_train + n_val <= 60000).
        n_test: size taken from the 10,000 test images.
        generator: the RNG that draws the subsets.
        device: where the tensors go.
        flatten: return images as (N, 784) rather than (N, 28, 28).
        env: where to read ``DLCV_DATA`` and ``XDG_CACHE_HOME``; ``os.environ`` by
            default. Missing files are downloaded into the cache.

    Returns:
        ``{"train": (x, y), "val": (x, y), "test": (x, y)}``; x float32, y int64.

    Raises:
        ValueError: if a size is not an int in range or n_train + n_val > 60000.
    """
    for name, n, most in (
        ("n_train", n_train, 60_000),
        ("n_val", n_val, 60_000),
        ("n_test", n_test, 10_000),
    ):
        if not isinstance(n, int) or not 0 <= n <= most:
            raise ValueError(f"{name} must be an int in [0, {most}], got {n!r}")
    if n_train + n_val > 60_000:
        raise ValueError(
            f"n_train + n_val must be at most 60000, got {n_train + n_val}"
        )
    x_all, y_all = load_fashion_mnist("train", env=env)
    x_test, y_test = load_fashion_mnist("test", env=env)
    order = torch.randperm(len(x_all), generator=generator)
    parts = {
        "train": order[:n_train],
        "val": order[n_train : n_train + n_val],
    }

    def prepare(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.to(device=device, dtype=torch.float32) / 255  # (N, 28, 28) in [0, 1]
        return (x.flatten(1) if flatten else x), y.to(device)

    out = {name: prepare(x_all[idx], y_all[idx]) for name, idx in parts.items()}
    out["test"] = prepare(x_test[:n_test], y_test[:n_test])
    return out


def load_fortunes(
    files: Sequence[str] = FORTUNE_FILES, *, directory: str | Path | None = None
) -> list[str]:
    """The fortunes (quotations, poems, songs) of some ``fortune`` data files.

    A fortune file holds its entries separated by lines that hold only ``%``. Each entry
    becomes one string: tabs expanded to spaces, trailing spaces and blank edge lines
    stripped, and any character other than printable ASCII and newline dropped, so
    that a character-level model sees a small, fixed alphabet.

    Args:
        files: names of files in ``directory``; the default, :data:`FORTUNE_FILES`,
            holds about 2,900 fortunes (about 580,000 characters).
        directory: where the files are; Debian's ``/usr/share/games/fortunes`` (the
            package ``fortunes``) by default.

    Returns:
        The fortunes, file by file in the given order, each in its file's order.

    Raises:
        TypeError: if ``files`` is not a sequence of strings.
        ValueError: if ``files`` is empty or names a path rather than a file name.
        FileNotFoundError: naming the file and how to install the corpus.
    """
    if isinstance(files, str) or not isinstance(files, Sequence):
        raise TypeError(
            f"files must be a sequence of file names, got {type(files).__name__}"
        )
    if not files:
        raise ValueError("files must name at least one fortune file, got none")
    folder = FORTUNE_DIR if directory is None else Path(directory)
    fortunes: list[str] = []
    for name in files:
        if not isinstance(name, str):
            raise TypeError(f"files must hold str names, got {type(name).__name__}")
        if not name or Path(name).name != name:
            raise ValueError(f"files must hold bare file names, got {name!r}")
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: fortune file not found; install Debian's package `fortunes` "
                "(apt-get install fortunes) or pass directory="
            )
        text = path.read_bytes().decode("utf-8", errors="ignore")
        for entry in text.split("\n%\n"):
            lines = [ln.expandtabs().rstrip() for ln in entry.splitlines()]
            fortune = "\n".join(lines).strip("\n")
            fortune = "".join(ch for ch in fortune if ch == "\n" or " " <= ch <= "~")
            if fortune.strip() and fortune.strip() != "%":
                fortunes.append(fortune)
    return fortunes


def compose_captions(
    images: torch.Tensor,
    labels: torch.Tensor,
    n: int,
    *,
    min_items: int = 2,
    max_items: int = 3,
    slots: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Canvases of Fashion-MNIST items in a row, captioned with their class names.

    Each canvas is a row of ``slots`` cells of 28 x 28 pixels. It holds ``k`` items, k
    drawn uniformly from ``[min_items, max_items]``, in k distinct random cells, the
    other cells blank (zero); the items are drawn at random from ``images``. Its caption
    names the items from left to right.

    Args:
        images: the items, float, of shape ``(N, 28, 28)``, ``(N, 1, 28, 28)`` or
            ``(N, 784)``, background 0 (as :func:`train_val_test` gives them).
        labels: their classes, int of shape ``(N,)`` in ``[0, 10)``.
        n: the number of canvases.
        min_items: the fewest items on a canvas, at least 1.
        max_items: the most items on a canvas, at least ``min_items``.
        slots: the cells per canvas, at least ``max_items``; ``max_items`` by default.
        generator: the RNG that draws items, counts and cells.

    Returns:
        ``(canvas, tokens)``: canvas of shape ``(n, 1, 28, 28 * slots)`` in the dtype
        and on the device of ``images``; tokens int64 of shape ``(n, max_items + 1)``:
        the k class indices from left to right, then :data:`END`, then :data:`PAD`.

    Raises:
        TypeError: if images is not a float tensor or labels not an int tensor.
        ValueError: for shapes that do not match or counts out of range.
    """
    check_float_tensor(images, "images", min_ndim=2)
    count = images.shape[0]
    if images.dim() == 2 and images.shape[1] == 784:
        images = images.reshape(count, 28, 28)
    elif images.dim() == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if tuple(images.shape[1:]) != (28, 28):
        raise ValueError(
            "images must have shape (N, 28, 28), (N, 1, 28, 28) or (N, 784), "
            f"got {tuple(images.shape) if images.dim() != 3 else (count, 28, 28)}"
        )
    labels = check_labels(labels, "labels", n=count, num_classes=len(CLASSES))
    n = check_positive_int(n, "n")
    min_items = check_positive_int(min_items, "min_items")
    max_items = check_positive_int(max_items, "max_items", minimum=min_items)
    slots = max_items if slots is None else slots
    slots = check_positive_int(slots, "slots", minimum=max_items)
    if count == 0:
        raise ValueError("images must hold at least one item, got 0")
    device = images.device
    k = torch.randint(min_items, max_items + 1, (n,), generator=generator)
    picks = torch.randint(count, (n, max_items), generator=generator)
    # k distinct random cells per canvas, in increasing order (left to right).
    cells = torch.rand(n, slots, generator=generator).argsort(dim=1)[:, :max_items]
    used = torch.arange(max_items) < k[:, None]  # (n, max_items)
    cells = torch.where(used, cells, slots).sort(dim=1).values  # unused cells last
    canvas = images.new_zeros(n, slots, 28, 28)
    rows, places = used.nonzero(as_tuple=True)
    items = picks[rows, places].to(device)
    canvas[rows.to(device), cells[rows, places].to(device)] = images[items]
    tokens = torch.full((n, max_items + 1), PAD, dtype=torch.int64)
    tokens[rows, places] = labels[items].cpu()
    tokens[torch.arange(n), k] = END
    canvas = canvas.permute(0, 2, 1, 3).reshape(n, 1, 28, 28 * slots)
    return canvas, tokens.to(device)


def caption_text(tokens: torch.Tensor) -> str:
    """The caption that a row of tokens spells: class names up to :data:`END`.

    Args:
        tokens: int of shape ``(T,)``: class indices in ``[0, 10)``, then optionally
            :data:`END` (which ends the caption) and anything after it. :data:`START`
            tokens are skipped.

    Returns:
        The class names joined by ", " (for example ``"Sandal, Shirt, Bag"``); ``""``
        for a caption that ends at once.

    Raises:
        TypeError: if tokens is not an int tensor.
        ValueError: if tokens is not 1-D or holds a token that is not a word.
    """
    check_tensor(tokens, "tokens", ndim=1)
    if tokens.is_floating_point() or tokens.dtype == torch.bool:
        raise TypeError(f"tokens must have an integer dtype, got {tokens.dtype}")
    words = []
    for t in tokens.tolist():
        if t == END:
            break
        if t == START:
            continue
        if not 0 <= t < len(CLASSES):
            raise ValueError(
                f"tokens must hold class indices in [0, {len(CLASSES)}), END or "
                f"START before END, got {t}"
            )
        words.append(CLASSES[t])
    return ", ".join(words)


def main(argv: list[str] | None = None) -> int:
    """``python -m dlcv.data --check``: find (or download) and verify all four files.

    Args:
        argv: the command-line arguments; ``sys.argv[1:]`` by default.

    Returns:
        The exit status, 0.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="locate, download if needed, and verify"
    )
    args = parser.parse_args(argv)
    if not args.check:
        parser.print_help()
        return 0
    for split in _SPLITS:
        images, _labels = load_fashion_mnist(split)
        where = {str(find_file(n, search_dirs()).parent) for n in _SPLITS[split]}
        print(
            f"Fashion-MNIST {split}: {tuple(images.shape)} images, verified, "
            f"from {', '.join(where)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
