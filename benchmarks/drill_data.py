"""A CRM-like dataset for the backup drill: lots with PostGIS polygons, clients, sales, payments.

`load` makes the base the daily backup copies; `write_batch` is the day's work that
follows it, replayed from WAL: new lots, clients, sales and instalment payments,
re-surveyed lot boundaries (GiST index updates), price and status changes, payment
corrections. Row counts follow the proportions of a lot-sales business (a sale per
two lots, eight instalment payments per sale); text columns carry hashes so the data
compresses about as badly as real names, addresses and references do.

`snapshot` is what a restore must bring back: the row count of every CRM table, a
checksum of every row of each, and the answer of a spatial query that runs on the
GiST index of the lot boundaries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

CRM_TABLES = ("public.lots", "public.clients", "public.sales", "public.payments")
# Bytes on disk (heap + indexes) per lot, with its share of clients, sales and payments,
# and the size of an empty database with PostGIS; measured on PostgreSQL 15 with this schema (GiST index included).
BYTES_PER_LOT = 1100
EMPTY_DATABASE_MB = 16
BATCH_LOTS = 50_000
# Lots a workload batch adds; it also changes about as many existing rows.
WORK_LOTS = 10_000


class Server(Protocol):
    def psql(self, sql: str, database: str = "postgres", timeout: float = 1800) -> str: ...


SCHEMA = """
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE TABLE lots (
  id bigint PRIMARY KEY, code text NOT NULL, development text NOT NULL, area_m2 numeric(10,2) NOT NULL,
  list_price numeric(12,2) NOT NULL, status text NOT NULL, boundary geometry(Polygon, 4326) NOT NULL);
CREATE INDEX lots_boundary_gist ON lots USING gist (boundary);
CREATE TABLE clients (
  id bigint PRIMARY KEY, full_name text NOT NULL, email text NOT NULL, phone text NOT NULL,
  address text NOT NULL, created_at timestamptz NOT NULL);
CREATE TABLE sales (
  id bigint PRIMARY KEY, lot_id bigint NOT NULL REFERENCES lots, client_id bigint NOT NULL REFERENCES clients,
  sold_at timestamptz NOT NULL, price numeric(12,2) NOT NULL, contract_ref text NOT NULL);
CREATE TABLE payments (
  id bigint PRIMARY KEY, sale_id bigint NOT NULL REFERENCES sales, paid_at timestamptz NOT NULL,
  amount numeric(12,2) NOT NULL, method text NOT NULL, reference text NOT NULL);
