"""Network: a VPC with two public subnets in two zones, an internet route, no NAT gateway."""

from __future__ import annotations

import ipaddress

from ops.sim import engine

SUBNET = "aws:ec2/subnet:Subnet"


def test_two_public_subnets_in_two_availability_zones(stack_run: engine.Run) -> None:
    subnets = stack_run.of_type(SUBNET)
    assert len(subnets) == 2
    assert len({s.inputs["availabilityZone"] for s in subnets}) == 2


def test_subnets_lie_inside_the_vpc_without_overlapping(stack_run: engine.Run) -> None:
    vpc = stack_run.one("aws:ec2/vpc:Vpc")
    block = ipaddress.IPv4Network(vpc.inputs["cidrBlock"])
    nets = [ipaddress.IPv4Network(s.inputs["cidrBlock"]) for s in stack_run.of_type(SUBNET)]
    assert all(n.subnet_of(block) for n in nets)
    assert not nets[0].overlaps(nets[1])
    assert {s.inputs["vpcId"] for s in stack_run.of_type(SUBNET)} == {vpc.id}


def test_both_subnets_route_to_the_internet_gateway(stack_run: engine.Run) -> None:
    gateway = stack_run.one("aws:ec2/internetGateway:InternetGateway")
    table = stack_run.one("aws:ec2/routeTable:RouteTable")
    route = stack_run.one("aws:ec2/route:Route")
    assert (route.inputs["destinationCidrBlock"], route.inputs["gatewayId"]) == ("0.0.0.0/0", gateway.id)
    assert route.inputs["routeTableId"] == table.id
    associated = {
        a.inputs["subnetId"] for a in stack_run.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
    }
    assert associated == {s.id for s in stack_run.of_type(SUBNET)}
    assert {
        a.inputs["routeTableId"] for a in stack_run.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
    } == {table.id}


def test_no_nat_gateway_is_created(stack_run: engine.Run) -> None:
    assert not [r for r in stack_run.resources if "natGateway" in r.type]


def test_subnets_give_no_automatic_public_address(stack_run: engine.Run) -> None:
    assert [s.inputs["mapPublicIpOnLaunch"] for s in stack_run.of_type(SUBNET)] == [False, False]


def test_vpc_default_security_group_is_emptied(stack_run: engine.Run) -> None:
    default = stack_run.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default.inputs["vpcId"] == stack_run.one("aws:ec2/vpc:Vpc").id
    assert not default.inputs.get("ingress") and not default.inputs.get("egress")
