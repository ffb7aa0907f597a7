"""Font discovery for synthetic text rendering.

    python -m train.fonts                 # list the usable fonts (family, style, path)
    python -m train.fonts --copy DIR      # copy them to DIR (for a machine without the Debian packages)

`find_fonts()` scans the font directories (/usr/share/fonts and TeX Gyre's texmf directory, or the colon separated
PPOCR_EDGE_FONT_DIRS, or an explicit `dirs`) for .ttf/.otf files and keeps the text fonts that cover the basic Latin
letters and digits: symbol, math, emoji, dingbat and CJK-only fonts are dropped. Seven-segment DSEG fonts are
dropped too unless asked for with `family_filter` (they only have digits and a few letters).
What a font covers is read from its cmap with fontTools and cached on disk (keyed by path, size and mtime), so a
repeated discovery costs milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import string
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_FONT_DIRS = ("/usr/share/fonts", "/usr/share/texmf/fonts/opentype")
FONT_DIRS_ENV = "PPOCR_EDGE_FONT_DIRS"
CACHE_ENV = "PPOCR_EDGE_FONT_CACHE"  # a file path, or "" / "none" to disable the on-disk cache
_CACHE_VERSION = 3
_REQUIRED = frozenset(ord(c) for c in string.ascii_letters + string.digits)
_EXCLUDE_NAME = re.compile(r"math|symbol|emoji|dingbat|D050000L|ornament|icon|braille|music|fallback|keyboard"
                           r"|SEGGCHAN|DSEG ?Weather", re.I)  # SEGGCHAN / Weather: DSEG's picture fonts
_DSEG = re.compile(r"dseg", re.I)
LAST_RESORT_FAMILY = "DejaVu Sans"


@dataclass(frozen=True)
class FontInfo:
    """One font file: where it is, its family/style and the code points its cmap maps."""

    path: str
    family: str
    style: str
    bold: bool
    italic: bool
    mono: bool
    condensed: bool
    codepoints: frozenset[int] = field(repr=False, compare=False)

    def covers(self, text: str) -> bool:
        """True when every character of `text` (spaces included) has a glyph in this font."""
        cps = self.codepoints
        return all(ord(c) in cps for c in text)

    @property
    def is_dseg(self) -> bool:
        return bool(_DSEG.search(self.family) or _DSEG.search(Path(self.path).name))


def font_dirs(dirs: Sequence[str | Path] | None = None) -> list[Path]:
    """The directories to scan: `dirs`, else $PPOCR_EDGE_FONT_DIRS (colon separated), else the system ones."""
    if dirs is None:
        env = os.environ.get(FONT_DIRS_ENV, "")
        dirs = [d for d in env.split(":") if d] or list(DEFAULT_FONT_DIRS)
    return [Path(d) for d in dirs]


def _ranges(cps: Iterable[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for cp in sorted(cps):
        if out and cp == out[-1][1] + 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def _read_font(path: Path) -> dict | None:
    """Family, style flags and code point ranges of a font file; None for a font we never render with."""
    import logging

    from fontTools.ttLib import TTFont  # imported lazily: a warm cache needs no fontTools

    logging.getLogger("fontTools").setLevel(logging.ERROR)  # odd 'created' dates etc. are harmless

    try:
        font = TTFont(str(path), lazy=True, fontNumber=0)
        # synthetic glyph names: skips parsing the 'post' table's names (the slow part of reading a cmap)
        font.setGlyphOrder([f"g{i}" for i in range(font["maxp"].numGlyphs)])
        cmap = font.getBestCmap() or {}
        names = font["name"]
        family = names.getBestFamilyName() or path.stem
        style = names.getBestSubFamilyName() or "Regular"
        os2 = font["OS/2"] if "OS/2" in font else None
        mono = bool(os2 and os2.panose.bProportion == 9)
        if "glyf" in font and _REQUIRED <= cmap.keys():  # a printable ASCII char with an empty outline is not covered
            loca = font["loca"]
            cmap = {cp: g for cp, g in cmap.items()
                    if not (32 < cp < 127 and loca[int(g[1:]) + 1] == loca[int(g[1:])])}
        font.close()
    except Exception:  # noqa: BLE001 - a broken font file is skipped, not fatal
        return None
    low = f"{family} {style} {path.name}".lower()
    bold = bool(os2 and (os2.fsSelection & 0x20 or os2.usWeightClass >= 600)) or "bold" in low or "black" in low
    italic = bool(os2 and os2.fsSelection & 0x01) or "italic" in low or "oblique" in low
    condensed = bool(os2 and os2.usWidthClass < 5) or "condensed" in low or "narrow" in low
    mono = mono or "mono" in low or "typewriter" in low or "courier" in low
    return {"family": family, "style": style, "bold": bold, "italic": italic, "mono": mono,
            "condensed": condensed, "ranges": _ranges(cmap)}


def _cache_path() -> Path | None:
    env = os.environ.get(CACHE_ENV)
    if env is not None:
        return None if env.lower() in ("", "none", "0") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ppocr_edge" / f"fonts-v{_CACHE_VERSION}.json"


def _load_cache(path: Path | None) -> dict:
    if path is None or not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _save_cache(path: Path | None, cache: dict) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, separators=(",", ":")))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home only costs speed


def _font_files(dirs: Sequence[Path]) -> list[Path]:
    files = {p.resolve() for d in dirs if d.is_dir() for p in d.rglob("*")
             if p.suffix.lower() in (".ttf", ".otf") and p.is_file()}
    return sorted(files)


def _expand(ranges: list[list[int]]) -> frozenset[int]:
    return frozenset(cp for lo, hi in ranges for cp in range(lo, hi + 1))


def find_fonts(dirs: Sequence[str | Path] | None = None,
               family_filter: str | Callable[[FontInfo], bool] | None = None) -> list[FontInfo]:
    """Usable text fonts under `dirs` (see `font_dirs`), sorted by path.

    `family_filter`: a regular expression matched (case-insensitively) against the family name and file name, or a
    predicate. Without it DSEG (seven-segment) fonts are excluded; with it, only the matching fonts are returned,
    DSEG included when the filter selects them (e.g. `family_filter="DSEG7"`).
    """
    cache_file = _cache_path()
    cache = _load_cache(cache_file)
    changed = False
    fonts: list[FontInfo] = []
    for path in _font_files(font_dirs(dirs)):
        st = path.stat()
        key = str(path)
        entry = cache.get(key)
        if entry is None or entry.get("stamp") != [st.st_size, st.st_mtime_ns]:
            entry = {"stamp": [st.st_size, st.st_mtime_ns], "info": _read_font(path)}
            cache[key] = entry
            changed = True
        info = entry["info"]
        if info is None or _EXCLUDE_NAME.search(f"{info['family']} {path.name}"):
            continue
        cps = _expand(info["ranges"])
        font = FontInfo(key, info["family"], info["style"], info["bold"], info["italic"], info["mono"],
                        info["condensed"], cps)
        if family_filter is None:
            if font.is_dseg or not _REQUIRED <= cps:
                continue
        elif isinstance(family_filter, str):
            if not re.search(family_filter, f"{font.family} {Path(font.path).name}", re.I):
                continue
        elif not family_filter(font):
            continue
        fonts.append(font)
    if changed:
        _save_cache(cache_file, cache)
    return fonts


def last_resort(fonts: Sequence[FontInfo]) -> FontInfo | None:
    """The regular DejaVu Sans from `fonts` (or any DejaVu, or the widest-coverage font)."""
    if not fonts:
        return None
    plain = [f for f in fonts if f.family == LAST_RESORT_FAMILY and not f.bold and not f.italic]
    dejavu = plain or [f for f in fonts if f.family.startswith("DejaVu")]
    return dejavu[0] if dejavu else max(fonts, key=lambda f: len(f.codepoints))


def choose_font(fonts: Sequence[FontInfo], text: str, rng: random.Random,
                preferred: FontInfo | None = None) -> FontInfo:
    """A font that has glyphs for every character of `text`.

    `preferred` (or a random font) when it covers the text; else a random covering font; else the last resort.
    """
    if not fonts:
        raise ValueError("no fonts to choose from")
    first = preferred if preferred is not None else fonts[rng.randrange(len(fonts))]
    if first.covers(text):
        return first
    covering = [f for f in fonts if f.covers(text)]
    if covering:
        return covering[rng.randrange(len(covering))]
    fallback = last_resort(fonts)
    assert fallback is not None
    return fallback


LATIN_SUBSET = ((0x20, 0x7E), (0xA0, 0x24F), (0x2000, 0x206F), (0x20A0, 0x20BF), (0x2100, 0x2122))


def subset_font(src: str | Path, dst: str | Path, ranges: Sequence[tuple[int, int]] = LATIN_SUBSET) -> None:
    """Write a copy of font `src` to `dst` that keeps only the code points in `ranges` (names and layout kept).

    For carrying fonts to a training machine; the copy is for local use only (OFL fonts with Reserved Font Names
    must not be redistributed modified under those names).
    """
    import logging

    from fontTools import subset

    logging.getLogger("fontTools").setLevel(logging.ERROR)
    opts = subset.Options()
    opts.name_IDs = ["*"]
    opts.name_languages = ["*"]
    opts.layout_features = ["*"]
    opts.notdef_outline = True
    opts.recalc_timestamp = False
    font = subset.load_font(str(src), opts)
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=[cp for lo, hi in ranges for cp in range(lo, hi + 1)])
    sub.subset(font)
    subset.save_font(font, str(dst), opts)


def _main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dirs", help="colon separated font directories (default: $PPOCR_EDGE_FONT_DIRS or system)")
    ap.add_argument("--family-filter", help="regular expression on family / file name (DSEG only when named)")
    ap.add_argument("--copy", metavar="DIR", help="copy the usable font files to DIR")
    ap.add_argument("--subset", action="store_true",
                    help="with --copy: keep only Latin, punctuation and currency glyphs (files about 3x smaller)")
    args = ap.parse_args(argv)
    dirs = args.dirs.split(":") if args.dirs else None
    fonts = find_fonts(dirs, family_filter=args.family_filter)
    for f in fonts:
        flags = "".join(c for c, on in zip("BIMC", (f.bold, f.italic, f.mono, f.condensed)) if on)
        print(f"{f.family:32s} {f.style:20s} {flags:4s} {f.path}")
    print(f"{len(fonts)} fonts, {len({f.family for f in fonts})} families", file=sys.stderr)
    if args.copy:
        out = Path(args.copy)
        out.mkdir(parents=True, exist_ok=True)
        for f in fonts:
            dst = out / Path(f.path).name
            if dst.exists():  # same file name in two packages
                dst = out / f"{Path(f.path).parent.name}-{Path(f.path).name}"
            if args.subset:
                subset_font(f.path, dst)
            else:
                shutil.copy2(f.path, dst)
        size = sum(p.stat().st_size for p in out.iterdir()) / 2**20
        print(f"copied to {out} ({size:.1f} MiB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
