"""`ppocr-edge eval` / `bundles`, named bundles, and ppocr_edge.evaluate (the one copy of the evaluation logic).

The expected scores come from a direct loop over the same pipeline settings, scored with ppocr_edge.metrics, so the
CLI is checked against the library rather than against remembered numbers (except on real_dev: 66.4% IC15 alnum
accuracy of the INT8 default on all 2077 crops, README).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from ppocr_edge.bundle import DEFAULT_BUNDLE, FP32_BUNDLE, embedded_bundles, resolve_bundle
from ppocr_edge.cli import main
from ppocr_edge.errors import BundleError
from ppocr_edge.evaluate import score_rec
from ppocr_edge.metrics import DetCounter

from conftest import REPO_ROOT
from ocr_render import random_token, render_page

SAMPLE = REPO_ROOT / "examples" / "receipt.png"


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _eval_json(capsys, *argv: str) -> dict:
    rc, out, err = _run(capsys, "eval", *argv, "--json")
    assert rc == 0, err
    assert len(out.strip().splitlines()) == 1, "--json prints exactly one object"
    return json.loads(out)


def _eval_bad_lines(capsys, labels: Path, lines: list[str], task: str) -> tuple[dict, dict[int, str]]:
    """Write lines as a label file, evaluate it: the JSON document and {line number: reason} of the skipped lines."""
    labels.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rc, out, err = _run(capsys, "eval", str(labels), "--task", task, "--json")
    assert rc == 0, err
    prefix = f"skipped: {labels}:"
    reasons = {int(n): why for n, why in (ln[len(prefix):].split(": ", 1) for ln in err.splitlines()
                                          if ln.startswith(prefix))}
    return json.loads(out), reasons


# ---------------------------------------------------------------------------------------------- bundles by name


def test_bundle_names_resolve(tmp_path):
    names = embedded_bundles()
    assert names["ch_pp_ocrv3"] == FP32_BUNDLE and names["ch_pp_ocrv3_int8"] == DEFAULT_BUNDLE
    assert resolve_bundle("default") == resolve_bundle(None) == DEFAULT_BUNDLE
    assert resolve_bundle(tmp_path) == tmp_path  # an existing directory is taken as it is
    with pytest.raises(BundleError, match="ch_pp_ocrv3, ch_pp_ocrv3_int8"):
        resolve_bundle("no_such_bundle")


def test_pipeline_by_name(ov_cache_dir, ocr_fp32):
    from ppocr_edge import OCRPipeline

    by_name = OCRPipeline("ch_pp_ocrv3", cache_dir=str(ov_cache_dir))
    assert by_name.bundle.root == FP32_BUNDLE
    assert by_name(SAMPLE).text == ocr_fp32(SAMPLE).text


def test_english_bundle_by_name(ov_cache_dir):
    """The embedded `en` bundle (INT8; our English recognizer, the default det + cls): checksums verify, its
    recognizer has the 96 classes of the English dictionary (blank + 94 printable ASCII + space), and it reads the
    sample receipt line for line."""
    from ppocr_edge import OCRPipeline
    from ppocr_edge.bundle import load_bundle

    b = load_bundle(resolve_bundle("en"), verify=True)
    assert len(b.characters) == 95 and b.characters[-1] == " " and "A" in b.characters
    ocr = OCRPipeline("en", cache_dir=str(ov_cache_dir))
    assert ocr.bundle.root == embedded_bundles()["en"]
    want = ["CORNER BAKERY & CAFE", "12 Market Street, Springfield", "Receipt No. 004217", "25/11/2026",
            "2 x Croissant", "7.80", "1 x Cappuccino", "3.90", "1 x Apple Pie", "4.50", "TOTAL EUR 16.20",
            "Thank you for your visit!"]
    assert [line.text for line in ocr(SAMPLE).lines] == want


def test_bundles_command(capsys):
    rc, out, _ = _run(capsys, "bundles")
    assert rc == 0 and "ch_pp_ocrv3_int8 (default)" in out and "Apache-2.0" in out
    rc, out, _ = _run(capsys, "bundles", "--json")
    rows = {r["name"]: r for r in map(json.loads, out.splitlines())}
    assert set(rows) == set(embedded_bundles())
    assert rows["ch_pp_ocrv3_int8"]["default"] and rows["ch_pp_ocrv3"]["size_bytes"] > 1_000_000


def test_ocr_command_takes_a_bundle_name(capsys, ocr_fp32):
    rc, out, _ = _run(capsys, "ocr", str(SAMPLE), "--bundle", "ch_pp_ocrv3")
    assert rc == 0 and out.strip() == "\n".join(line.text for line in ocr_fp32(SAMPLE).lines)


def test_unknown_bundle_exits_2_with_the_names(capsys, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text(f"{SAMPLE}\t[]\n", encoding="utf-8")
    rc, out, err = _run(capsys, "eval", str(labels), "--task", "det", "--bundle", "no_such_bundle")
    assert rc == 2 and out == ""
    assert "no_such_bundle" in err and "ch_pp_ocrv3" in err and "ch_pp_ocrv3_int8" in err


def test_missing_or_empty_label_file_exits_2(capsys, tmp_path):
    rc, _, err = _run(capsys, "eval", str(tmp_path / "nope.txt"), "--task", "rec")
    assert rc == 2 and "nope.txt" in err
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    rc, _, err = _run(capsys, "eval", str(empty), "--task", "rec")
    assert rc == 2 and "empty" in err


# ---------------------------------------------------------------------------------------------- rec


def test_score_rec():
    s = score_rec(["Hello", "w0rld", ""], ["hello", "w0rld", "x"])
    assert (s.samples, s.accuracy, s.accuracy_alnum) == (3, 1 / 3, 2 / 3)
    assert s.one_minus_ned == pytest.approx(1 - (1 / 5 + 0 + 1) / 3)
    with pytest.raises(ValueError):
        score_rec(["a"], ["a", "b"])


@pytest.fixture(scope="module")
def rec_set(tmp_path_factory, ov_cache_dir):
    """24 rendered word/short-phrase crops, a correct label file, and what a direct pipeline loop reads."""
    from ppocr_edge import OCRPipeline

    root = tmp_path_factory.mktemp("rec_set")
    (root / "crops").mkdir()
    rng = random.Random(7)
    texts = [" ".join(random_token(rng) for _ in range(rng.randint(1, 2))) for _ in range(24)]
    rows = []
    for i, text in enumerate(texts):
        page = render_page([text], font=["sans", "serif", "mono"][i % 3], size=32, margin=6, line_gap=0.2)
        cv2.imwrite(str(root / "crops" / f"{i}.png"), page.image)
        rows.append((f"crops/{i}.png", text))
    ocr = OCRPipeline(drop_score=0.0, cache_dir=str(ov_cache_dir))  # what `eval --task rec` runs
    preds = [" ".join(line.text for line in ocr(root / rel, use_det=False).lines) for rel, _ in rows]
    ocr.close()
    return root, rows, preds


def _write_rec(path: Path, rows) -> Path:
    path.write_text("".join(f"{rel}\t{label}\n" for rel, label in rows), encoding="utf-8")
    return path


def test_eval_rec_matches_a_direct_loop(capsys, rec_set):
    root, rows, preds = rec_set
    expected = score_rec(preds, [label for _, label in rows])
    assert expected.accuracy_alnum > 0.5, "rendered crops should mostly read right"
    doc = _eval_json(capsys, str(_write_rec(root / "right.txt", rows)), "--task", "rec")
    assert doc["task"] == "rec" and doc["bundle"] == str(DEFAULT_BUNDLE)
    assert doc["counts"] == {"samples": 24, "skipped": 0, "empty_predictions": sum(not p for p in preds)}
    for key in ("accuracy", "accuracy_alnum", "one_minus_ned", "one_minus_ned_alnum"):
        assert doc["scores"][key] == pytest.approx(getattr(expected, key), abs=1e-5), key

    wrong_rows = [(rel, "zzqx" if i % 2 else label) for i, (rel, label) in enumerate(rows)]
    wrong = score_rec(preds, [label for _, label in wrong_rows])
    doc_wrong = _eval_json(capsys, str(_write_rec(root / "wrong.txt", wrong_rows)), "--task", "rec")
    assert doc_wrong["scores"]["accuracy_alnum"] == pytest.approx(wrong.accuracy_alnum, abs=1e-5)
    assert doc_wrong["scores"]["accuracy_alnum"] <= doc["scores"]["accuracy_alnum"] - 0.3

    rc, out, _ = _run(capsys, "eval", str(root / "right.txt"), "--task", "rec", "--limit", "4")
    assert rc == 0 and "4 crops" in out and f"{100 * score_rec(preds[:4], [r[1] for r in rows[:4]]).accuracy:6.2f} %" \
        in out


def test_eval_rec_bad_lines_are_reported_and_skipped(capsys, rec_set):
    root, rows, _ = rec_set
    (root / "garbage.png").write_bytes(b"not an image")
    lines = [f"{rows[0][0]}\t{rows[0][1]}",  # 1 ok
             "crops/0.png no tab here",  # 2
             "",  # blank: ignored, not a problem
             "crops/missing.png\tword",  # 4
             "garbage.png\tword",  # 5: exists, cannot be decoded
             f"{rows[1][0]}\t{rows[1][1]}"]  # 6 ok
    doc, reasons = _eval_bad_lines(capsys, root / "bad_rec.txt", lines, "rec")
    assert doc["counts"]["samples"] == 2 and doc["counts"]["skipped"] == 3
    assert sorted(reasons) == [2, 4, 5]
    assert reasons[2].startswith("no tab") and reasons[4].startswith("image not found")
    assert reasons[5].startswith("ImageError")
    rc, _, err = _run(capsys, "eval", str(root / "bad_rec.txt"), "--task", "rec", "--limit", "1")
    assert rc == 0 and "bad_rec.txt:2:" in err and "bad_rec.txt:4:" in err
    assert "bad_rec.txt:5:" not in err, "--limit 1: the second usable line (5) is not evaluated"
    only_garbage = root / "garbage.txt"
    only_garbage.write_text("garbage.png\tword\n", encoding="utf-8")
    rc, _, err = _run(capsys, "eval", str(only_garbage), "--task", "rec")
    assert rc == 2 and "garbage.txt:1: ImageError" in err and "no sample" in err


# ---------------------------------------------------------------------------------------------- det / e2e


def _region(points, text: str) -> dict:
    return {"transcription": text, "points": np.asarray(points).round(1).tolist()}


def test_eval_det_and_e2e_on_perturbed_labels(capsys, tmp_path, ocr):
    """Labels made from the pipeline's own output give 100%; one box moved away and one text changed cost exactly
    one det match and two e2e matches; a '###' region is ignored."""
    lines = ocr(SAMPLE).lines
    n = len(lines)
    assert n >= 5
    regions = [_region(line.box, line.text) for line in lines]
    regions[1] = _region(np.asarray(lines[1].box) + [5000, 0], lines[1].text)  # no prediction there: IoU 0
    regions[3] = _region(lines[3].box, lines[3].text + " XYZ")  # box matches, text does not
    regions.append(_region([[0, 0], [3, 0], [3, 3], [0, 3]], "###"))
    labels = tmp_path / "det.txt"
    labels.write_text(f"{SAMPLE.name}\t{json.dumps(regions)}\n", encoding="utf-8")
    (tmp_path / SAMPLE.name).write_bytes(SAMPLE.read_bytes())

    # the expected numbers straight from ppocr_edge.metrics
    from ppocr_edge.datasets import TextRegion
    from ppocr_edge.evaluate import read_labels

    counter = DetCounter()
    counter.add(read_labels(labels, "det").samples[0].regions, [TextRegion.from_points(ln.box, ln.text) for ln in lines])
    expected = counter.scores()
    assert (expected.matched, expected.e2e_matched, expected.gt, expected.gt_ignored) == (n - 1, n - 2, n, 1)

    doc = _eval_json(capsys, str(labels), "--task", "e2e")
    assert doc["counts"] == {"images": 1, "gt": n, "gt_ignored": 1, "pred": n, "pred_ignored": 0, "matched": n - 1,
                             "e2e_matched": n - 2, "skipped": 0}
    assert doc["scores"]["det"]["hmean"] == pytest.approx((n - 1) / n, abs=1e-5)
    assert doc["scores"]["e2e"]["hmean"] == pytest.approx((n - 2) / n, abs=1e-5)
    assert doc["scores"]["e2e"]["hmean"] == pytest.approx(expected.e2e_hmean, abs=1e-5)

    doc = _eval_json(capsys, str(labels), "--task", "det")
    assert set(doc["scores"]) == {"det"} and "e2e_matched" not in doc["counts"]
    rc, out, _ = _run(capsys, "eval", str(labels), "--task", "e2e")
    assert rc == 0 and f"hmean {100 * (n - 2) / n:6.2f} %" in out


def test_eval_det_bad_lines_are_reported_and_skipped(capsys, tmp_path):
    (tmp_path / SAMPLE.name).write_bytes(SAMPLE.read_bytes())
    ok = f'{SAMPLE.name}\t[{{"transcription": "x", "points": [[0, 0], [9, 0], [9, 9], [0, 9]]}}]'
    lines = [ok,  # 1
             f"{SAMPLE.name} [] no tab",  # 2
             f"{SAMPLE.name}\t[{{bad json",  # 3
             f'{SAMPLE.name}\t{{"transcription": "x"}}',  # 4: not a list
             f'{SAMPLE.name}\t[{{"transcription": "x", "points": [[0, 0], [1, 1]]}}]',  # 5: two points
             f'{SAMPLE.name}\t[{{"points": [[0, 0], [9, 0], [9, 9]]}}]',  # 6: no transcription
             "missing.png\t[]"]  # 7
    doc, reasons = _eval_bad_lines(capsys, tmp_path / "bad_det.txt", lines, "det")
    assert doc["counts"]["images"] == 1 and doc["counts"]["skipped"] == 6
    expected = {2: "no tab", 3: "bad JSON", 4: "list", 5: "points", 6: "transcription", 7: "image not found"}
    assert sorted(reasons) == sorted(expected)
    for lineno, why in expected.items():
        assert why in reasons[lineno], (lineno, reasons[lineno])

    only_bad = tmp_path / "only_bad.txt"
    only_bad.write_text("no tab at all\n", encoding="utf-8")
    rc, _, err = _run(capsys, "eval", str(only_bad), "--task", "det")
    assert rc == 2 and f"{only_bad}:1: no tab" in err


# ---------------------------------------------------------------------------------------------- plumbing


def test_evaluate_imports_without_openvino():
    code = ("import sys; sys.modules['openvino'] = None; "
            "import ppocr_edge.evaluate, ppocr_edge.bundle; "
            "print(ppocr_edge.evaluate.score_rec(['a'], ['a']).accuracy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    assert out.stdout.strip() == "1.0"


def test_real_ic15_crops(capsys, real_dev, tmp_path):
    """Every 10th IC15 word crop (208): IC15 alnum accuracy near the 66.4% of all 2077 (this subset: 66.8%)."""
    src = real_dev / "rec" / "ic15_test_2077"
    rows = (src / "labels.txt").read_text(encoding="utf-8").splitlines()[::10]
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"{src}/{row}\n" for row in rows), encoding="utf-8")
    doc = _eval_json(capsys, str(labels), "--task", "rec")
    assert doc["counts"]["samples"] == len(rows) == 208 and doc["counts"]["skipped"] == 0
    assert abs(doc["scores"]["accuracy_alnum"] - 0.664) < 0.03
    assert abs(doc["scores"]["one_minus_ned"] - 0.845) < 0.04