CREATE TABLE heartbeat (id bigserial PRIMARY KEY, beat bigint NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
"""

# Lot g lies on a 1000-wide grid of 20 m cells near Guadalajara.
_BOUNDARY = """ST_MakeEnvelope(-103.4 + (g % 1000) * 0.0002 {shift}, 20.6 + (g / 1000) * 0.0002,
  -103.4 + (g % 1000) * 0.0002 + 0.00018 {shift}, 20.6 + (g / 1000) * 0.0002 + 0.00018, 4326)"""

# Lots [lo, hi]: every table gets rows keyed from the lot numbers.
INSERT = f"""
INSERT INTO lots SELECT g, 'L-' || g, 'Quintas ' || (g % 40), 200 + (g % 800), 150000 + (g % 5000) * 37,
  (ARRAY['available','reserved','sold'])[1 + g % 3], {_BOUNDARY.format(shift="")}
FROM generate_series({{lo}}, {{hi}}) g;
INSERT INTO clients SELECT g, 'Client ' || md5(g::text), md5('e' || g) || '@example.com',
  '+52 33 ' || lpad((g % 100000000)::text, 8, '0'), md5('a' || g) || ' ' || md5('b' || g),
  timestamptz '2020-01-01' + g * interval '1 minute'
FROM generate_series({{lo}}, {{hi}}) g;
INSERT INTO sales SELECT g, g * 2, g, timestamptz '2021-01-01' + g * interval '3 minutes',
  100000 + (g % 9000) * 41, 'CT-' || md5('c' || g)
FROM generate_series(({{lo}} + 1) / 2, {{hi}} / 2) g;
INSERT INTO payments SELECT s * 8 + k, s, timestamptz '2021-02-01' + (s * 8 + k) * interval '1 minute',
  1000 + ((s * 8 + k) % 700) * 13, (ARRAY['transfer','card','cash'])[1 + (s + k) % 3], md5('p' || (s * 8 + k))
FROM generate_series(({{lo}} + 1) / 2, {{hi}} / 2) s, generate_series(0, 7) k;
"""

# A day's changes to existing rows, spread over the base data by the batch number n:
# re-surveyed boundaries (moved 2 m east: a GiST update), price and status changes, corrections.
UPDATE = f"""
UPDATE lots SET boundary = {_BOUNDARY.format(shift="+ 0.00002 * (1 + {n} % 3)")},
  list_price = list_price + {{n}}, status = (ARRAY['available','reserved','sold'])[1 + (id + {{n}}) % 3]
FROM generate_series(1::bigint, {{count}}) i, LATERAL (SELECT 1 + (i * 7919 + {{n}} * 104729) % {{base}} AS g) pick
WHERE lots.id = pick.g;
UPDATE payments SET amount = amount + 1, reference = md5(reference || {{n}})
WHERE id IN (SELECT 8 + (i * 15485863 + {{n}} * 32452843) % ({{base}} * 4 - 8) FROM generate_series(1::bigint, {{count}}) i);
UPDATE clients SET phone = '+52 33 ' || lpad(((id * {{n}}) % 100000000)::text, 8, '0')
WHERE id IN (SELECT 1 + (i * 6700417 + {{n}}) % {{base}} FROM generate_series(1::bigint, {{count}} / 2) i);
"""

# Lots that intersect a 300 m disc in the middle of the grid, found through lots_boundary_gist.
SPATIAL = """SELECT count(*) || ':' || coalesce(sum(id), 0) || ':' || coalesce(round(sum(ST_Area(boundary::geography))), 0)
FROM lots WHERE ST_DWithin(boundary::geography, ST_SetSRID(ST_MakePoint(-103.3, 20.61), 4326)::geography, 300)
  AND boundary && ST_Expand(ST_SetSRID(ST_MakePoint(-103.3, 20.61), 4326), 0.004)"""
CHECKSUM = "SELECT md5(coalesce(string_agg(h, '' ORDER BY h), '')) FROM (SELECT md5(t::text) AS h FROM {} t) s"


def lots_for(size_mb: float) -> int:
    return max(int((size_mb - EMPTY_DATABASE_MB) * 2**20 / BYTES_PER_LOT) // 2 * 2, 100)


def load(server: Server, database: str, size_mb: float, progress: Callable[[str], None] = print) -> int:
    """Creates the schema and loads about size_mb of data; returns the number of lots."""
    server.psql(SCHEMA, database)
    total = lots_for(size_mb)
    for lo in range(1, total + 1, BATCH_LOTS):
        hi = min(lo + BATCH_LOTS - 1, total)
        server.psql(INSERT.format(lo=lo, hi=hi), database, timeout=1800)
        if total > BATCH_LOTS:
            progress(f"loaded {hi}/{total} lots")
    # Vacuumed now, so autovacuum does not write WAL during the backup that follows.
    server.psql("VACUUM ANALYZE", database)
    return total


def write_batch(server: Server, database: str, n: int, base_lots: int, first_lot: int, lots: int) -> None:
    """One transaction of the day's work: `lots` new lots (with clients, sales, payments) and changes."""
    sql = INSERT.format(lo=first_lot, hi=first_lot + lots - 1) + UPDATE.format(n=n, count=lots, base=base_lots)
    server.psql(f"BEGIN;\n{sql}\nCOMMIT;", database, timeout=1800)


def spatial_plan(server: Server, database: str) -> str:
    """The spatial query's plan with sequential scans off: it must name lots_boundary_gist."""
    return server.psql(f"SET enable_seqscan = off; EXPLAIN {SPATIAL}", database)


def snapshot(server: Server, database: str) -> dict[str, str]:
    """Row count and row checksum of every CRM table, and the spatial query's answer over the GiST index."""
    result: dict[str, str] = {}
    for table in CRM_TABLES:
        result[f"rows {table}"] = server.psql(f"SELECT count(*) FROM {table}", database)
        result[f"checksum {table}"] = server.psql(CHECKSUM.format(table), database)
    result["spatial lots near (-103.3, 20.61) via lots_boundary_gist"] = server.psql(
        f"SET enable_seqscan = off; {SPATIAL}", database
    ).splitlines()[-1]
    return result
