"""Database access rules on pulumi-docker `docker.Container`: no client of PostgreSQL connects
as the cluster's superuser or holds its password file, and no two clients share a role.

The postgres container names its superuser (POSTGRES_USER, the image's default
`postgres`) and that user's password file (POSTGRES_PASSWORD_FILE); clients name
their role in the variables their images read (Directus DB_USER, postgres-exporter
DATA_SOURCE_USER, libpq PGUSER) and their password file in a `*_FILE` variable.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import Severity, StackValidationArgs

from .base import PROJECT_RULE, Report, Rule, is_unknown, of_type
from .containers import CONTAINER, container_is, envs

# The variables the stack's clients name their database role in.
ROLE_VARIABLES = ("DB_USER", "DATA_SOURCE_USER", "PGUSER")


def _env(container: Any) -> dict[str, Any]:
    return {name: value for name, value in envs(container.props) if name}


def _least_privilege(args: StackValidationArgs, report: Report) -> None:
    config = args.get_config()
    containers = of_type(args, *CONTAINER)
    servers = [c for c in containers if container_is(c, config["postgresContainer"])]
    if not servers:
        args.not_applicable(f"no container named {config['postgresContainer']!r} in this stack")
        return
    server = _env(servers[0])
    superuser = server.get("POSTGRES_USER", "postgres")
    password_file = server.get("POSTGRES_PASSWORD_FILE")
    users: dict[str, list[str]] = {}
    for client in (c for c in containers if c.urn != servers[0].urn):
        env = _env(client)
        for var in ROLE_VARIABLES:
            role = env.get(var)
            if role is None or is_unknown(role) or is_unknown(superuser):
                continue
            users.setdefault(role, []).append(client.name)
            if role == superuser:
                report(
                    f"container {client.name!r} connects to PostgreSQL as the superuser {superuser!r} ({var})",
                    client.urn,
                )
        held = [var for var, value in env.items() if var.endswith("_FILE") and password_file and value == password_file]
        if held:
            report(f"container {client.name!r} receives the superuser's password file ({', '.join(held)})", client.urn)
    for role, names in sorted(users.items()):
        if len(names) > 1:
            report(f"containers {', '.join(repr(n) for n in names)} share the database role {role!r}")


RULES = [
    Rule(
        name="database-least-privilege",
        description="No PostgreSQL client container connects as the superuser or holds its password file, and each client has a role of its own.",
        why="A client on the superuser can read every table, write files as the server and run programs on the host's data volume.",
        severity=Severity.HIGH,
        check=_least_privilege,
        kind="stack",
        references=(
            f"{PROJECT_RULE}CIS PostgreSQL controls check the server's role grants, which a plan does not show; the roles themselves are made by services/postgres/initdb-roles.sh and checked by the rehearsal",
        ),
        config={
            "postgresContainer": {
                "type": "string",
                "default": "postgres",
                "description": "the PostgreSQL server's container, whose POSTGRES_USER is the superuser",
            }
        },
    ),
]
