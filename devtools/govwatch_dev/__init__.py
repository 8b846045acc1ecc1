"""Development tooling of govwatch, kept out of the product wheel: the local stack, the demo, the fault and
hostile-input suites, the Slack-compatible receiver. Installed from a checkout (deploy/bootstrap-env.sh)."""
