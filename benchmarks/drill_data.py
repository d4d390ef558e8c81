"""A CRM-like dataset for the backup drill: lots with PostGIS polygons, clients, sales, payments.

The size parameter is the approximate on-disk size in MB; row counts follow
from it with the proportions of a lot-sales business (a sale per two lots, eight
instalment payments per sale). Text columns carry hashes so the data compresses
about as badly as real names, addresses and references do.
"""

from __future__ import annotations

from collections.abc import Callable

from ops.backup.postgres_local import LocalServer

KEY_TABLES = ("public.lots", "public.clients", "public.sales", "public.payments")
# Bytes on disk (heap + indexes) per lot, with its share of clients, sales and payments,
# and the size of an empty database with PostGIS; measured on PostgreSQL 15 with this schema.
BYTES_PER_LOT = 1085
EMPTY_DATABASE_MB = 16
BATCH_LOTS = 50_000

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE TABLE lots (
  id bigint PRIMARY KEY, code text NOT NULL, development text NOT NULL, area_m2 numeric(10,2) NOT NULL,
  list_price numeric(12,2) NOT NULL, status text NOT NULL, boundary geometry(Polygon, 4326) NOT NULL);
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

# One batch of lots [lo, hi]: every table gets rows keyed from the lot numbers.
BATCH = """
INSERT INTO lots SELECT g, 'L-' || g, 'Quintas ' || (g % 40), 200 + (g % 800), 150000 + (g % 5000) * 37,
  (ARRAY['available','reserved','sold'])[1 + g % 3],
  ST_MakeEnvelope(-103.4 + (g % 1000) * 0.0002, 20.6 + (g / 1000) * 0.0002,
                  -103.4 + (g % 1000) * 0.0002 + 0.00018, 20.6 + (g / 1000) * 0.0002 + 0.00018, 4326)
FROM generate_series({lo}, {hi}) g;
INSERT INTO clients SELECT g, 'Client ' || md5(g::text), md5('e' || g) || '@example.com',
  '+52 33 ' || lpad((g % 100000000)::text, 8, '0'), md5('a' || g) || ' ' || md5('b' || g),
  timestamptz '2020-01-01' + g * interval '1 minute'
FROM generate_series({lo}, {hi}) g;
INSERT INTO sales SELECT g, g * 2, g, timestamptz '2021-01-01' + g * interval '3 minutes',
  100000 + (g % 9000) * 41, 'CT-' || md5('c' || g)
FROM generate_series(({lo} + 1) / 2, {hi} / 2) g;
INSERT INTO payments SELECT s * 8 + k, s, timestamptz '2021-02-01' + (s * 8 + k) * interval '1 minute',
  1000 + ((s * 8 + k) % 700) * 13, (ARRAY['transfer','card','cash'])[1 + (s + k) % 3], md5('p' || (s * 8 + k))
FROM generate_series(({lo} + 1) / 2, {hi} / 2) s, generate_series(0, 7) k;
"""


def lots_for(size_mb: float) -> int:
    return max(int((size_mb - EMPTY_DATABASE_MB) * 2**20 / BYTES_PER_LOT) // 2 * 2, 100)


def load(server: LocalServer, database: str, size_mb: float, progress: Callable[[str], None] = print) -> int:
    """Creates the schema and loads about size_mb of data; returns the database size in bytes."""
    server.psql(SCHEMA, database)
    total = lots_for(size_mb)
    for lo in range(1, total + 1, BATCH_LOTS):
        hi = min(lo + BATCH_LOTS - 1, total)
        server.psql(BATCH.format(lo=lo, hi=hi), database, timeout=1800)
        if total > BATCH_LOTS:
            progress(f"loaded {hi}/{total} lots")
    # Vacuumed now, so autovacuum does not write WAL during the backup that follows.
    server.psql("VACUUM ANALYZE", database)
    return int(server.psql(f"SELECT pg_database_size('{database}')", database))
