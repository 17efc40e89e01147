"""Load a data freeze (or the live database) into pandas DataFrames typed by the codebook.

    .venv/bin/python examples/freeze_loader.py freeze-2026-12-paper-v1.zip   # a downloaded freeze
    .venv/bin/python examples/freeze_loader.py --live [--all]                # the database now

In a script or notebook (run from the project root, or with it on sys.path):

    from examples.freeze_loader import load_freeze, load_live
    frames = load_freeze("freeze-2026-12-paper-v1.zip")
    people = frames["register_person"]

Every column gets the dtype its codebook entry calls for: whole numbers that may be missing as
`Int64`, numbers as `float64`, decimals as exact `decimal.Decimal` objects, yes/no as `boolean`,
choices as `category` (with their labels, or the stored values with `labels=False`), dates and
times as timezone-aware UTC datetimes (`datetime64[us, UTC]`, so a 1650 birth date fits), times
of day as `datetime.time`, text as strings. An empty cell is a missing value.

`load_live` reads the database the portal reads for exports (DATABASE_READ_URL, else
DATABASE_URL, from `.env` too) in one consistent snapshot, exactly as a freeze would, without
storing anything; so an analysis written against the live data runs unchanged on a freeze.
Each DataFrame's `attrs` hold the table's label, its key column and every choice's labels.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import io
import json
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def load_freeze(path: str | Path, *, labels: bool = True) -> dict[str, pd.DataFrame]:
    """Every table of a freeze archive, typed by its codebook, by table name."""
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        codebook = json.loads(archive.read("codebook.json"))
        fields = {(t["name"], f["column"]): f for t in codebook["tables"] for f in t["fields"]}
        titles = {t["name"]: t["label"] for t in codebook["tables"]}
        frames = {}
        for table in manifest["tables"]:
            with archive.open(table["file"]) as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                frame = pd.read_csv(text, dtype=str, keep_default_na=False)
            frames[table["name"]] = typed(frame, table, fields, labels=labels)
            frames[table["name"]].attrs.update(
                label=titles.get(table["name"], table["name"]),
                key=table["key"],
                freeze=manifest["name"],
                created_at=manifest["created_at"],
            )
    return frames


def typed(
    frame: pd.DataFrame, table: dict[str, Any], fields: dict[tuple[str, str], Any], *, labels: bool
) -> pd.DataFrame:
    """The frame's text columns converted to the dtypes their kind and choices call for."""
    choices: dict[str, dict[str, str]] = {}
    for column in table["columns"]:
        name, kind = column["name"], column["kind"]
        field = fields.get((table["name"], name), {})
        values = frame[name].mask(frame[name] == "")
        if field.get("choices") and kind != "bool":
            mapping = {c["value"]: c["label"] for c in field["choices"]}
            choices[name] = mapping
            frame[name] = _category(values, mapping, labels)
        else:
            frame[name] = CONVERTERS.get(kind, _text)(values)
    frame.attrs["choices"] = choices
    return frame


def _category(values: pd.Series, mapping: dict[str, str], labels: bool) -> pd.Series:
    categories = list(mapping.values() if labels else mapping)
    shown = values.map(mapping) if labels else values
    return pd.Series(pd.Categorical(shown, categories=categories), index=values.index)


def _integers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values).astype("Int64")


def _floats(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values).astype("float64")


def _decimals(values: pd.Series) -> pd.Series:
    return values.map(decimal.Decimal, na_action="ignore").astype(object)


def _booleans(values: pd.Series) -> pd.Series:
    return values.map({"true": True, "false": False}).astype("boolean")


def _datetimes(values: pd.Series) -> pd.Series:
    # Naive stored times are UTC too (the portal stores every time in UTC).
    return pd.to_datetime(values, utc=True, format="ISO8601")


def _times(values: pd.Series) -> pd.Series:
    return values.map(dt.time.fromisoformat, na_action="ignore").astype(object)


def _text(values: pd.Series) -> pd.Series:
    return values.astype("str")


CONVERTERS = {
    "int": _integers,
    "float": _floats,
    "decimal": _decimals,
    "bool": _booleans,
    "date": _datetimes,
    "datetime": _datetimes,
    "time": _times,
    "text": _text,
}


def load_live(*, rows: str = "approved", labels: bool = True) -> dict[str, pd.DataFrame]:
    """The live tables (DATABASE_READ_URL, else DATABASE_URL), read as a freeze reads them."""
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    from dotenv import load_dotenv

    from app import create_app
    from app.read_database import read_engine
    from app.services.freezes import write_archive

    load_dotenv(PROJECT_ROOT / ".env")  # as the flask command does; set variables win
    app = create_app()
    with app.app_context(), tempfile.TemporaryDirectory(prefix="portal-live-") as folder:
        path = Path(folder) / "live.zip"
        engine = read_engine()
        try:
            write_archive(
                path, engine, name="live", rows=rows, note=None, creator="examples/freeze_loader.py"
            )
        finally:
            engine.dispose()
        return load_freeze(path, labels=labels)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archive", nargs="?", help="a freeze archive (.zip)")
    parser.add_argument("--live", action="store_true", help="read the database instead")
    parser.add_argument(
        "--all", action="store_true", help="with --live: every row, not only approved ones"
    )
    parser.add_argument(
        "--values", action="store_true", help="choices as stored values, not labels"
    )
    args = parser.parse_args(argv)
    if bool(args.archive) == args.live:
        parser.error("give a freeze archive, or --live")
    if args.live:
        frames = load_live(rows="all" if args.all else "approved", labels=not args.values)
    else:
        frames = load_freeze(args.archive, labels=not args.values)
    for name, frame in frames.items():
        print(f"== {name}: {len(frame)} rows")
        print(frame.dtypes.to_string())
        if len(frame):
            print(frame.head(10).to_string(index=False))


if __name__ == "__main__":
    main()
