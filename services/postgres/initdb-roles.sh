# The stack's database roles, made when the postgres image initialises an empty data
# directory: the catalogue delivers this file into /docker-entrypoint-initdb.d, whose
# entrypoint sources it as the postgres user after the database exists and before the
# server takes connections (components/workload/db_roles.py says who gets what).
#
# Each role's name is in <PREFIX>_USER and its generated password in the file named by
# <PREFIX>_PASSWORD_FILE. It can be run again on an existing cluster, as the superuser
# over the local socket, to set the roles and their passwords to these values:
#   docker exec -u postgres postgres bash /docker-entrypoint-initdb.d/20-quintas-roles.sh
# (POSTGRES_DB comes from the container's environment).

quintas_check_password_file() {
    if [ ! -r "$1" ] || [ ! -s "$1" ]; then
        echo >&2 "error: the role password file $1 is missing, empty or not readable by $(id -un)"
        return 1
    fi
}

quintas_roles() {
    local file
    for file in "$DIRECTUS_DB_PASSWORD_FILE" "$EXPORTER_DB_PASSWORD_FILE" "$BACKUP_DB_PASSWORD_FILE"; do
        quintas_check_password_file "$file" || return 1
    done
    # The passwords are read inside psql (backquotes), never on a command line.
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
        --set db="$POSTGRES_DB" --set owner="$DIRECTUS_DB_USER" \
        --set monitor="$EXPORTER_DB_USER" --set backup="$BACKUP_DB_USER" <<'SQL'
\set owner_password `tr -d '\n' < "$DIRECTUS_DB_PASSWORD_FILE"`
\set monitor_password `tr -d '\n' < "$EXPORTER_DB_PASSWORD_FILE"`
\set backup_password `tr -d '\n' < "$BACKUP_DB_PASSWORD_FILE"`
SELECT format('CREATE ROLE %I', name)
FROM unnest(ARRAY[:'owner', :'monitor', :'backup']) AS name
WHERE name NOT IN (SELECT rolname FROM pg_roles) \gexec

-- Directus: owns the CRM database (and so its public schema), nothing more.
ALTER ROLE :"owner" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'owner_password';
ALTER DATABASE :"db" OWNER TO :"owner";

-- postgres-exporter: statistics and settings only.
ALTER ROLE :"monitor" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'monitor_password';
GRANT pg_monitor TO :"monitor";

-- The backup job: Barman Cloud's base backups (its documented grants; pg_monitor holds
-- pg_read_all_settings and pg_read_all_stats, and lets the job read pg_ls_archive_statusdir()
-- for the WAL archiving backlog metric) and pg_dump.
ALTER ROLE :"backup" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'backup_password';
GRANT pg_checkpoint, pg_monitor, pg_read_all_data TO :"backup";
-- Function privileges belong to a database: barman-cloud-backup connects to `postgres`.
\connect postgres
GRANT EXECUTE ON FUNCTION pg_backup_start(text, boolean), pg_backup_stop(boolean), pg_switch_wal(),
    pg_create_restore_point(text) TO :"backup";
SQL
}

quintas_roles
