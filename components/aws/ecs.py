"""FargateServices: an ECS cluster and one Fargate service per task description, behind the ALB.

Knows no ServiceSpec: components/workload/ecs_services.py turns the catalogue's specs into
the plain `TaskDescription`s here. Per task:
- a task definition (awsvpc, one container, the awslogs driver to the service's log group,
  its health check, secrets as `secrets` read from SSM parameters at start, never as
  `environment` values);
- an execution role that may read only its own parameters, write only its own log group
  and pull only the stack's repositories; a task role only when the description grants
  the application AWS permissions (Directus: the uploads bucket);
- a service across the network's subnets (two zones) in the ALB target group of its
  route (target type `ip`), rolling updates that start new tasks before stopping old
  ones, with the deployment circuit breaker rolling a failing release back;
- auto scaling between the stack's bounds on CPU and on requests per target;
- alarms: CPU or memory above 80% for 5 minutes, and no running task (the site is down).
The cluster has Container Insights on: per-service CPU, memory and task counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.ecs_tasks import TaskDescription, container_definition, execution_statements
from components.aws.iam import policy_document, service_role
from components.aws.load_balancer import LoadBalancer
from components.aws.managed import HIGH_PERCENT, SUSTAINED, alarm
from components.aws.monitoring import Monitoring
from components.aws.network import Network
from components.aws.security import SecurityGroups
from components.config import StackConfig

CPU_TARGET_PERCENT = 60.0
REQUESTS_PER_TARGET = 1000.0  # a minute, per task: Next.js and Directus both answer far more
TASKS_PRINCIPAL = "ecs-tasks.amazonaws.com"


@dataclass
class FargateServicesArgs:
    name: str
    """Prefix of physical names, e.g. quintas-crm-prod: the cluster's name."""
    tags: Mapping[str, str]
    """Tags of the cluster, roles, task definitions, services and alarms."""
    region: str
    """AWS region of the cluster, its log groups and parameters."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Subnets in two availability zones; ECS spreads each service's tasks across them."""
    security_group_id: pulumi.Input[str]
    """The tasks' group: the target ports from the ALB only, HTTPS out."""
    target_group_arns: Mapping[str, pulumi.Input[str]]
    """Route key -> ALB target group (type `ip`) the route's service registers its tasks in."""
    load_balancer_arn_suffix: pulumi.Input[str]
    """The ALB's ARN suffix: with a target group's, the request-count scaling metric's label."""
    target_group_arn_suffixes: Mapping[str, pulumi.Input[str]]
    """Route key -> target group ARN suffix, for the request-count scaling metric."""
    log_group_names: Mapping[str, pulumi.Input[str]]
    """Service -> its CloudWatch log group (Monitoring makes them, with the stack's retention)."""
    image_repository_prefix: str
    """Name prefix of the ECR repositories the tasks may pull from."""
    alert_topic_arn: pulumi.Input[str]
    """SNS topic the services' alarms notify."""
    min_tasks: int
    """Fewest tasks per service (auto scaling's minimum and the count a new service starts with)."""
    max_tasks: int
    """Most tasks per service auto scaling may run."""
    architecture: str = "X86_64"
    """The CPU architecture the images are built for (X86_64 or ARM64)."""
    assign_public_ip: bool = True
    """Tasks reach ECR, SSM and CloudWatch over the internet gateway, as the host does: no NAT gateway."""
    after: Sequence[pulumi.Resource] = ()
    """What the services wait for: the load balancer (ECS refuses a target group no listener rule uses
    yet) and the log groups (a task whose log group does not exist fails to start)."""
    cpu_target_percent: float = CPU_TARGET_PERCENT
    """Average CPU of a service's tasks that auto scaling keeps it at (default 60%)."""
    requests_per_target: float = REQUESTS_PER_TARGET
    """ALB requests a minute per task that auto scaling keeps a service at (default 1000)."""

    @classmethod
    def for_stack(
        cls,
        config: StackConfig,
        network: Network,
        security: SecurityGroups,
        alb: LoadBalancer | None,
        monitoring: Monitoring,
        image_repository_prefix: str,
    ) -> FargateServicesArgs:
        """In the network's two zones, in the targets' security group, behind the ALB's target groups."""
        if alb is None:  # the settings refuse it first, naming the fix; this keeps a caller from skipping them
            raise ValueError("the Fargate services are reached only through the ALB: topology ecs needs edge alb")
        return cls(
            name=config.name_prefix,
            tags=config.tags_for("ecs"),
            region=config.region,
            subnet_ids=network.subnet_ids,
            security_group_id=security.host_security_group_id,
            target_group_arns=alb.target_group_arns,
            load_balancer_arn_suffix=alb.arn_suffix,
            target_group_arn_suffixes=alb.target_group_arn_suffixes,
            log_group_names=monitoring.log_group_names,
            image_repository_prefix=image_repository_prefix,
            alert_topic_arn=monitoring.alert_topic_arn,
            min_tasks=config.scale_out.min_tasks,
            max_tasks=config.scale_out.max_tasks,
            architecture=config.instance_shape.architecture.upper(),
            after=[alb, *monitoring.ready],
        )


