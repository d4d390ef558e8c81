"""Every verb, given malformed arguments or files a user can type or point at, answers in one line.

Each case runs the real command line (`ops.__main__.main`), all in one process
(tests/helpers/verb_driver.py). Whatever the input, no exception escapes, nothing
prints a Python traceback, and the exit code is 2 (bad input) with one line on
stderr. Every AWS client points at a closed port on 127.0.0.1, so a case that got
as far as calling AWS would fail here instead of reaching the network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ops.sim.engine import PROJECT

ROOT = Path(__file__).resolve().parents[2]
CLOSED = "http://127.0.0.1:9"

BAD_STACKS = ["", "../prod", "nope", "x" * 200, "prod\n", "Prod_1", "a/b"]
STACK_VERBS = ["plan", "cost", "graph", "image-tags", "compose", "monitoring-config"]
BAD_NUMBERS = ["abc", "nan", "inf", "-1", "0"]


def _files(tmp: Path) -> dict[str, Path]:
    """Files a user could point a verb at by mistake."""
    (tmp / "a-dir").mkdir(exist_ok=True)
    made = {
        "missing": tmp / "missing.json",
        "directory": tmp / "a-dir",
        "binary": tmp / "binary.json",
        "list": tmp / "list.json",
        "empty": tmp / "empty.json",
        "no-keys": tmp / "no-keys.json",
    }
    made["binary"].write_bytes(b"\xff\xfe\x00garbage")
    made["list"].write_text("[1, 2]")
    made["empty"].write_text("")
    made["no-keys"].write_text('{"other": 1}')
    return made


def _cases(tmp: Path) -> list[list[str]]:
    files = _files(tmp)
    cases = [[verb, "--stack", stack] for verb in STACK_VERBS for stack in BAD_STACKS]
    cases += [["backup", "verify", "--stack", stack, "--bucket", "b"] for stack in BAD_STACKS]
    base_verify = ["backup", "verify", "--stack", "prod", "--endpoint-url", CLOSED]
    cases += [[*base_verify, "--outputs", str(f)] for f in files.values()]
    cases += [[*base_verify, "--bucket", "b", "--archive-timeout", n] for n in BAD_NUMBERS]
    cases += [[*base_verify, "--bucket", ""]]
    restore = ["backup", "restore", "--stack", "prod", "--bucket", "b", "--endpoint-url", CLOSED]
    target = str(tmp / "restored")
    cases += [
        [*restore, "--to", when, "--target-dir", target]
        for when in ["", "yesterday", "2026-13-01T00:00", "3000-01-01T00:00:00Z"]
    ]
    cases += [[*restore, "--to", "latest", "--target-dir", str(files["binary"])]]
    cases += [[*restore, "--to", "latest", "--target-dir", target, "--timeout", n] for n in BAD_NUMBERS]
    cases += [[*restore, "--to", "latest", "--target-dir", target, "--verify-table", "x; drop table y"]]
    cases += [
        [*restore, "--to", "latest", "--target-dir", target, "--report-json", str(f)]
        for f in (files["directory"], tmp / "no" / "such" / "dir" / "r.json")
    ]
    cases += [[*restore, "--to", "latest", "--target-dir", target, "--pg-bin", str(tmp / "no-postgres")]]
    cutover = ["dns-cutover", "--stack", "prod", "--endpoint-url", CLOSED]
    cases += [[*cutover, "--zone-id", zone] for zone in ["", "nope", "Z1\n"]]
    cases += [[*cutover, "--zone-id", "Z1", "--outputs", str(f)] for f in files.values()]
    for option in ("--wait-timeout", "--poll-interval"):
        cases += [[*cutover, "--zone-id", "Z1", option, n] for n in BAD_NUMBERS]
    cases += [[*cutover, "--zone-id", "Z1", "--health-base-url", url] for url in ["ftp://x", "not a url", ""]]
    outputs = tmp / "outputs.json"
    outputs.write_text(
        '{"albDnsName": "quintas-crm-prod-1.us-east-1.elb.amazonaws.com", "albZoneId": "Z35SXDOTRQ7X7K",'
        ' "appUrl": "https://app.example.com", "cmsUrl": "https://cms.example.com"}'
    )
    for state_dir in (files["binary"], files["binary"] / "sub"):
        cases += [[*cutover, "--zone-id", "Z1", "--outputs", str(outputs), "--state-dir", str(state_dir)]]
    cases += [["compose", "--stack", "staging", "--dir", str(files["binary"])]]
    cases += [["nosuchverb"], ["plan", "--stack"], ["cost", "--stack", "staging", "--stack", "prod"]]
    return cases


def _run_all(cases: list[list[str]], root: Path | None = None) -> list[dict[str, Any]]:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": CLOSED,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PATH": "/usr/bin:/bin",  # no `pulumi` CLI to fall back on
        "PYTHONPATH": str(ROOT),
    }
    request = json.dumps({"root": str(root) if root else None, "cases": cases})
    proc = subprocess.run(
        [sys.executable, "-m", "tests.helpers.verb_driver"],
        input=request,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def _failures(reports: list[dict[str, Any]], must_name: str = "") -> list[str]:
    return [
        f"{r['argv']!r}: exit {r['code']}, stderr: {(r['escaped'] or r['err']).strip()[-400:]!r}"
        for r in reports
        if r["code"] != 2
        or r["escaped"]
        or "Traceback" in r["err"]
        or not r["err"].strip()
        or must_name not in r["err"]
    ]


def test_every_malformed_argument_gets_exit_2_and_one_error_line(tmp_path: Path) -> None:
    failures = _failures(_run_all(_cases(tmp_path)))
    assert not failures, "\n".join(failures)


MALFORMED_SETTINGS: dict[str, bytes] = {
    "a list": b"- a\n- b\n",
    "not UTF-8": f"config:\n  {PROJECT}:owner: se\xf1al\n".encode("latin-1"),
    "a key twice": f"config:\n  {PROJECT}:owner: a\n  {PROJECT}:owner: b\n".encode(),
    "a numeric key": b"config:\n  12: x\n",
    "config a list": b"config: [1]\n",
    "a misspelt namespace": b"config:\n  quintas-crm-infr:owner: x\n",
    "broken YAML": b"config: [unclosed\n",
}


def test_every_verb_names_a_malformed_settings_file(tmp_path: Path) -> None:
    cases = []
    for body in MALFORMED_SETTINGS.values():
        stack = f"bad{len(cases)}"
        (tmp_path / f"Pulumi.{stack}.yaml").write_bytes(body)
        cases += [[verb, "--stack", stack] for verb in STACK_VERBS]
        cases.append(["backup", "verify", "--stack", stack, "--bucket", "b", "--endpoint-url", CLOSED])
    (tmp_path / "__main__.py").write_text((ROOT / "__main__.py").read_text())
    failures = _failures(_run_all(cases, root=tmp_path), must_name=".yaml")
    assert not failures, "\n".join(failures)


PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
)


def test_no_verb_prints_a_secret_or_key_material_from_an_invalid_setting(tmp_path: Path) -> None:
    """A private key pasted as the public key, and `secure:` values, never come back on any stream."""
    text = (ROOT / "Pulumi.staging.yaml").read_text()
    public_key = next(line for line in text.splitlines() if "operatorPublicKey" in line)
    text = text.replace(public_key, f"  {PROJECT}:operatorPublicKey: {PRIVATE_KEY}")
    text += f"  {PROJECT}:owner:\n    secure: v1:c2VjcmV0LW93bmVyLWNpcGhlcnRleHQ=\n"
    text = text.replace(f"  {PROJECT}:owner: platform-team\n", "")
    (tmp_path / "Pulumi.staging.yaml").write_text(text)
    (tmp_path / "__main__.py").write_text((ROOT / "__main__.py").read_text())
    cases = [[verb, "--stack", "staging"] for verb in STACK_VERBS if verb != "image-tags"]
    reports = _run_all(cases, root=tmp_path)
    leaks = [
        f"{r['argv']!r} printed {needle!r}"
        for r in reports
        for needle in ("BEGIN OPENSSH", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU", "c2VjcmV0LW93bmVy", "simulated-secret-for")
        if needle in r["out"] + r["err"]
    ]
    assert not leaks, "\n".join(leaks)
    assert _failures(reports, must_name="operatorPublicKey") == []
