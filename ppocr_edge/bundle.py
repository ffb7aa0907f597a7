"""Model bundles: a directory of OpenVINO IR files plus manifest.json describing how to run them.

Model facts (dictionary, normalisation, input height, post-processing defaults) travel with the model in the
manifest, never as code defaults. Every file is checked against the sha256 recorded in the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BundleError

FORMAT_NAME = "ppocr_edge.bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# the official PP-OCRv3 models as FP32 IR (python -m convert.official_v3), and their INT8 quantization
# (python -m convert.quantize, see models/ch_pp_ocrv3_int8/quantization_report.md), which is the default
MODELS_DIR = Path(__file__).resolve().parent / "models"
FP32_BUNDLE = MODELS_DIR / "ch_pp_ocrv3"
DEFAULT_BUNDLE = MODELS_DIR / "ch_pp_ocrv3_int8"
ALIASES = {"default": DEFAULT_BUNDLE.name}  # extra names of embedded bundles
# accuracy on real_dev and speed of the embedded bundles, written by benchmarks/measure_bundles.py
MEASURED = MODELS_DIR / "measured.json"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class ModelEntry:
    """One network of the bundle: its IR files and the pre/post-processing parameters that belong to it."""

    role: str  # "det", "rec" or "cls"
    xml: Path
    bin: Path
    preprocess: dict[str, Any]
    postprocess: dict[str, Any]


@dataclass(frozen=True)
class Bundle:
    root: Path
    manifest: dict[str, Any]
    det: ModelEntry | None
    rec: ModelEntry
    cls: ModelEntry | None
    characters: tuple[str, ...] = field(repr=False, default=())  # CTC class i (i >= 1) -> characters[i - 1]

    @property
    def name(self) -> str:
        return str(self.manifest.get("name", self.root.name))


# settings each model's runtime needs from the manifest: (section, key, type)
REQUIRED: dict[str, list[tuple[str, str, type | tuple[type, ...]]]] = {
    "det": [("preprocess", "limit_side_len", int), ("preprocess", "limit_type", str),
            ("preprocess", "mean", list), ("preprocess", "std", list)],
    "rec": [("preprocess", "height", int), ("preprocess", "width_buckets", list),
            ("preprocess", "mean", list), ("preprocess", "std", list)],
    "cls": [("preprocess", "height", int), ("preprocess", "width", int), ("preprocess", "mean", list),
            ("preprocess", "std", list), ("postprocess", "labels", list)],
}


def _require(d: Any, key: str, where: str, kind: type | tuple[type, ...] = object) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise BundleError(f"{where}: missing key {key!r}")
    if not isinstance(d[key], kind) or isinstance(d[key], bool) and kind is int:
        raise BundleError(f"{where}: {key!r} has the wrong type ({type(d[key]).__name__})")
    return d[key]


def _check_settings(role: str, spec: dict[str, Any], where: str) -> None:
    for section, key, kind in REQUIRED[role]:
        value = _require(_require(spec, section, where, dict), key, f"{where}.{section}", kind)
        if key in ("mean", "std") and (len(value) != 3 or not all(isinstance(v, (int, float)) for v in value)):
            raise BundleError(f"{where}.{section}: {key!r} must be 3 numbers")
        if key == "width_buckets" and (not value or not all(isinstance(v, int) and v > 0 for v in value)):
            raise BundleError(f"{where}.{section}: 'width_buckets' must be positive integers")
    if role == "cls" and "180" not in spec["postprocess"]["labels"]:
        raise BundleError(f"{where}.postprocess: cls 'labels' must contain '180'")


def _checked_file(root: Path, name: str, hashes: dict[str, str], verify: bool) -> Path:
    path = root / name
    if not path.is_file():
        raise BundleError(f"bundle {root}: missing file {name}")
    if verify:
        expected = hashes.get(name)
        if expected is None:
            raise BundleError(f"bundle {root}: no sha256 recorded for {name}")
        if sha256_of(path) != expected:
            raise BundleError(f"bundle {root}: {name} does not match its sha256 in {MANIFEST} (corrupt or replaced)")
    return path


def read_dictionary(path: Path) -> list[str]:
    """PaddleOCR dictionary format: one character per line, UTF-8, lines kept verbatim (spaces are characters)."""
    text = path.read_text(encoding="utf-8")
    if text.endswith("\n"):
        text = text[:-1]
    return text.split("\n") if text else []


def embedded_bundles() -> dict[str, Path]:
    """Name -> directory of every bundle shipped in ppocr_edge/models (each sub-directory with a manifest.json);
    the name is the directory's name, so a new ``models/en/`` is found as ``en``."""
    return {p.parent.name: p.parent for p in sorted(MODELS_DIR.glob(f"*/{MANIFEST}"))}