class FargateServices(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    services: dict[str, aws.ecs.Service]

    def __init__(
        self,
        name: str,
        args: FargateServicesArgs,
        tasks: Sequence[TaskDescription],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("quintas:ecs:FargateServices", name, None, opts)
        unknown = sorted({t.route for t in tasks} - set(args.target_group_arns))
        if unknown:
            raise ValueError(f"no load balancer target group for route(s) {', '.join(unknown)}")
        self._args = args
        cluster = aws.ecs.Cluster(
            "cluster",
            name=args.name,
            settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enabled")],
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        self.services = {}
        for task in tasks:
            definition = self._task_definition(task)
            self.services[task.name] = self._service(task, cluster, definition)
        self.cluster_name = cluster.name
        self.register_outputs({"cluster": cluster.name, "services": list(self.services)})

    def _role(self, task: TaskDescription, kind: str, description: str, policy: pulumi.Input[str]) -> aws.iam.Role:
        """A role only ECS tasks may assume, with one inline policy."""
        role = service_role(
            f"{task.name}-{kind}",
            name=f"{self._args.name}-{task.name}-{kind}",
            service=TASKS_PRINCIPAL,
            description=description,
            tags=self._args.tags,
            parent=self,
        )
        aws.iam.RolePolicy(
            f"{task.name}-{kind}", role=role.name, policy=policy, opts=pulumi.ResourceOptions(parent=self)
        )
        return role

    def _task_definition(self, task: TaskDescription) -> aws.ecs.TaskDefinition:
        a = self._args
        child = pulumi.ResourceOptions(parent=self)
        log_group = a.log_group_names[task.name]
        starts = pulumi.Output.all(self._account, log_group, *task.secrets.values()).apply(
            lambda v: policy_document(execution_statements(a.region, v[0], a.image_repository_prefix, v[1], v[2:]))
        )
        execution = self._role(
            task, "execution", f"ECS starts {task.name}'s tasks: its image, parameters, logs", starts
        )
        task_role = None
        if task.permissions:
            own = pulumi.Output.from_input(list(task.permissions)).apply(
                lambda s: policy_document([dict(x) for x in s])
            )
            task_role = self._role(task, "task", f"{task.name}'s own AWS access", own)
        return aws.ecs.TaskDefinition(
            task.name,
            family=f"{a.name}-{task.name}",
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(task.cpu),
            memory=str(task.memory_mb),
            execution_role_arn=execution.arn,
            task_role_arn=task_role.arn if task_role else None,
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture=a.architecture
            ),
            container_definitions=pulumi.Output.json_dumps([container_definition(task, a.region, log_group)]),
            tags=dict(a.tags),
            opts=child,
        )

    def _service(
        self, task: TaskDescription, cluster: aws.ecs.Cluster, definition: aws.ecs.TaskDefinition
    ) -> aws.ecs.Service:
        a = self._args
        service = aws.ecs.Service(
            task.name,
            name=task.name,
            cluster=cluster.arn,
            task_definition=definition.arn,
            launch_type="FARGATE",
            desired_count=a.min_tasks,
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=list(a.subnet_ids), security_groups=[a.security_group_id], assign_public_ip=a.assign_public_ip
            ),
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=a.target_group_arns[task.route], container_name=task.name, container_port=task.port
                )
            ],
            # Rolling: new tasks start and pass the ALB's health check before old ones stop; a release
            # whose tasks keep failing is stopped and rolled back to the last one that ran.
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=True),
            health_check_grace_period_seconds=task.grace_seconds,
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            wait_for_steady_state=True,
            tags=dict(a.tags),
            # Auto scaling owns the running count once the service exists; an update must not reset it.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desiredCount"], depends_on=list(a.after)),
        )
        self._scaling(task, cluster, service)
        self._alarms(task, cluster, service)
        return service

    def _scaling(self, task: TaskDescription, cluster: aws.ecs.Cluster, service: aws.ecs.Service) -> None:
        a = self._args
        child = pulumi.ResourceOptions(parent=self)
        target = aws.appautoscaling.Target(
            task.name,
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", cluster.name, "/", service.name),
            min_capacity=a.min_tasks,
            max_capacity=a.max_tasks,
            tags=dict(a.tags),
            opts=child,
        )
        label = pulumi.Output.concat(a.load_balancer_arn_suffix, "/", a.target_group_arn_suffixes[task.route])
        metrics = {
            "cpu": ({"predefined_metric_type": "ECSServiceAverageCPUUtilization"}, a.cpu_target_percent),
            "requests": (
                {"predefined_metric_type": "ALBRequestCountPerTarget", "resource_label": label},
                a.requests_per_target,
            ),
        }
        for key, (metric, value) in metrics.items():
            aws.appautoscaling.Policy(
                f"{task.name}-{key}",
                name=f"{a.name}-{task.name}-{key}",
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                target_tracking_scaling_policy_configuration={
                    "predefined_metric_specification": metric,
                    "target_value": value,
                    # Out within a minute of the metric rising, in only after 5 quiet minutes.
                    "scale_out_cooldown": 60,
                    "scale_in_cooldown": 300,
                },
                opts=child,
            )

    def _alarms(self, task: TaskDescription, cluster: aws.ecs.Cluster, service: aws.ecs.Service) -> None:
        a = self._args
        common: dict[str, Any] = {
            "name_prefix": a.name,
            "topic_arn": a.alert_topic_arn,
            "tags": a.tags,
            "parent": self,
            "dimensions": {"ClusterName": cluster.name, "ServiceName": service.name},
        }
        for kind, metric in (("cpu", "CPUUtilization"), ("memory", "MemoryUtilization")):
            alarm(
                f"{task.name}-{kind}",
                description=f"{task.name} {kind} above {HIGH_PERCENT:g}% for 5 minutes",
                namespace="AWS/ECS",
                metric_name=metric,
                statistic="Average",
                threshold=HIGH_PERCENT,
                comparison_operator="GreaterThanThreshold",
                **SUSTAINED,
                **common,
            )
        alarm(
            f"{task.name}-tasks",
            description=f"no {task.name} task running for 2 minutes: the site is down",
            namespace="ECS/ContainerInsights",
            metric_name="RunningTaskCount",
            statistic="Minimum",
            period=60,
            evaluation_periods=2,
            threshold=1,
            comparison_operator="LessThanThreshold",
            treat_missing_data="breaching",
            **common,
        )
