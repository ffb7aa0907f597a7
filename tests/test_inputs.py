"""Inputs as users bring them: transparent and gray+alpha images, PDFs, multi-page TIFFs, EXIF-rotated JPEGs."""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from ppocr_edge import OCRResult, ocr_document
from ppocr_edge.cli import main
from ppocr_edge.documents import document_kind, iter_pages
from ppocr_edge.errors import ImageError, MissingDependencyError, OCRError
from ppocr_edge.image_io import flatten_alpha

LINES = ("Invoice 2024 total", "Order number 7781")
PAGES = ("Total 42.50", "Second page 202", "Third page 303")


def _ink(lines=LINES, size=(150, 480)) -> np.ndarray:
    """HxW uint8 coverage of the text: 255 on the strokes (anti-aliased edges), 0 elsewhere."""
    mask = np.zeros(size, np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(mask, text, (15, 55 + 65 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 255, 2, cv2.LINE_AA)
    return mask


def _page(text: str) -> np.ndarray:
    return 255 - _ink((text,), (90, 420))


def _texts(result: OCRResult) -> list[str]:
    return [line.text for line in result.lines]


# ================================================================================================ transparency
def _transparent(ink: np.ndarray, color: int, layout: str) -> np.ndarray:
    """Text of one color drawn only through the alpha channel, as logos are exported: the color channels hold the
    text color everywhere, the alpha channel holds the shape."""
    fill = np.full(ink.shape, color, np.uint8)
    return np.dstack([fill, fill, fill, ink]) if layout == "bgra" else np.dstack([fill, ink])


def _encode(img: np.ndarray, fmt: str) -> bytes:
    if img.shape[2] == 2:  # OpenCV does not write gray+alpha: Pillow's LA mode
        Image = pytest.importorskip("PIL.Image")
        buf = io.BytesIO()
        Image.fromarray(img, "LA").save(buf, fmt.upper().lstrip("."))
        return buf.getvalue()
    params = [cv2.IMWRITE_WEBP_QUALITY, 101] if fmt == ".webp" else []  # above 100: lossless
    ok, data = cv2.imencode(fmt, img, params)
    assert ok
    return data.tobytes()


@pytest.mark.parametrize("layout", ["bgra", "gray_alpha"])
@pytest.mark.parametrize("color", [0, 255], ids=["black_text", "white_text"])
def test_text_on_transparent_arrays(ocr, color, layout):
    img = _transparent(_ink(), color, layout)
    assert _texts(ocr(img)) == list(LINES)


@pytest.mark.parametrize("fmt,layout", [(".png", "bgra"), (".png", "gray_alpha"), (".webp", "bgra"),
                                        (".tiff", "bgra")])
@pytest.mark.parametrize("color", [0, 255], ids=["black_text", "white_text"])
def test_text_on_transparent_files_and_bytes(ocr, tmp_path, color, fmt, layout):
    data = _encode(_transparent(_ink(), color, layout), fmt)
    path = tmp_path / f"logo{fmt}"
    path.write_bytes(data)
    assert _texts(ocr(path)) == list(LINES)
    assert _texts(ocr(data)) == list(LINES)


def test_white_text_with_black_transparent_pixels(ocr):
    """Many exporters store transparent pixels as (0, 0, 0, 0): only the alpha-weighted color counts."""
    ink = _ink()
    color = np.where(ink > 0, 255, 0).astype(np.uint8)
    assert _texts(ocr(np.dstack([color, color, color, ink]))) == list(LINES)


def test_palette_png_with_transparent_entry(ocr):
    """Indexed PNG (the usual small logo): white text, and a transparent palette entry that is white too."""
    Image = pytest.importorskip("PIL.Image")
    indexed = Image.fromarray((_ink() > 127).astype(np.uint8), "P")
    indexed.putpalette([255, 255, 255, 255, 255, 255])
    buf = io.BytesIO()
    indexed.save(buf, "PNG", transparency=0)
    assert _texts(ocr(buf.getvalue())) == list(LINES)


def test_sixteen_bit_text_on_transparent(ocr, tmp_path):
    img16 = _transparent(_ink(), 255, "bgra").astype(np.uint16) * 257
    assert _texts(ocr(img16)) == list(LINES)
    path = tmp_path / "logo16.png"
    assert cv2.imwrite(str(path), img16)
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    assert _texts(ocr(path)) == list(LINES)


@pytest.mark.parametrize("channels", [2, 4])
def test_fully_transparent_gives_no_lines(ocr, tmp_path, channels):
    ink = _ink()
    colors = [255 - ink] * (channels - 1)  # text in the color channels, but nothing is visible
    img = np.dstack([*colors, np.zeros_like(ink)])
    assert ocr(img).lines == ()
    assert ocr(np.zeros((10, 10, channels), np.uint8)).lines == ()
    if channels == 4:
        path = tmp_path / "clear.png"
        cv2.imwrite(str(path), img)
        assert ocr(path).lines == ()


def test_flatten_alpha_background_choice():
    ink = _ink()
    light = flatten_alpha(np.full(ink.shape, 230, np.uint8), ink)
    dark = flatten_alpha(np.full(ink.shape + (3,), 20, np.uint8), ink)
    assert light[ink == 0].max() == 0 and light[ink == 255].min() == 230, "light text goes on black"
    assert dark[ink == 0].min() == 255 and dark[ink == 255].max() == 20, "dark text goes on white"
    color = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    np.testing.assert_array_equal(flatten_alpha(color, np.full((20, 30), 255, np.uint8)), color)
    assert flatten_alpha(color, np.zeros((20, 30), np.uint8)).min() == 255


# ================================================================================================ documents
def _pdf(path: Path, texts=PAGES) -> Path:
    Image = pytest.importorskip("PIL.Image")
    pages = [Image.fromarray(_page(t)) for t in texts]
    pages[0].save(path, "PDF", save_all=True, append_images=pages[1:], resolution=200)
    return path


def _tiff(path: Path, texts=PAGES) -> Path:
    assert cv2.imwritemulti(str(path), [_page(t) for t in texts])
    return path


def _check_pages(results: list[OCRResult], texts=PAGES) -> None:
    assert [r.page for r in results] == list(range(1, len(texts) + 1))
    assert [_texts(r) for r in results] == [[t] for t in texts]


@pytest.fixture
def pdf_path(tmp_path) -> Path:
    pytest.importorskip("pypdfium2")
    return _pdf(tmp_path / "scan.pdf")


def test_pdf_pages(ocr, pdf_path):
    _check_pages(list(ocr.pages(pdf_path)))
    _check_pages(list(ocr.pages(pdf_path.read_bytes())))
    _check_pages(list(ocr.pages(str(pdf_path), use_det=False)))


def test_pdf_dpi(pdf_path):
    at_200, at_100 = next(iter_pages(pdf_path)), next(iter_pages(pdf_path, dpi=100))
    # saved at 200 dpi, rendered at 200 dpi: the original pixels (PDFium may round a side up by one)
    np.testing.assert_allclose(at_200.shape, (90, 420, 3), atol=1)
    np.testing.assert_allclose(at_100.shape, (45, 210, 3), atol=1)
    with pytest.raises(ValueError, match="dpi"):
        next(iter_pages(pdf_path, dpi=0))


def test_huge_pdf_page_is_rendered_smaller(pdf_path, monkeypatch):
    import ppocr_edge.documents

    monkeypatch.setattr(ppocr_edge.documents, "MAX_PAGE_PIXELS", 9000)
    page = next(iter_pages(pdf_path))
    assert page.shape[0] * page.shape[1] <= 9000 * 1.05 and page.shape[1] > 150


def test_ocr_document(ocr, pdf_path):
    _check_pages(ocr_document(pdf_path, pipeline=ocr))
    with pytest.raises(ValueError, match="threads"):
        ocr_document(pdf_path, pipeline=ocr, threads=1)


def test_multipage_tiff(ocr, tmp_path):
    path = _tiff(tmp_path / "scan.tif")
    assert document_kind(path) == "tiff"
    _check_pages(list(ocr.pages(path)))
    _check_pages(list(ocr.pages(path.read_bytes())))
    assert _texts(ocr(path)) == [PAGES[0]], "a single image call reads the first page"


def test_single_images_are_one_page(ocr, tmp_path):
    img = _page(PAGES[1])
    path = tmp_path / "one.png"
    cv2.imwrite(str(path), img)
    for source in (img, path, path.read_bytes(), _tiff(tmp_path / "one.tif", PAGES[1:2])):
        _check_pages(list(ocr.pages(source)), PAGES[1:2])


def test_pages_are_produced_lazily(ocr, tmp_path):
    pages = ocr.pages(_tiff(tmp_path / "scan.tif"))
    first = next(pages)
    assert first.page == 1 and _texts(first) == [PAGES[0]]
    pages.close()  # stopping early closes the document


def test_truncated_and_corrupt_pdfs(ocr, pdf_path, tmp_path):
    data = pdf_path.read_bytes()
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(data[: len(data) // 2])
    garbage = b"%PDF-1.7\n" + np.random.default_rng(0).bytes(3000)
    for bad in (cut, data[: len(data) * 9 // 10], garbage):
        with pytest.raises(ImageError, match="corrupt or truncated"):
            list(ocr.pages(bad))
    with pytest.raises(ImageError, match="PDF"):  # a single-image call says where PDFs go
        ocr(pdf_path)


def test_missing_files_and_bad_tiffs(ocr, tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        list(ocr.pages(tmp_path / "missing.pdf"))
    for bad in (b"II*\x00" + bytes(100), _tiff(tmp_path / "t.tif").read_bytes()[:60]):
        with pytest.raises(ImageError, match="TIFF"):
            list(ocr.pages(bad))


_PDF_PAD = bytes.fromhex("28bf4e5e4e758a4164004e56fffa01082e2e00b6d0683e802f0ca9fe6453697a")


def _rc4(key: bytes, data: bytes) -> bytes:
    s, j = list(range(256)), 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def _encrypted_pdf(user_password: bytes) -> bytes:
    """A one-page (blank) PDF under the standard security handler, revision 2 (40-bit RC4; PDF 1.7 spec,
    algorithms 3.2-3.4): enough for a reader to ask for the password."""
    pad = (user_password + _PDF_PAD)[:32]
    owner = _rc4(hashlib.md5(b"owner" + _PDF_PAD[:27]).digest()[:5], pad)
    file_id = b"ppocr_edge-test!"
    key = hashlib.md5(pad + owner + (-4).to_bytes(4, "little", signed=True) + file_id).digest()[:5]
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] >>",
               b"<< /Filter /Standard /V 1 /R 2 /P -4 /O <%s> /U <%s> >>" % (owner.hex().encode(),
                                                                           _rc4(key, _PDF_PAD).hex().encode())]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += (b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 4 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objects) + 1, file_id.hex().encode(), file_id.hex().encode(), xref))
    return bytes(out)


def test_encrypted_pdf(ocr):
    pytest.importorskip("pypdfium2")
    data = _encrypted_pdf(b"secret")
    with pytest.raises(ImageError, match="encrypted"):
        list(ocr.pages(data))
    with pytest.raises(ImageError, match="password given does not open it"):
        list(ocr.pages(data, password="wrong"))
    (blank,) = ocr.pages(data, password="secret")
    assert blank.page == 1 and blank.lines == ()


def test_missing_pypdfium2(ocr, monkeypatch):
    monkeypatch.setitem(sys.modules, "pypdfium2", None)  # `import pypdfium2` raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'ppocr_edge\[pdf\]'") as e:
        list(ocr.pages(b"%PDF-1.4\n"))
    assert isinstance(e.value, ImportError) and isinstance(e.value, OCRError)


def test_page_in_json_only_when_set():
    assert "page" not in OCRResult().to_dict()
    assert OCRResult(page=3).to_dict() == {"page": 3, "lines": [], "elapsed_ms": 0.0}


# ================================================================================================ CLI
def test_cli_pages_json_and_vis(pdf_path, tmp_path, capsys):
    tiff = _tiff(tmp_path / "fax.tif", PAGES[:2])
    image = tmp_path / "photo.png"
    cv2.imwrite(str(image), _page("Order number 7781"))
    vis = tmp_path / "vis"
    assert main(["ocr", str(image), str(pdf_path), str(tiff), "--json", "--vis", str(vis)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(Path(r["image"]).name, r.get("page")) for r in rows] == [
        ("photo.png", None), ("scan.pdf", 1), ("scan.pdf", 2), ("scan.pdf", 3), ("fax.tif", 1), ("fax.tif", 2)]
    assert [[line["text"] for line in r["lines"]] for r in rows] == [[t] for t in ("Order number 7781", *PAGES,
                                                                                 *PAGES[:2])]
    assert sorted(p.name for p in vis.iterdir()) == ["fax_ocr_p1.png", "fax_ocr_p2.png", "photo_ocr.png",
                                                    "scan_ocr_p1.png", "scan_ocr_p2.png", "scan_ocr_p3.png"]
    np.testing.assert_allclose(cv2.imread(str(vis / "scan_ocr_p2.png")).shape, (90, 840, 3), atol=2)


def test_cli_pages_text_and_errors(pdf_path, tmp_path, capsys):
    assert main(["ocr", str(pdf_path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [line for n, t in enumerate(PAGES, 1) for line in (f"==> {pdf_path} (page {n}) <==", t)]
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(pdf_path.read_bytes()[:500])
    assert main(["ocr", str(cut), str(pdf_path), "--json"]) == 1
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["error_type"] == "ImageError" and "truncated" in rows[0]["error"]
    assert [r["page"] for r in rows[1:]] == [1, 2, 3]


# ================================================================================================ EXIF
@pytest.mark.parametrize("orientation,stored_as", [(6, cv2.ROTATE_90_COUNTERCLOCKWISE), (8, cv2.ROTATE_90_CLOCKWISE),
                                                   (3, cv2.ROTATE_180)])
def test_exif_orientation_of_jpeg_files(ocr, tmp_path, orientation, stored_as):
    Image = pytest.importorskip("PIL.Image")
    upright = cv2.cvtColor(255 - _ink(), cv2.COLOR_GRAY2BGR)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "photo.jpg"
    Image.fromarray(cv2.rotate(upright, stored_as)[:, :, ::-1]).save(path, "JPEG", quality=95, exif=exif.tobytes())
    result = ocr(path)
    assert result.image_size == upright.shape[:2]
    assert all(line.angle == 0 for line in result.lines), "displayed upright: no 180-degree turn was needed"
    assert [t.replace(" ", "") for t in _texts(result)] == [t.replace(" ", "") for t in LINES]
