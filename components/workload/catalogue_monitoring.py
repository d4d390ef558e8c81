"""The monitoring half of the catalogue: Prometheus, Alertmanager, Grafana and the exporters.

Images are pinned in components/workload/images.py; their configuration files (prometheus.yml, rules,
alertmanager.yml, Grafana provisioning) belong to the monitoring component,
which passes them as `config_files` (container path -> content). Their digest
is a container label, so a changed file redeploys the container. Nothing here
creates a resource.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from components.backups import CRM_DATABASE
from components.config import StackConfig
from components.workload.db_roles import EXPORTER
from components.workload.images import upstream
from components.workload.monitoring_config import grafana_settings, prometheus_flags
from components.workload.services import Metrics, Routing, ServiceSpec, Volume, wget_check

# The backup job writes its success metric here; node-exporter's textfile collector reads it.
NODE_TEXTFILE_DIR = "/srv/data/node-exporter-textfile"
NOBODY = "65534"  # the user of the Prometheus-project images


def monitoring(
    config: StackConfig,
    secrets: Mapping[str, pulumi.Input[str]],
    config_files: Mapping[str, Mapping[str, pulumi.Input[str]]] | None = None,
) -> list[ServiceSpec]:
    """The monitoring services; `config_files` maps a service name to its files (path -> content)."""
    files = config_files or {}
    return [
        prometheus(config, secrets, files.get("prometheus", {})),
        alertmanager(files.get("alertmanager", {})),
        grafana(config, secrets, files.get("grafana", {})),
        node_exporter(),
        cadvisor(),
        *exporters(secrets, files.get("blackbox-exporter", {})),
    ]


def prometheus(
    config: StackConfig, secrets: Mapping[str, pulumi.Input[str]], files: Mapping[str, pulumi.Input[str]]
) -> ServiceSpec:
    scale = max(1, int(config.instance_shape.memory_gib // 4))
    return ServiceSpec(
        name="prometheus",
        image=upstream("prometheus"),
        # Size-based retention from the data volume; no lifecycle API: a config change
        # redeploys the container (its digest label changes) instead of a reload call.
        command=tuple(prometheus_flags(config.data_volume_size_gb)),
        # Prometheus scrapes Directus with the metrics token it reads from this file.
        secrets={"metrics_token": secrets["metrics_token"]},
        file_owner=NOBODY,
        health=wget_check("http://127.0.0.1:9090/-/healthy"),
        memory_mb=384 * scale,
        cpus=0.5,
        volumes=(Volume("prometheus-data", "/prometheus"),),
        networks=("edge", "backend"),
        # node-exporter runs in the host's network namespace: Prometheus reaches it at
        # host.docker.internal, which Docker maps to the host (through the edge network's gateway).
        host_gateway=True,
        metrics=Metrics(port=9090),
        config_files=files,
        # Delete-first: the TSDB on prometheus-data takes a lock that a second Prometheus
        # cannot get, so a new container started beside the old one never turns healthy.
        # The grace lets it flush the head block and close the WAL (shorter replay on start).
        replacement="delete-first",
        stop_grace_seconds=60,
    )


def alertmanager(files: Mapping[str, pulumi.Input[str]]) -> ServiceSpec:
    return ServiceSpec(
        name="alertmanager",
        image=upstream("alertmanager"),
        command=("--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"),
        health=wget_check("http://127.0.0.1:9093/-/healthy"),
        memory_mb=48,
        cpus=0.25,
        volumes=(Volume("alertmanager-data", "/alertmanager"),),
        networks=("edge",),  # sends notifications out
        metrics=Metrics(port=9093),
        config_files=files,
        # Delete-first: silences and the notification log on alertmanager-data have one writer;
        # two instances on the same files would overwrite each other's snapshots. It writes
        # them on shutdown, within the grace.
        replacement="delete-first",
        stop_grace_seconds=30,
    )


def grafana(
    config: StackConfig, secrets: Mapping[str, pulumi.Input[str]], files: Mapping[str, pulumi.Input[str]]
) -> ServiceSpec:
    return ServiceSpec(
        name="grafana",
        image=upstream("grafana"),
        env=grafana_settings(config.grafana_host),
        secrets={"grafana_admin_password": secrets["grafana_admin_password"]},
        # Grafana's file variant of any setting is the setting's name plus __FILE.
        secret_env={"GF_SECURITY_ADMIN_PASSWORD__FILE": "grafana_admin_password"},
        file_owner="472",
        health=wget_check("http://127.0.0.1:3000/api/health"),
        memory_mb=192,
        cpus=0.5,
        volumes=(Volume("grafana-data", "/var/lib/grafana"),),
        networks=("edge", "backend"),
        routing=(Routing("app", 3000, host=config.grafana_host),),
        metrics=Metrics(port=3000),
        config_files=files,
        depends_on=("prometheus",),
        # Delete-first: Grafana's SQLite database on grafana-data (users, sessions) has one
        # writer, and a second server would migrate and lock it under the first. Grafana's
        # page is down for the restart; the application is not.
        replacement="delete-first",
        stop_grace_seconds=30,
    )


def exporters(
    secrets: Mapping[str, pulumi.Input[str]], blackbox_files: Mapping[str, pulumi.Input[str]]
) -> list[ServiceSpec]:
    return [
        ServiceSpec(
            name="postgres-exporter",
            image=upstream("postgres-exporter"),
            env={
                # The database the stack's postgres creates; pg_stat_database and pg_up follow it.
                "DATA_SOURCE_URI": f"postgres:5432/{CRM_DATABASE}?sslmode=disable",
                # A member of pg_monitor only (components/workload/db_roles.py).
                "DATA_SOURCE_USER": EXPORTER.name,
            },
            secrets={EXPORTER.secret: secrets[EXPORTER.secret]},
            secret_env={"DATA_SOURCE_PASS_FILE": EXPORTER.secret},
            file_owner=NOBODY,
            health=wget_check("http://127.0.0.1:9187/metrics"),
            memory_mb=48,
            cpus=0.25,
            networks=("backend",),
            metrics=Metrics(port=9187),
            depends_on=("postgres",),
        ),
        ServiceSpec(
            name="redis-exporter",
            image=upstream("redis-exporter"),
            env={"REDIS_ADDR": "redis://redis:6379"},
            health=wget_check("http://127.0.0.1:9121/health"),
            memory_mb=32,
            cpus=0.1,
            networks=("backend",),
            metrics=Metrics(port=9121),
            depends_on=("redis",),
        ),
        ServiceSpec(
            name="blackbox-exporter",
            image=upstream("blackbox-exporter"),
            command=("--config.file=/etc/blackbox_exporter/config.yml",),
            health=wget_check("http://127.0.0.1:9115/-/healthy"),
            memory_mb=32,
            cpus=0.1,
            networks=("edge",),  # probes the public URLs from outside the Docker networks
            metrics=Metrics(port=9115),
            config_files=blackbox_files,
        ),
    ]


def node_exporter() -> ServiceSpec:
    """The host's metrics, run as upstream documents it (`--net=host --pid=host`, / read-only).

    On a bridge network /proc/net and /sys/class/net show the container's own eth0, not
    the host's interfaces. In the host's namespace it listens on the host's port 9100 on
    every interface: the host's security group has no inbound rule for 9100
    (components/aws/security.py), so only the host itself and its containers reach it.
    """
    return ServiceSpec(
        name="node-exporter",
        image=upstream("node-exporter"),
        command=(
            "--web.listen-address=:9100",
            "--path.procfs=/host/proc",
            "--path.sysfs=/host/sys",
            "--path.rootfs=/rootfs",
            "--collector.textfile.directory=/textfile",
            "--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|var/lib/docker/.+)($|/)",
        ),
        health=wget_check("http://127.0.0.1:9100/metrics"),
        memory_mb=48,
        cpus=0.25,
        volumes=(
            Volume("/proc", "/host/proc", read_only=True),
            Volume("/sys", "/host/sys", read_only=True),
            Volume("/", "/rootfs", read_only=True),
            Volume(NODE_TEXTFILE_DIR, "/textfile", read_only=True),
        ),
        host_access="node-exporter reports the host's CPU, memory, disks and network from /proc, /sys and /",
        pid_host=True,
        host_network=True,
        networks=(),
        metrics=Metrics(port=9100),
        # Delete-first: in the host's network the new container could not bind 9100 while the
        # old one holds it. A gap of a few scrapes in host metrics is all a replacement costs.
        replacement="delete-first",
        stop_grace_seconds=10,
    )


def cadvisor() -> ServiceSpec:
    return ServiceSpec(
        name="cadvisor",
        image=upstream("cadvisor"),
        command=("--docker_only=true", "--housekeeping_interval=30s", "--store_container_labels=false"),
        health=wget_check("http://127.0.0.1:8080/healthz"),
        memory_mb=160,
        cpus=0.3,
        volumes=(
            Volume("/", "/rootfs", read_only=True),
            Volume("/var/run", "/var/run", read_only=True),
            Volume("/sys", "/sys", read_only=True),
            Volume("/var/lib/docker", "/var/lib/docker", read_only=True),
            Volume("/dev/disk", "/dev/disk", read_only=True),
        ),
        host_access="cAdvisor reads every container's cgroup and filesystem usage from the host",
        privileged=True,
        privileged_reason=(
            "cAdvisor needs the host's cgroup hierarchy and /dev/kmsg for per-container CPU, memory and OOM "
            "metrics; no narrower capability set gives them. It is the only privileged container."
        ),
        networks=("backend",),
        metrics=Metrics(port=8080),
    )