def resolve_bundle(name_or_path: str | os.PathLike | None = None) -> Path:
    """The directory of a bundle given as a directory or as the name of an embedded bundle (None: the default).

    An existing directory wins over a name. Anything else raises BundleError listing the valid names.
    """
    if name_or_path is None:
        return DEFAULT_BUNDLE
    path = Path(name_or_path)
    if path.is_dir():
        return path
    embedded = embedded_bundles()
    text = os.fspath(name_or_path)
    name = ALIASES.get(text, text)
    if name in embedded:
        return embedded[name]
    names = ", ".join([*embedded, *(f"{a} (= {t})" for a, t in ALIASES.items())])
    raise BundleError(f"{text!r} is neither a bundle directory nor an embedded bundle name; embedded bundles: {names}")


def bundle_summary(root: str | os.PathLike) -> dict[str, Any]:
    """What ``ppocr-edge bundles`` shows of a bundle directory: name, path, size on disk, title, licence, source, and
    for an embedded bundle its measured accuracy and speed (MEASURED; None when not measured).

    Reads only the manifest (no checksums); fields the manifest lacks are None."""
    root = Path(root)
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        manifest = None
    manifest = manifest if isinstance(manifest, dict) else {}
    source = manifest.get("source")
    origin = source.get("origin") if isinstance(source, dict) else source
    size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    measured = None
    if root.resolve().parent == MODELS_DIR and MEASURED.is_file():
        try:
            measured = json.loads(MEASURED.read_text(encoding="utf-8")).get(root.name)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            measured = None
    return {"name": root.name, "path": str(root), "size_bytes": size, "title": manifest.get("name"),
            "license": manifest.get("license"), "source": None if origin is None else str(origin),
            "measured": measured}


def load_bundle(root: str | os.PathLike | None = None, verify: bool = True) -> Bundle:
    """Read and validate a bundle: a directory, the name of an embedded bundle (see ``resolve_bundle``), or the
    embedded default when root is None."""
    root = resolve_bundle(root)
    mpath = root / MANIFEST
    if not mpath.is_file():
        raise BundleError(f"{root}: not a model bundle (no {MANIFEST})")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"{mpath}: invalid JSON ({e})") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise BundleError(f"{mpath}: not a {FORMAT_NAME} manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(f"{mpath}: format_version {version!r} is not supported (expected {FORMAT_VERSION})")
    hashes = _require(manifest, "files", str(mpath), dict)
    models = _require(manifest, "models", str(mpath), dict)

    entries: dict[str, ModelEntry | None] = {}
    for role in ("det", "rec", "cls"):
        spec = models.get(role)
        if spec is None:
            entries[role] = None
            continue
        where = f"{mpath} models.{role}"
        if not isinstance(spec, dict):
            raise BundleError(f"{where}: expected an object, got {type(spec).__name__}")
        _check_settings(role, spec, where)
        xml = _checked_file(root, _require(spec, "xml", where, str), hashes, verify)
        binf = _checked_file(root, _require(spec, "bin", where, str), hashes, verify)
        post = _require(spec, "postprocess", where, dict) if "postprocess" in spec else {}
        entries[role] = ModelEntry(role, xml, binf, dict(spec["preprocess"]), dict(post))
    rec = entries["rec"]
    if rec is None:
        raise BundleError(f"{mpath}: a bundle needs at least a 'rec' model")
    dict_name = _require(models["rec"], "dictionary", f"{mpath} models.rec", str)
    chars = read_dictionary(_checked_file(root, dict_name, hashes, verify))
    if models["rec"].get("use_space_char", False):
        chars.append(" ")
    if not chars:
        raise BundleError(f"{mpath}: empty recognition dictionary")
    return Bundle(root, manifest, entries["det"], rec, entries["cls"], tuple(chars))


def has_space_class(n_classes: int | None, n_dictionary: int, where: str = "rec model") -> bool:
    """PP-OCR's CTC class layout is blank + the dictionary's characters (+ a space appended when use_space_char), so
    whether a model carries the appended space follows from its class count; any other count is a BundleError."""
    if n_classes not in (n_dictionary + 1, n_dictionary + 2):
        raise BundleError(f"{where} outputs {n_classes} classes; a dictionary of {n_dictionary} characters needs "
                          f"{n_dictionary + 1} (or {n_dictionary + 2} with the space class)")
    return n_classes == n_dictionary + 2


def write_manifest(root: str | Path, manifest: dict[str, Any]) -> Path:
    """Write manifest.json for a bundle directory, recording the sha256 of every file the models reference."""
    root = Path(root)
    names: list[str] = []
    for spec in manifest["models"].values():
        names += [spec["xml"], spec["bin"]] + ([spec["dictionary"]] if "dictionary" in spec else [])
    full = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **manifest,
            "files": {n: sha256_of(root / n) for n in sorted(set(names))}}
    path = root / MANIFEST
    path.write_text(json.dumps(full, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
