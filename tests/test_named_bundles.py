"""The named bundles of newer official models (convert/named_bundles.py): each loads by name with its checksums,
carries its own release settings, reads the sample receipt, and a dictionary that does not fit its recognizer is a
typed error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from convert.named_bundles import RECIPES
from ppocr_edge import BundleError, OCRPipeline, load_bundle
from ppocr_edge.bundle import MANIFEST, embedded_bundles, read_dictionary, resolve_bundle, write_manifest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "receipt.png"
RECEIPT = ["CORNER BAKERY & CAFE", "12 Market Street, Springfield", "Receipt No. 004217", "25/11/2026",
           "2 x Croissant", "7.80", "1 x Cappuccino", "3.90", "1 x Apple Pie", "4.50", "TOTAL EUR 16.20",
           "Thank you for your visit!"]
# class counts of the official recognizers: blank + dictionary + space
CLASSES = {"ppocrv4": 6625, "ppocrv6_small": 18710}


@pytest.fixture(params=sorted(RECIPES))
def name(request) -> str:
    return request.param


def test_named_bundle_loads_and_reads_the_receipt(name, ov_cache_dir):
    b = load_bundle(name, verify=True)  # every file against its sha256
    assert b.root == embedded_bundles()[name] == resolve_bundle(name)
    assert len(b.characters) + 1 == CLASSES[name]
    quant = b.manifest["source"]["quantization"]
    assert quant["accuracy_control"] and quant["line_calibration"] == "labels.txt"
    assert (b.root / "NOTICE").read_text(encoding="utf-8").count("Apache License") >= 2
    # the release's own detection settings, not PP-OCRv3's (960 / max, box 0.6, unclip 1.5)
    assert b.det.preprocess["limit_type"] == "min" and b.det.preprocess["limit_side_len"] == 736
    assert b.det.postprocess["use_dilation"] and b.det.postprocess["unclip_ratio"] == 1.6
    ocr = OCRPipeline(name, cache_dir=str(ov_cache_dir))
    assert [line.text for line in ocr(SAMPLE).lines] == RECEIPT


def test_named_bundle_with_a_short_dictionary_is_a_bundle_error(name, tmp_path):
    root = tmp_path / name
    shutil.copytree(embedded_bundles()[name], root)
    chars = read_dictionary(root / "dict.txt")
    (root / "dict.txt").write_text("\n".join(chars[:-1]) + "\n", encoding="utf-8")
    manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    manifest.pop("files")
    write_manifest(root, manifest)  # checksums fit again: only the class count is wrong
    with pytest.raises(BundleError, match=f"{CLASSES[name]} classes"):
        OCRPipeline(root, cache_dir="")


def test_named_bundle_keeps_its_recipes_float_layers(name):
    """convert.quantize keeps the recipe's first convs of the recognizer (its stem) float: no quantizer feeds them,
    while the convs after them are INT8."""
    import openvino as ov

    model = ov.Core().read_model(str(load_bundle(name).rec.xml))
    convs = [op for op in model.get_ordered_ops() if op.get_type_name() == "Convolution"]
    fed_by_quantizer = [op.input_value(0).get_node().get_type_name() == "FakeQuantize" for op in convs]
    n = RECIPES[name].rec_float_convs
    assert not any(fed_by_quantizer[:n]) and sum(fed_by_quantizer[n:]) >= len(convs) // 2


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(BundleError) as e:
        OCRPipeline("ppocrv5")
    assert all(n in str(e.value) for n in RECIPES)


def test_bundles_command_shows_measured_accuracy_and_speed(capsys):
    from ppocr_edge.cli import main

    assert main(["bundles", "--json"]) == 0
    rows = {r["name"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    for name in RECIPES:
        m = rows[name]["measured"]
        assert m["ms_per_image"]["receipts"] > 0 and 0 < m["accuracy_pct"]["sroie_e2e_h"] <= 100
        assert rows[name]["license"] == "Apache-2.0" and rows[name]["size_bytes"] < 12_000_000
    assert main(["bundles"]) == 0
    assert "ms/receipt" in capsys.readouterr().out


@pytest.mark.parametrize("families,warned", [(3, True), (59, False)])
def test_rendering_calibration_data_warns_when_the_fonts_differ(families, warned, tmp_path, monkeypatch, capsys):
    """Other fonts render other calibration images (and other INT8 models): said before rendering, not after."""
    import types

    import convert.named_bundles as nb
    import train.fonts

    fonts = [types.SimpleNamespace(family=f"Family {i}") for i in range(families)]
    monkeypatch.setattr(train.fonts, "find_fonts", lambda: fonts)
    monkeypatch.setattr(nb, "DATA", {"made/labels.txt": ["json.tool", "--help"]})  # a cheap stand-in command
    nb.ensure_data(tmp_path)
    err = capsys.readouterr().err
    assert (f"{families} font families found" in err) is warned
