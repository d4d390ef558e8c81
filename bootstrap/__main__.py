"""Bootstrap of one AWS account for Quintas CRM (a Pulumi project of its own, run once).

Makes what the first `pulumi up` of the staging and prod stacks needs and cannot make
itself: the state bucket, the KMS key of the stacks' secrets provider, and the GitHub
OIDC roles CI previews and CD deploys with (bootstrap/account.py). Its outputs are the
values docs/going-live.md passes to `pulumi login` and `pulumi stack init`.
"""

import sys
from pathlib import Path

import pulumi

# The project runs from bootstrap/; the shared builders live at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bootstrap.account import AccountBootstrap, AccountBootstrapArgs

settings = pulumi.Config("quintas-crm-bootstrap")
account = AccountBootstrap(
    "account",
    AccountBootstrapArgs(repository=settings.require("githubRepository"), owner=settings.require("owner")),
)

pulumi.export("stateBucket", account.state_bucket)
pulumi.export("backendUrl", pulumi.Output.concat("s3://", account.state_bucket))
pulumi.export("secretsProvider", account.secrets_provider)
pulumi.export("previewRoleArn", account.preview_role_arn)
pulumi.export("deployRoleArn", account.deploy_role_arn)
