"""Bundle loading/validation errors, and every kind of bad or unusual input image."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from ppocr_edge import BundleError, ImageError, OCRError, OCRPipeline, load_bundle
from ppocr_edge.bundle import DEFAULT_BUNDLE, FORMAT_VERSION, MANIFEST, read_dictionary, sha256_of, write_manifest

pytestmark = pytest.mark.bundle


# ================================================================================================ bundles
@pytest.fixture
def bundle_dir(tmp_path) -> Path:
    """A private copy of the embedded bundle (real copies: tests corrupt files in place)."""
    dst = tmp_path / "bundle"
    shutil.copytree(DEFAULT_BUNDLE, dst)
    return dst


def _manifest(root: Path) -> dict:
    return json.loads((root / MANIFEST).read_text(encoding="utf-8"))


def _save_manifest(root: Path, manifest: dict) -> None:
    (root / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def _rewrite(root: Path, edit) -> None:
    """Edit the manifest and record fresh sha256s of the referenced files (write_manifest)."""
    m = _manifest(root)
    edit(m)
    m.pop("files", None)
    write_manifest(root, m)


def test_default_bundle(ocr):
    b = load_bundle()
    assert b.root == DEFAULT_BUNDLE
    assert b.det is not None and b.cls is not None
    assert b.manifest["format_version"] == FORMAT_VERSION
    dict_lines = read_dictionary(DEFAULT_BUNDLE / b.manifest["models"]["rec"]["dictionary"])
    assert b.characters == tuple(dict_lines) + (" ",), "use_space_char appends the space as the last class"
    assert ocr.bundle.characters == b.characters
    assert ocr.use_cls and ocr.drop_score == b.manifest["models"]["rec"]["postprocess"]["drop_score"]
    for name, digest in b.manifest["files"].items():
        assert sha256_of(DEFAULT_BUNDLE / name) == digest


def test_copied_bundle_loads(bundle_dir):
    b = load_bundle(bundle_dir)
    assert b.root == bundle_dir and b.characters == load_bundle().characters
    assert b.rec.xml == bundle_dir / "rec.xml"


def test_not_a_bundle(tmp_path):
    with pytest.raises(BundleError, match="manifest"):
        load_bundle(tmp_path)
    with pytest.raises(BundleError):
        load_bundle(tmp_path / "does-not-exist")
    with pytest.raises(BundleError):
        OCRPipeline(tmp_path)


@pytest.mark.parametrize("name", ["det.bin", "rec.xml", "cls.bin", "dict.txt"])
def test_missing_file(bundle_dir, name):
    (bundle_dir / name).unlink()
    with pytest.raises(BundleError, match=name.replace(".", r"\.")):
        load_bundle(bundle_dir)


@pytest.mark.parametrize("name", ["rec.bin", "det.xml", "dict.txt"])
def test_corrupt_file_fails_its_checksum(bundle_dir, name):
    path = bundle_dir / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256"):
        load_bundle(bundle_dir)


def test_unverified_corrupt_xml_is_a_bundle_error(bundle_dir):
    (bundle_dir / "rec.xml").write_text("<net><layers><layer id='0' broken", encoding="utf-8")
    b = load_bundle(bundle_dir, verify=False)  # not checked against the manifest...
    with pytest.raises(BundleError, match="rec.xml"):  # ...but OpenVINO's parse error is still ours
        OCRPipeline(b, cache_dir="")


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00\x01", b"", b"[1, 2, 3]", b"\"text\"", b"null"])
def test_bad_manifest_json(bundle_dir, content):
    (bundle_dir / MANIFEST).write_bytes(content)
    with pytest.raises(BundleError):
        load_bundle(bundle_dir)


@pytest.mark.parametrize("edit", [
    pytest.param(lambda m: m.__setitem__("format_version", FORMAT_VERSION + 1), id="newer-version"),
    pytest.param(lambda m: m.__setitem__("format_version", "1"), id="version-as-string"),
    pytest.param(lambda m: m.pop("format_version"), id="no-version"),
    pytest.param(lambda m: m.__setitem__("format", "paddleocr"), id="wrong-format"),
    pytest.param(lambda m: m.pop("files"), id="no-files"),
    pytest.param(lambda m: m["files"].pop("det.bin"), id="no-sha-for-det.bin"),
    pytest.param(lambda m: m["files"].__setitem__("cls.xml", "0" * 64), id="wrong-sha"),
    pytest.param(lambda m: m.pop("models"), id="no-models"),
    pytest.param(lambda m: m["models"].pop("rec"), id="no-rec"),
    pytest.param(lambda m: m["models"]["rec"].pop("dictionary"), id="no-dictionary"),
    pytest.param(lambda m: m["models"]["det"].pop("xml"), id="det-without-xml"),
    pytest.param(lambda m: m["models"]["det"].__setitem__("bin", "other.bin"), id="det-bin-not-there"),
])
def test_invalid_manifest(bundle_dir, edit):
    m = _manifest(bundle_dir)
    edit(m)
    _save_manifest(bundle_dir, m)
    with pytest.raises(BundleError):
        load_bundle(bundle_dir)


@pytest.mark.parametrize("edit", [
    pytest.param(lambda m: m.__setitem__("models", []), id="models-is-a-list"),
    pytest.param(lambda m: m.__setitem__("files", list(m["files"])), id="files-is-a-list"),
    pytest.param(lambda m: m["models"].__setitem__("det", "det.xml"), id="model-entry-is-a-string"),
])
def test_manifest_with_wrong_json_types(bundle_dir, edit):
    m = _manifest(bundle_dir)
    edit(m)
    _save_manifest(bundle_dir, m)
    with pytest.raises(BundleError):
        load_bundle(bundle_dir)


def _drop_last_character(root: Path) -> None:
    path = root / "dict.txt"
    lines = path.read_text(encoding="utf-8").rstrip("\n").split("\n")
    path.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")


def _add_character(root: Path) -> None:
    path = root / "dict.txt"
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n\u2603\n", encoding="utf-8")


@pytest.mark.parametrize("change", [
    pytest.param(lambda root: _rewrite(root, lambda m: None) if _drop_last_character(root) is None else None,
                 id="one-character-short"),
    pytest.param(lambda root: _rewrite(root, lambda m: None) if _add_character(root) is None else None,
                 id="one-character-extra"),
    pytest.param(lambda root: _rewrite(root, lambda m: m["models"]["rec"].__setitem__("use_space_char", False)),
                 id="space-class-missing"),
])
def test_dictionary_must_match_the_rec_model(bundle_dir, change):
    change(bundle_dir)
    b = load_bundle(bundle_dir)  # checksums are right: the bundle itself loads...
    with pytest.raises(BundleError, match="classes"):  # ...but the model has another number of classes
        OCRPipeline(b, cache_dir="")


def test_empty_dictionary(bundle_dir):
    (bundle_dir / "dict.txt").write_text("", encoding="utf-8")
    _rewrite(bundle_dir, lambda m: m["models"]["rec"].__setitem__("use_space_char", False))
    with pytest.raises(BundleError, match="empty"):
        load_bundle(bundle_dir)


def test_cls_labels_must_match_the_cls_model(bundle_dir):
    _rewrite(bundle_dir, lambda m: m["models"]["cls"]["postprocess"].__setitem__("labels", ["0", "90", "180"]))
    with pytest.raises(BundleError, match="cls"):
        OCRPipeline(bundle_dir, cache_dir="")


@pytest.mark.parametrize("edit", [
    pytest.param(lambda m: m["models"]["rec"]["preprocess"].pop("width_buckets"), id="rec-no-width_buckets"),
    pytest.param(lambda m: m["models"]["rec"]["preprocess"].pop("height"), id="rec-no-height"),
    pytest.param(lambda m: m["models"]["det"]["preprocess"].pop("limit_side_len"), id="det-no-limit_side_len"),
    pytest.param(lambda m: m["models"]["cls"]["postprocess"].__setitem__("labels", ["0", "upside-down"]),
                 id="cls-no-180-label"),
])
def test_incomplete_model_settings_are_bundle_errors(bundle_dir, ov_cache_dir, edit):
    _rewrite(bundle_dir, edit)
    img = np.full((64, 200, 3), 255, np.uint8)
    cv2.putText(img, "Test 12", (10, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 2)
    with pytest.raises(BundleError):
        OCRPipeline(bundle_dir, cache_dir=str(ov_cache_dir))(img)


def _line_image(text="Total 42.50", size=(64, 300)):
    img = np.full((size[0], size[1], 3), 255, np.uint8)
    cv2.putText(img, text, (12, 44), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (0, 0, 0), 2, cv2.LINE_AA)
    return img


def test_bundle_without_detector(bundle_dir, ov_cache_dir):
    _rewrite(bundle_dir, lambda m: m["models"].pop("det"))
    (bundle_dir / "det.xml").unlink()
    (bundle_dir / "det.bin").unlink()
    p = OCRPipeline(bundle_dir, cache_dir=str(ov_cache_dir))
    assert p.bundle.det is None
    res = p(_line_image(), use_det=False)
    assert [line.text for line in res.lines] == ["Total 42.50"]
    with pytest.raises(OCRError, match="use_det=False"):
        p(_line_image())


def test_bundle_without_classifier(bundle_dir, ov_cache_dir):
    _rewrite(bundle_dir, lambda m: m["models"].pop("cls"))
    p = OCRPipeline(bundle_dir, cache_dir=str(ov_cache_dir))
    assert p.bundle.cls is None and not p.use_cls
    res = p(cv2.rotate(_line_image(), cv2.ROTATE_180))
    assert all(line.angle == 0 for line in res.lines)


def test_write_manifest_records_checksums(bundle_dir):
    m = _manifest(bundle_dir)
    m.pop("files")
    m.pop("format")
    path = write_manifest(bundle_dir, m)
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["format"] == "ppocr_edge.bundle" and written["format_version"] == FORMAT_VERSION
    assert set(written["files"]) == {"det.xml", "det.bin", "rec.xml", "rec.bin", "cls.xml", "cls.bin", "dict.txt"}
    for name, digest in written["files"].items():
        assert digest == sha256_of(bundle_dir / name)
    load_bundle(bundle_dir)


def test_compiled_model_cache(tmp_path, ocr):
    cache = tmp_path / "cache"
    p = OCRPipeline(ocr.bundle, cache_dir=str(cache))
    assert cache.is_dir() and any(cache.iterdir()), "compiled blobs are written to cache_dir"
    img = _line_image()
    assert [line.text for line in p(img).lines] == [line.text for line in ocr(img).lines]


# ================================================================================================ bad inputs
def _all_errors_are_ours(exc_info):
    assert isinstance(exc_info.value, OCRError) and isinstance(exc_info.value, ImageError)
    assert isinstance(exc_info.value, ValueError), "ImageError is also a ValueError"


def test_missing_and_unreadable_paths(ocr, tmp_path):
    for bad in (tmp_path / "missing.png", str(tmp_path / "missing.png"), tmp_path):
        with pytest.raises(ImageError) as e:
            ocr(bad)
        _all_errors_are_ours(e)
    text = tmp_path / "notes.png"
    text.write_text("this is not an image\n" * 20)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    for bad in (text, empty):
        with pytest.raises(ImageError, match=bad.name):
            ocr(bad)


def test_undecodable_bytes(ocr):
    ok, png = cv2.imencode(".png", _line_image())
    png = png.tobytes()
    for bad in (b"", bytearray(), b"\x89PNG\r\n\x1a\n", png[: len(png) // 2], b"GIF89a" + bytes(100),
                np.random.default_rng(0).bytes(5000), memoryview(b"xyz")):
        with pytest.raises(ImageError) as e:
            ocr(bad)
        _all_errors_are_ours(e)


@pytest.mark.parametrize("bad", [None, 42, 3.5, ["a.png"], {"path": "a.png"}, object()],
                         ids=["None", "int", "float", "list", "dict", "object"])
def test_unsupported_input_types(ocr, bad):
    with pytest.raises(ImageError):
        ocr(bad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int8, np.int16, np.uint32, bool])
def test_unsupported_dtypes(ocr, dtype):
    with pytest.raises(ImageError, match="dtype"):
        ocr(np.zeros((32, 32, 3), dtype=dtype))


def test_float_image_in_unit_range_is_rejected_not_misread(ocr):
    img = _line_image().astype(np.float32) / 255.0
    with pytest.raises(ImageError):
        ocr(img)


@pytest.mark.parametrize("shape", [(10, 10, 5), (10, 10, 3, 1), (2, 10, 10, 3), (100,), ()])  # HxWx2: gray+alpha
def test_unsupported_shapes(ocr, shape):
    with pytest.raises(ImageError):
        ocr(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("shape", [(0, 10, 3), (10, 0, 3), (0, 0, 3), (0, 10, 4)])
def test_empty_color_arrays(ocr, shape):
    with pytest.raises(ImageError, match="empty"):
        ocr(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("shape,dtype", [((0, 0), np.uint8), ((0, 10), np.uint8), ((10, 0), np.uint8),
                                         ((0, 10, 1), np.uint8), ((0, 0), np.uint16)])
def test_empty_gray_arrays(ocr, shape, dtype):
    with pytest.raises(ImageError, match="empty"):
        ocr(np.zeros(shape, dtype))


@pytest.mark.parametrize("shape", [(1, 1), (1, 1, 3), (1, 1, 4), (2, 3, 3), (1, 500, 3), (500, 1, 3)])
def test_degenerate_sizes_give_empty_results(ocr, shape):
    img = np.full(shape, 255, np.uint8)
    res = ocr(img)
    assert res.lines == () and res.image_size == shape[:2]
    assert ocr(img, use_det=False).image_size == shape[:2]


@pytest.mark.parametrize("shape", [(20000, 300, 3), (300, 20000, 3)])
def test_huge_extreme_aspect_images(ocr, shape):
    img = np.full(shape, 255, np.uint8)
    h, w = shape[:2]
    for i in range(0, max(h, w) - 400, 2500):  # some text spread along the long side
        x, y = (10, i + 60) if h > w else (i + 10, 60)
        cv2.putText(img, f"Item {i}", (x, y), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 2)
    res = ocr(img)
    assert res.image_size == (h, w)
    for line in res.lines:
        pts = np.array(line.box)
        assert np.all(pts >= 0) and np.all(pts[:, 0] <= w) and np.all(pts[:, 1] <= h)
        assert 0.5 <= line.score <= 1.0


# ------------------------------------------------------------------------------------------------ pixel formats
@pytest.fixture(scope="module")
def line_page(ocr):
    """A clear 2-line image and its reading by the default pipeline (BGR uint8 reference)."""
    img = np.full((150, 520, 3), 255, np.uint8)
    cv2.putText(img, "Invoice 2024 total", (15, 55), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 2, cv2.LINE_AA)
    cv2.putText(img, "Paid $58.90 cash", (15, 120), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 2, cv2.LINE_AA)
    res = ocr(img)
    assert [line.text for line in res.lines] == ["Invoice 2024 total", "Paid $58.90 cash"]
    return img, res


def _texts(res):
    return [line.text for line in res.lines]


def _same_result(a, b, px=1.0):
    assert _texts(a) == _texts(b)
    for la, lb in zip(a.lines, b.lines):
        np.testing.assert_allclose(la.box, lb.box, atol=px)


def test_input_kinds_agree(ocr, line_page, tmp_path):
    img, ref = line_page
    path = tmp_path / "page.png"
    cv2.imwrite(str(path), img)
    data = path.read_bytes()
    for variant in (path, str(path), data, bytearray(data), memoryview(data)):
        _same_result(ocr(variant), ref, px=0.0)


def test_non_contiguous_arrays(ocr, line_page):
    img, ref = line_page
    wide = np.zeros((img.shape[0], img.shape[1] * 2, 3), np.uint8)
    wide[:, ::2] = img
    _same_result(ocr(wide[:, ::2]), ref, px=0.0)
    _same_result(ocr(np.asfortranarray(img)), ref, px=0.0)
    rgb_view = img[:, :, ::-1][:, :, ::-1]  # negative strides, same pixels
    _same_result(ocr(rgb_view), ref, px=0.0)


def test_sixteen_bit_images(ocr, line_page, tmp_path):
    img, ref = line_page
    img16 = img.astype(np.uint16) * 257
    _same_result(ocr(img16), ref, px=0.0)
    path = tmp_path / "page16.png"
    assert cv2.imwrite(str(path), img16)
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    _same_result(ocr(path), ref, px=0.0)
    _same_result(ocr(path.read_bytes()), ref, px=0.0)


def test_grayscale_images(ocr, line_page, tmp_path):
    img, ref = line_page
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    _same_result(ocr(gray), ref)
    _same_result(ocr(gray[:, :, None]), ref)
    path = tmp_path / "gray.png"
    cv2.imwrite(str(path), gray)
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).ndim == 2
    _same_result(ocr(path), ref)
    _ok, jpg = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, 95])
    # lossy re-encoding may move a word gap (the INT8 recognizer reads "Invoice2024" here): compare without spaces
    assert [t.replace(" ", "") for t in _texts(ocr(jpg.tobytes()))] == [t.replace(" ", "") for t in _texts(ref)]


def test_alpha_is_composited_on_white(ocr, line_page, tmp_path):
    img, ref = line_page
    ink = 255 - cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    # black everywhere, the text only in the alpha channel: on white it reads as black text
    bgra = np.dstack([np.zeros_like(img), ink])
    _same_result(ocr(bgra), ref, px=1.0)
    path = tmp_path / "alpha.png"
    cv2.imwrite(str(path), bgra)
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape[2] == 4
    _same_result(ocr(path), ref, px=1.0)
    # fully transparent: nothing to read, whatever the color channels hold
    clear = np.dstack([img, np.zeros(img.shape[:2], np.uint8)])
    assert ocr(clear).lines == ()
    # opaque alpha leaves the pixels as they are
    _same_result(ocr(np.dstack([img, np.full(img.shape[:2], 255, np.uint8)])), ref, px=0.0)


def test_exif_orientation_is_applied(ocr, line_page):
    Image = pytest.importorskip("PIL.Image")

    img, ref = line_page
    stored = cv2.rotate(img, cv2.ROTATE_90_COUNTERCLOCKWISE)  # Orientation 6: display rotated 90 degrees clockwise
    pil = Image.fromarray(stored[:, :, ::-1])
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    pil.save(buf, "JPEG", quality=95, exif=exif.tobytes())
    res = ocr(buf.getvalue())
    assert res.image_size == img.shape[:2]
    assert [t.replace(" ", "") for t in _texts(res)] == [t.replace(" ", "") for t in _texts(ref)]  # JPEG: see above
