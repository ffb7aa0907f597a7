"""Memory over a long PDF: OCR it page by page with OCRPipeline.pages() and sample the process RSS after every page.

    pip install -e ".[pdf,bench]"
    python benchmarks/memory_pdf.py [--pages 200] [--dpi 200] [--lines 20] [--pdf FILE] [--out FILE.md]

Without --pdf a scan-like document is generated first (not measured): A4 pages, each one grayscale image at the
render resolution with --lines lines of random words, Flate-compressed, written one page at a time. pages() renders
a page, recognises it and drops it before the next, so RSS must stay flat however many pages there are.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import psutil

from ppocr_edge import OCRPipeline

WORDS = ("invoice", "total", "amount", "paid", "order", "number", "customer", "service", "delivery", "address",
         "station", "market", "window", "garden", "river", "coffee", "bread", "butter", "cheese", "orange", "Monday",
         "Friday", "January", "October", "Street", "Avenue", "Road", "Hotel", "Bank", "Office", "Store", "Receipt",
         "Price", "Subtotal", "Tax", "Change", "Cash", "Card", "Date", "Table", "Room")
A4_POINTS = (595.28, 841.89)


def scan_page(rng: random.Random, dpi: float, lines: int) -> np.ndarray:
    """A white A4 page at dpi with lines of random words and numbers (gray uint8)."""
    w, h = (round(side * dpi / 72) for side in A4_POINTS)
    page = np.full((h, w), 255, np.uint8)
    step = (h - 200) // max(lines, 1)
    for i in range(lines):
        count = rng.randint(2, 7)
        words = [rng.choice(WORDS) if rng.random() < 0.8 else str(rng.randint(1, 9999)) for _ in range(count)]
        cv2.putText(page, " ".join(words), (100, 150 + i * step), cv2.FONT_HERSHEY_SIMPLEX, 1.1, 0, 2, cv2.LINE_AA)
    return page


def write_scan_pdf(path: Path, pages: int, dpi: float, lines: int, seed: int = 0) -> None:
    """A PDF of one image per page, written page by page (object numbers: page i = 3 + 3i, its content and image
    the next two)."""
    rng = random.Random(seed)
    offsets: dict[int, int] = {}
    with open(path, "wb") as f:
        def obj(number: int, body: bytes, stream: bytes | None = None) -> None:
            offsets[number] = f.tell()
            f.write(b"%d 0 obj\n" % number + body)
            if stream is not None:
                f.write(b"\nstream\n" + stream + b"\nendstream")
            f.write(b"\nendobj\n")

        f.write(b"%PDF-1.4\n")
        obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        kids = b" ".join(b"%d 0 R" % (3 + 3 * i) for i in range(pages))
        obj(2, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (pages, kids))
        pw, ph = A4_POINTS
        for i in range(pages):
            page, content, image = 3 + 3 * i, 4 + 3 * i, 5 + 3 * i
            pixels = scan_page(rng, dpi, lines)
            data = zlib.compress(pixels.tobytes(), 6)
            draw = b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q" % (pw, ph)
            obj(page, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /XObject << /Im0 %d 0 R "
                      b">> >> /Contents %d 0 R >>" % (pw, ph, image, content))
            obj(content, b"<< /Length %d >>" % len(draw), draw)
            obj(image, b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                       b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>"
                % (pixels.shape[1], pixels.shape[0], len(data)), data)
        xref = f.tell()
        count = 3 + 3 * pages
        f.write(b"xref\n0 %d\n0000000000 65535 f \n" % count)
        f.write(b"".join(b"%010d 00000 n \n" % offsets[n] for n in range(1, count)))
        f.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (count, xref))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pages", type=int, default=200, help="pages of the generated PDF")
    p.add_argument("--dpi", type=float, default=200.0, help="render resolution (and the generated scans')")
    p.add_argument("--lines", type=int, default=20, help="text lines per generated page")
    p.add_argument("--pdf", type=Path, help="measure this PDF instead of a generated one")
    p.add_argument("--every", type=int, default=20, help="table row every N pages")
    p.add_argument("--passes", type=int, default=2,
                   help="read the PDF this many times in one process: from the second pass on every input shape "
                        "has been seen, so OpenVINO's per-shape caches no longer grow and any leak would show")
    p.add_argument("--out", type=Path, help="write the markdown report here")
    a = p.parse_args()
    proc = psutil.Process()
    with tempfile.TemporaryDirectory() as tmp:
        pdf = a.pdf
        if pdf is None:
            pdf = Path(tmp) / "scan.pdf"
            t = time.perf_counter()
            write_scan_pdf(pdf, a.pages, a.dpi, a.lines)
            mib_on_disk, gen_s = pdf.stat().st_size / 2**20, time.perf_counter() - t
            print(f"generated {a.pages} pages ({mib_on_disk:.1f} MiB) in {gen_s:.1f} s")
        start_rss = proc.memory_info().rss / 2**20
        ocr = OCRPipeline()
        ready_rss = proc.memory_info().rss / 2**20
        passes = [measure(ocr, pdf, a.dpi, proc, a.every, k) for k in range(1, a.passes + 1)]
        size = pdf.stat().st_size
    print("\n".join(report(a, passes, start_rss, ready_rss, size)))
    if a.out:
        a.out.write_text("\n".join(report(a, passes, start_rss, ready_rss, size)) + "\n")


@dataclass
class Pass:
    rss: list[float] = field(default_factory=list)  # MiB after each page
    seconds: list[float] = field(default_factory=list)  # since the pass started, after each page
    lines: int = 0


def measure(ocr: OCRPipeline, pdf: Path, dpi: float, proc: psutil.Process, every: int, number: int) -> Pass:
    run = Pass()
    t0 = time.perf_counter()
    for result in ocr.pages(pdf, dpi=dpi):
        run.rss.append(proc.memory_info().rss / 2**20)
        run.seconds.append(time.perf_counter() - t0)
        run.lines += len(result.lines)
        if result.page == 1 or result.page % every == 0:
            print(f"pass {number}  page {result.page:5d}  RSS {run.rss[-1]:8.1f} MiB  {run.seconds[-1]:7.1f} s",
                  flush=True)
    return run


def report(a: argparse.Namespace, passes: list[Pass], start_rss: float, ready_rss: float, size: int) -> list[str]:
    n = len(passes[0].rss)
    page_mib = round(A4_POINTS[0] * a.dpi / 72) * round(A4_POINTS[1] * a.dpi / 72) * 3 / 2**20
    source = f"`{a.pdf}`" if a.pdf else f"generated scan-like PDF, {a.lines} lines per A4 page"
    ref = min(n, 20)
    text = [f"# Memory over a {n}-page PDF (OCRPipeline.pages, {a.dpi:g} dpi)", "",
            f"Command: `python benchmarks/memory_pdf.py --pages {a.pages} --dpi {a.dpi:g} --lines {a.lines} "
            f"--passes {a.passes}" + (f" --pdf {a.pdf}" if a.pdf else "") + "`", "",
            (f"Input: {source} ({size / 2**20:.1f} MiB); one rendered page is {page_mib:.1f} MiB of BGR pixels "
             f"({n} pages held at once would be {n * page_mib / 1024:.2f} GiB). RSS before the pipeline "
             f"{start_rss:.1f} MiB, with the pipeline loaded {ready_rss:.1f} MiB."), "",
            f"| pass | RSS after page 1 | after page {n} (last) | max | growth, page {ref} to {n} | lines | pages/s |",
            "|---:|---:|---:|---:|---:|---:|---:|"]
    text += [f"| {k} | {p.rss[0]:.1f} | {p.rss[-1]:.1f} | {max(p.rss):.1f} | {p.rss[-1] - p.rss[ref - 1]:+.1f} | "
             f"{p.lines} | {n / p.seconds[-1]:.2f} |" for k, p in enumerate(passes, 1)]
    text += ["", "RSS in MiB after the page:", "",
             "| page | " + " | ".join(f"pass {k}" for k in range(1, len(passes) + 1)) + " |",
             "|---:|" + "---:|" * len(passes)]
    text += [f"| {i + 1} | " + " | ".join(f"{p.rss[i]:.1f}" for p in passes) + " |"
             for i in range(n) if i == 0 or (i + 1) % a.every == 0]
    return text

if __name__ == "__main__":
    main()
