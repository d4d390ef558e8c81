#!/bin/sh
# As postgis/postgis's initdb-postgis.sh: a template_postgis database, and PostGIS in it and in POSTGRES_DB.
set -e
psql -v ON_ERROR_STOP=1 --dbname=postgres -c 'CREATE DATABASE template_postgis IS_TEMPLATE true;'
for db in template_postgis "$POSTGRES_DB"; do
    echo "Loading PostGIS extensions into $db"
    psql -v ON_ERROR_STOP=1 --dbname="$db" <<'SQL'
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS postgis_topology;
CREATE EXTENSION IF NOT EXISTS fuzzystrmatch;
CREATE EXTENSION IF NOT EXISTS postgis_tiger_geocoder;
SQL
done
