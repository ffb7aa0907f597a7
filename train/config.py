"""Training configs as data: YAML files with dotted-key overrides from the command line.

    cfg = load_config("train/configs/rec_smoke.yaml", ["optim.lr=5e-4", "data.batch_size=32"])
    cfg["optim"]["lr"]  # 0.0005

Override values are parsed as YAML (numbers, booleans, null, lists ``[a, b]``, mappings ``{k: v}``), so
``--set data.train=[]`` works; list items are addressed by index (``eval.sets.0.size=100``). A config may name a base
config with ``base: other.yaml`` (relative to its own file); the base is loaded first and deep-merged under it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
REPO = CONFIG_DIR.parents[1]


def repo_path(path: str | Path) -> Path:
    """A file named in a config: as given when it exists (or is absolute), else relative to the repository root
    (configs name files such as train/configs/dict_digits.txt that way)."""
    p = Path(path)
    return p if p.is_absolute() or p.exists() else REPO / p


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of base with over merged in: mappings merge recursively, everything else is replaced."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_config_path(path: str | Path) -> Path:
    """A config file by path, or by name inside train/configs (``rec_smoke`` or ``rec_smoke.yaml``)."""
    p = Path(path)
    if p.is_file():
        return p
    for candidate in (CONFIG_DIR / p, CONFIG_DIR / f"{p}.yaml"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"config {path} not found (nor in {CONFIG_DIR})")


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ValueError(f"config base cycle: {' -> '.join(str(p) for p in seen + (path,))}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a config must be a YAML mapping")
    base = data.pop("base", None)
    if base is None:
        return data
    base_path = (path.parent / base) if not Path(base).is_absolute() else Path(base)
    return deep_merge(_read_yaml(base_path, seen + (path,)), data)


def set_key(cfg: dict[str, Any], dotted: str, value: Any) -> None:
    """Set cfg[a][b][c] = value for dotted 'a.b.c' (integer parts index lists; missing mappings are created)."""
    parts = dotted.split(".")
    node: Any = cfg
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node = node[int(part)]
            continue
        if part not in node or node[part] is None:
            node[part] = {}
        node = node[part]
        if not isinstance(node, (dict, list)):
            raise ValueError(f"--set {dotted}: {'.'.join(parts[:i + 1])} is a value, not a mapping")
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def parse_override(item: str) -> tuple[str, Any]:
    """'a.b=VALUE' -> ('a.b', YAML-parsed VALUE)."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise ValueError(f"override {item!r} is not KEY=VALUE")
    return key.strip(), yaml.safe_load(raw) if raw.strip() else ""


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Read a YAML config (and its bases) and apply KEY=VALUE overrides."""
    cfg = _read_yaml(resolve_config_path(path))
    for item in overrides:
        set_key(cfg, *parse_override(item))
    return cfg


def get(cfg: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    """cfg['a']['b'] for 'a.b', or default when any part is missing or None."""
    node: Any = cfg
    for part in dotted.split("."):
        if isinstance(node, Mapping) and node.get(part) is not None:
            node = node[part]
        else:
            return default
    return node
