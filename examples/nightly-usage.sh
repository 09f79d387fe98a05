#!/usr/bin/env bash
# Nightly usage job for cron: recompute every workspace's usage summaries (late events
# included), then alert on each workspace at warning or worse.
#
#   15 2 * * *  DATABASE_URL=postgres://... ALERT_COMMAND='mail -s "Atlas usage" ops@example.com' \
#               /opt/atlas/examples/nightly-usage.sh >> /var/log/atlas-nightly.log 2>&1
#
# ATLAS         how to run atlas (default: atlas)
# ALERT_COMMAND receives the alert text on stdin when any workspace needs attention
# Exit status: 0 when every workspace was checked (alerts or not), 1 when atlas itself failed.
set -uo pipefail

ATLAS=${ATLAS:-atlas}
ALERT_COMMAND=${ALERT_COMMAND:-}
alerts=""
failed=0

# Since the start of yesterday: late events of the last day are counted in daily and monthly rows.
since=$(date -u -d yesterday +%F 2>/dev/null || date -u +%F)
if ! $ATLAS usage aggregate --all --since "$since" --period both > /dev/null; then
    echo "nightly-usage: aggregation failed" >&2
    exit 1
fi

if ! ids=$($ATLAS workspace list --format csv); then
    echo "nightly-usage: cannot list workspaces" >&2
    exit 1
fi

for ws in $(printf '%s\n' "$ids" | tail -n +2 | cut -d, -f1); do
    verdict=$($ATLAS --no-color billing check -w "$ws" --fail-on warning 2>&1)
    code=$?
    case $code in
        0) ;;
        10 | 11 | 12 | 13 | 14 | 15)
            alerts+="$ws (exit $code): $(printf '%s\n' "$verdict" | head -n 1)"$'\n' ;;
        *)
            echo "nightly-usage: atlas failed for $ws (exit $code)" >&2
            failed=1 ;;
    esac
done

if [ -n "$alerts" ]; then
    printf 'Atlas workspaces needing attention:\n%s' "$alerts"
    if [ -n "$ALERT_COMMAND" ]; then
        printf 'Atlas workspaces needing attention:\n%s' "$alerts" | sh -c "$ALERT_COMMAND"
    fi
else
    echo "All workspaces are within their plans' limits."
fi
exit $failed
