"""Recognition dictionaries and CTC class layouts, and re-mapping a trained CTC head onto another dictionary.

CTC classes follow PP-OCR: class 0 is the blank, class i >= 1 is ``characters[i - 1]`` where ``characters`` is the
dictionary file's lines followed by one space (``use_space_char``) when the dictionary has no space of its own.

Named dictionaries:
  ``en``  PaddleOCR's en_dict character order (0-9, :;<=>?@, A-Z, [\\]^_`, a-z, {|}~, !"#$%&'()*+,-./) without its
          space line, + the appended space: 94 + 1 characters, 96 CTC classes. (PaddleOCR's en_dict.txt also lists
          the space, so its models carry two space classes of which only the last is ever trained; we keep one.)
  ``ch``  the official PP-OCRv3 dictionary (ppocr_keys_v1, 6623 lines) + space: 6625 classes, read from the
          embedded bundle.
  any other value is a path to a dictionary file (one character per line).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from pathlib import Path

import torch

from ppocr_edge.bundle import FP32_BUNDLE, load_bundle, read_dictionary

from .config import repo_path

EN_CHARACTERS: tuple[str, ...] = tuple(
    string.digits + ":;<=>?@" + string.ascii_uppercase + "[\\]^_`" + string.ascii_lowercase + "{|}~"
    + "!\"#$%&'()*+,-./")


def load_dictionary(name_or_path: str | Path) -> list[str]:
    """The dictionary entries (without the appended space class) for a name ('en', 'ch') or a file."""
    if name_or_path == "en":
        return list(EN_CHARACTERS)
    if name_or_path == "ch":
        b = load_bundle(FP32_BUNDLE)
        return read_dictionary(Path(FP32_BUNDLE) / b.manifest["models"]["rec"]["dictionary"])
    path = repo_path(name_or_path)
    if not path.is_file():
        raise FileNotFoundError(f"dictionary {name_or_path!r}: not 'en', 'ch' or an existing file")
    return read_dictionary(path)


def ctc_characters(dictionary: Sequence[str], use_space_char: bool = True) -> list[str]:
    """Characters of CTC classes 1..C-1: the dictionary, plus a space when use_space_char (PP-OCR appends it)."""
    chars = list(dictionary)
    if use_space_char:
        chars.append(" ")
    return chars


def num_classes(dictionary: Sequence[str], use_space_char: bool = True) -> int:
    return len(ctc_characters(dictionary, use_space_char)) + 1


def char_to_class(characters: Sequence[str]) -> dict[str, int]:
    """Character -> CTC class; a character listed twice maps to its last class (PP-OCR's dict-building rule)."""
    return {c: i + 1 for i, c in enumerate(characters)}


@torch.no_grad()
def remap_ctc_head(fc: torch.nn.Linear, old_characters: Sequence[str], new_characters: Sequence[str]
                   ) -> tuple[torch.nn.Linear, list[str]]:
    """A new CTC Linear layer for new_characters whose rows are copied from fc's rows for the same characters
    (blank row 0 -> row 0). Characters absent from the old head get a fresh initialisation (listed in the result).

    With every new character present, a model reading only new-dictionary characters decodes identically: greedy
    CTC keeps the argmax, and the argmax of the sub-vector is the argmax of the whole when it lies inside it."""
    old = char_to_class(old_characters)
    new_fc = torch.nn.Linear(fc.in_features, len(new_characters) + 1, bias=fc.bias is not None)
    new_fc = new_fc.to(device=fc.weight.device, dtype=fc.weight.dtype)
    missing = []
    rows = [0]
    for c in new_characters:
        if c in old:
            rows.append(old[c])
        else:
            rows.append(-1)
            missing.append(c)
    for i, r in enumerate(rows):
        if r < 0:
            continue
        new_fc.weight[i].copy_(fc.weight[r])
        if fc.bias is not None:
            new_fc.bias[i].copy_(fc.bias[r])
    return new_fc, missing
