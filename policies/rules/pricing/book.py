"""The price book: AWS list prices and usage assumptions read from `policies/rules/pricing/prices/aws.yaml`.

Pure Python over the data file (PyYAML only), so the policy pack can import it
without the Pulumi runtime. It validates the file and answers two questions:
what one unit of a priced item costs in a region, and what usage the stack's
environment is assumed to have. It computes no estimate: that is `ops.cost.estimate`.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DATA_FILE = Path(__file__).resolve().parent / "prices" / "aws.yaml"
ENVIRONMENTS = ("prod", "staging")
_ROW_KEYS = {"region", "key", "unit", "usd", "date", "source"}


class PriceDataError(Exception):
    """The price data file is missing a field, names an unknown source or has a bad value."""


@dataclass(frozen=True)
class Price:
    region: str
    key: str
    unit: str
    usd: float
    free: float
    date: str
    source: str
    source_url: str


@dataclass(frozen=True)
class PriceBook:
    prices: Mapping[tuple[str, str], Price]
    assumptions: Mapping[str, Mapping[str, Any]]
    free_types: Mapping[str, str]
    unpriced_types: Mapping[str, str]
    path: Path

    def price(self, region: str, key: str) -> Price | None:
        return self.prices.get((region, key))

    def regions(self) -> list[str]:
        return sorted({region for region, _ in self.prices})

    def usage(self, environment: str) -> dict[str, Any]:
        """The assumptions of one environment, on top of the common ones."""
        if environment not in ENVIRONMENTS:
            raise PriceDataError(
                f"no usage assumptions for environment {environment!r}; known: {', '.join(ENVIRONMENTS)}"
            )
        return {**self.assumptions["common"], **self.assumptions[environment]}


def load(path: Path | None = None) -> PriceBook:
    """Read and check the data file; every problem raises PriceDataError naming the row."""
    path = path or DATA_FILE
    try:
        # The safe loader, in libyaml's C version when PyYAML has it: 4x faster on this file.
        doc = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError) as exc:
        raise PriceDataError(f"cannot read the price data file {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise PriceDataError(f"{path.name}: expected a map with sources, prices, assumptions, free_types")
    sources = doc.get("sources") or {}
    prices: dict[tuple[str, str], Price] = {}
    for n, row in enumerate(doc.get("prices") or [], start=1):
        price = _price(path.name, n, row, sources)
        if (price.region, price.key) in prices:
            raise PriceDataError(f"{path.name}: price row {n} repeats {price.key} in {price.region}")
        prices[(price.region, price.key)] = price
    assumptions = doc.get("assumptions") or {}
    for section in ("common", *ENVIRONMENTS):
        if not isinstance(assumptions.get(section), dict):
            raise PriceDataError(f"{path.name}: assumptions.{section} must be a map of usage assumptions")
    return PriceBook(
        prices=prices,
        assumptions=assumptions,
        free_types=dict(doc.get("free_types") or {}),
        unpriced_types=dict(doc.get("unpriced_types") or {}),
        path=path,
    )


def _price(file: str, n: int, row: Any, sources: Mapping[str, Any]) -> Price:
    if not isinstance(row, dict) or not _ROW_KEYS <= set(row):
        missing = sorted(_ROW_KEYS - set(row)) if isinstance(row, dict) else sorted(_ROW_KEYS)
        raise PriceDataError(f"{file}: price row {n} lacks {', '.join(missing)}")
    usd, free = row["usd"], row.get("free", 0)
    for name, value in (("usd", usd), ("free", free)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise PriceDataError(f"{file}: price row {n} ({row['key']}): {name} must be a number >= 0, not {value!r}")
    source = sources.get(row["source"])
    if not isinstance(source, dict) or not source.get("name") or not source.get("url"):
        raise PriceDataError(f"{file}: price row {n} ({row['key']}) names source {row['source']!r}, not in sources")
    date = row["date"]
    if not isinstance(date, datetime.date):
        raise PriceDataError(f"{file}: price row {n} ({row['key']}): date must be YYYY-MM-DD, not {date!r}")
    return Price(
        region=str(row["region"]),
        key=str(row["key"]),
        unit=str(row["unit"]),
        usd=float(usd),
        free=float(free),
        date=date.isoformat(),
        source=str(source["name"]),
        source_url=str(source["url"]),
    )
