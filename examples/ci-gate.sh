#!/usr/bin/env bash
# CI/CD gate: stop a pipeline step (a deploy, a batch job) for a workspace that is blocked or
# past its plan's limit. `atlas billing check` says which by its exit code.
#
#   examples/ci-gate.sh acme            # fails at the soft limit (100%) and above
#   FAIL_ON=warning examples/ci-gate.sh acme
set -uo pipefail

workspace=${1:?usage: ci-gate.sh WORKSPACE}
ATLAS=${ATLAS:-atlas}

$ATLAS billing check -w "$workspace" --fail-on "${FAIL_ON:-soft}"
code=$?
case $code in
    0)  echo "gate: $workspace may proceed"; exit 0 ;;
    10) echo "gate: $workspace is approaching a limit (warning)" ;;
    11) echo "gate: $workspace is over its plan's limit, inside the 10% grace buffer" ;;
    12) echo "gate: $workspace is blocked at the hard limit" ;;
    13) echo "gate: $workspace's trial has expired" ;;
    14) echo "gate: the billing check failed; treating $workspace as blocked" ;;
    15) echo "gate: $workspace needs an active subscription" ;;
    *)  echo "gate: atlas could not decide (exit $code)" ;;
esac
exit 1
