"""Network: the VPC, two public subnets in two availability zones, the internet gateway and routes.

The ALB needs subnets in two zones; the host lives in the first one. There is no
NAT gateway and no private subnet: the host has a public address but no inbound
rule from the internet (see SecurityGroups), which saves about $33 a month. The
VPC's default security group is emptied so nothing can use it by accident.

A VPC flow log records the rejected traffic (`flow_log_traffic`: REJECT by default, ALL
on request) into a CloudWatch log group kept `log_retention_days` and encrypted with
the stack's telemetry key: who knocked on the host or the ALB and was turned away.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.iam import policy_document, service_role
from components.config import StackConfig

ZONE_COUNT = 2


@dataclass
class NetworkArgs:
    tags: Mapping[str, str]
    """Tags of the VPC, subnets, internet gateway and route table."""
    name: str
    """The `Name` tag of the VPC, e.g. quintas-crm-prod."""
    cidr_block: str
    """The VPC's range: StackConfig.vpc_cidr (Traefik trusts forwarded headers from it too)."""
    subnet_prefix_length: int = 24
    """Prefix length of each public subnet carved from `cidr_block` (24: 256 addresses, 251 usable)."""
    log_retention_days: int = 14
    """Days CloudWatch keeps the VPC flow log (one of the values CloudWatch accepts)."""
    log_kms_key_arn: pulumi.Input[str] | None = None
    """KMS key of the flow log's log group (Keys.telemetry_key_arn); None: CloudWatch's default encryption."""
    flow_log_traffic: str = "REJECT"
    """What the flow log records: REJECT (default: refused connections, the cheap audit trail) or ALL."""
    zones: tuple[str, ...] = field(default_factory=tuple)
    """Availability zones to use; the first two available zones of the region when empty."""

    @classmethod
    def for_stack(cls, config: StackConfig, log_kms_key_arn: pulumi.Input[str] | None = None) -> NetworkArgs:
        return cls(
            tags=config.tags_for("network"),
            name=config.name_prefix,
            cidr_block=config.vpc_cidr,
            log_retention_days=config.log_retention_days,
            log_kms_key_arn=log_kms_key_arn,
        )


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    flow_log_group_name: pulumi.Output[str]
    subnet_ids: list[pulumi.Output[str]]
    availability_zones: list[str]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("quintas:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        zones = (
            list(args.zones)
            or aws.get_availability_zones(state="available", opts=pulumi.InvokeOptions(parent=self)).names
        )
        if len(zones) < ZONE_COUNT:
            raise ValueError(f"the network needs {ZONE_COUNT} availability zones, the region offers {len(zones)}")
        self.availability_zones = list(zones[:ZONE_COUNT])
        cidrs = list(ipaddress.ip_network(args.cidr_block).subnets(new_prefix=args.subnet_prefix_length))

        vpc = aws.ec2.Vpc(
            "vpc",
            cidr_block=args.cidr_block,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={**args.tags, "Name": args.name},
            opts=child,
        )
        aws.ec2.DefaultSecurityGroup("default", vpc_id=vpc.id, tags=dict(args.tags), opts=child)
        gateway = aws.ec2.InternetGateway("igw", vpc_id=vpc.id, tags=dict(args.tags), opts=child)
        routes = aws.ec2.RouteTable("public", vpc_id=vpc.id, tags=dict(args.tags), opts=child)
        aws.ec2.Route(
            "internet", route_table_id=routes.id, destination_cidr_block="0.0.0.0/0", gateway_id=gateway.id, opts=child
        )

        self.subnet_ids = []
        for index, zone in enumerate(self.availability_zones):
            subnet = aws.ec2.Subnet(
                f"public-{index}",
                vpc_id=vpc.id,
                cidr_block=str(cidrs[index]),
                availability_zone=zone,
                # The host gets an Elastic IP and the ALB its own addresses: nothing
                # launched here should get a stray public address.
                map_public_ip_on_launch=False,
                tags={**args.tags, "Name": f"{args.name}-public-{zone}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(f"public-{index}", subnet_id=subnet.id, route_table_id=routes.id, opts=child)
            self.subnet_ids.append(subnet.id)

        self.vpc_id = vpc.id
        self.flow_log_group_name = self._flow_log(args, vpc)
        self.register_outputs({"vpcId": self.vpc_id, "subnetIds": self.subnet_ids, "zones": self.availability_zones})

    def _flow_log(self, args: NetworkArgs, vpc: aws.ec2.Vpc) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        group = aws.cloudwatch.LogGroup(
            "flow-log",
            name=f"/vpc-flow-log/{args.name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.log_kms_key_arn,
            tags=dict(args.tags),
            opts=child,
        )
        role = service_role(
            "flow-log",
            name=f"{args.name}-flow-log",
            service="vpc-flow-logs.amazonaws.com",
            description="VPC Flow Logs writes the VPC's flow log to its log group",
            tags=args.tags,
            parent=self,
        )
        grant = aws.iam.RolePolicy(
            "flow-log",
            role=role.id,
            policy=group.arn.apply(
                lambda arn: policy_document(
                    [
                        {
                            "Sid": "WriteTheFlowLog",
                            "Effect": "Allow",
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                            "Resource": [arn, f"{arn}:log-stream:*"],
                        }
                    ]
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            "vpc",
            vpc_id=vpc.id,
            traffic_type=args.flow_log_traffic,
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=600,
            tags={**args.tags, "Name": f"{args.name}-flow-log"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[grant]),
        )
        return group.name
