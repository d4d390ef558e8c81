"""placeholder"""

STACKS = ("staging", "prod")


def render(stacks):
    return ""
