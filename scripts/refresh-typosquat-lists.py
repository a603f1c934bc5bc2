#!/usr/bin/env python3
"""Refresh the bundled lists of popular package names the typosquat check compares against
(server/src/checks/typosquat/{npm,pypi,crates}.txt, one normalised name a line, most popular first).

Inputs are local files, so the refresh itself asks no registry for names in bulk:
  --npm TSV     a table with columns `name` and `downloads_a_month` (npm download counts)
  --pypi TSV    a table with columns `name` and `rank_among_15000_most_downloaded`
  --crates DIR  a checkout of a crates.io index holding only the top crates (for example
                rene-d/top-crates-index): every file name in it is a top crate
  --top N       how many names per ecosystem (default 3000)

Example:
  scripts/refresh-typosquat-lists.py --npm npm.tsv --pypi pypi.tsv --crates top-crates-index/
Then run `cargo test --lib checks::typosquat` and commit the three lists with the date and sources.
"""
import argparse
import csv
import os
import re
import sys

OUT = os.path.join(os.path.dirname(__file__), "..", "server", "src", "checks", "typosquat")


def pep503(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def read_tsv(path):
    csv.field_size_limit(sys.maxsize)
    with open(path, newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)


def npm(path, top):
    rows = []
    for row in read_tsv(path):
        try:
            rows.append((int(row.get("downloads_a_month") or 0), row["name"].strip()))
        except ValueError:
            continue
    rows.sort(key=lambda r: -r[0])
    return [name for _, name in rows if name][:top]


def pypi(path, top):
    rows = []
    for row in read_tsv(path):
        rank = (row.get("rank_among_15000_most_downloaded") or "").strip()
        if rank.isdigit():
            rows.append((int(rank), pep503(row["name"].strip())))
    rows.sort()
    seen, names = set(), []
    for _, name in rows:
        if name and name not in seen:
            seen.add(name)
            names.append(name)
    return names[:top]


def crates(directory, top):
    names = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for file in files:
            if file != "config.json" and not file.startswith("."):
                names.append(file.lower())
    return sorted(set(names))[:top]


def write(name, names):
    path = os.path.join(OUT, name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(names) + "\n")
    print(f"{path}: {len(names)} names")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--npm")
    parser.add_argument("--pypi")
    parser.add_argument("--crates")
    parser.add_argument("--top", type=int, default=3000)
    args = parser.parse_args()
    if args.npm:
        write("npm.txt", npm(args.npm, args.top))
    if args.pypi:
        write("pypi.txt", pypi(args.pypi, args.top))
    if args.crates:
        write("crates.txt", crates(args.crates, args.top))


if __name__ == "__main__":
    main()
