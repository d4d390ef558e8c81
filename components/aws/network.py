"""Network: the VPC, two public subnets in two availability zones, the internet gateway and routes.

The ALB needs subnets in two zones; the host lives in the first one. There is no
NAT gateway and no private subnet: the host has a public address but no inbound
rule from the internet (see SecurityGroups), which saves about $33 a month. The
VPC's default security group is emptied so nothing can use it by accident.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

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
    zones: tuple[str, ...] = field(default_factory=tuple)
    """Availability zones to use; the first two available zones of the region when empty."""

    @classmethod
    def for_stack(cls, config: StackConfig) -> NetworkArgs:
        return cls(tags=config.tags_for("network"), name=config.name_prefix, cidr_block=config.vpc_cidr)


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
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
        self.register_outputs({"vpcId": self.vpc_id, "subnetIds": self.subnet_ids, "zones": self.availability_zones})
