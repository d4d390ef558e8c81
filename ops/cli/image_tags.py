"""The image tags a stack's settings file records: what a release builds, pushes and deploys.

`python -m ops image-tags --stack NAME` prints one `image=tag` line per image the
stack takes a tag for (imageTags in Pulumi.<stack>.yaml), in the form GitHub's
`$GITHUB_OUTPUT` reads. CD runs it on the release tag's checkout, so the images it
pushes carry exactly the tags `pulumi up` then deploys from the same file: the
repository stays the record of what runs. Exit 0, or 2 with a one-line error when
the file or a tag is missing.

Examples:
  python -m ops image-tags --stack prod
  python -m ops image-tags --stack staging >> "$GITHUB_OUTPUT"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from components.config_sections import REQUIRED_IMAGES
from ops.sim.engine import PROJECT, SettingsFileError, load_stack_settings


def recorded_tags(stack: str, root: Path | None = None) -> dict[str, str]:
    """image -> tag from the stack's settings file; raises SettingsFileError naming what is missing."""
    config, _ = load_stack_settings(stack, root)
    raw = yaml.safe_load(config.get(f"{PROJECT}:imageTags", "{}")) or {}
    missing = [image for image in REQUIRED_IMAGES if not isinstance(raw.get(image), str) or not raw[image]]
    if missing:
        raise SettingsFileError(f"Pulumi.{stack}.yaml records no imageTags for: {', '.join(missing)}")
    return {image: raw[image] for image in REQUIRED_IMAGES}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, help="stack name (Pulumi.<stack>.yaml)")


def main(args: argparse.Namespace) -> int:
    try:
        tags = recorded_tags(args.stack)
    except SettingsFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for image, tag in tags.items():
        print(f"{image}={tag}")
    return 0
