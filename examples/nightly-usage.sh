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

# Since the start of yesterday: late events of the last day are counted in daily and monthly rows,
# and yesterday enters the daily rollup that `billing check` reads closed days from (which keeps
# `billing check --all` fast). Once, after installing or upgrading atlas, run
# `atlas usage aggregate --all` to fill it from the start of the previous month.
since=$(date -u -d yesterday +%F 2>/dev/null || date -u +%F)
if ! $ATLAS usage aggregate --all --since "$since" --period both > /dev/null; then
    echo "nightly-usage: aggregation failed" >&2
    exit 1
fi

# Every workspace in one command: each is checked as `billing check -w` would, set-based. The
# exit code is the worst workspace's (10-15), so it alone says whether anything needs attention;
# the CSV has one row per workspace with its own exit code and the server's message (last column).
report=$($ATLAS --no-color billing check --all --fail-on warning --format csv)
code=$?
case $code in
    0 | 10 | 11 | 12 | 13 | 14 | 15) ;;
    *)
        echo "nightly-usage: atlas billing check --all failed (exit $code)" >&2
        exit 1 ;;
esac

while IFS=, read -r ws _tier _allowed _status _error _http _worst ws_code message; do
    if [ "$ws_code" != 0 ]; then
        message=${message#\"}
        message=${message%\"}
        alerts+="$ws (exit $ws_code): ${message//\"\"/\"}"$'\n'
    fi
done < <(printf '%s\n' "$report" | tail -n +2)

if [ -n "$alerts" ]; then
    printf 'Atlas workspaces needing attention:\n%s' "$alerts"
    if [ -n "$ALERT_COMMAND" ]; then
        printf 'Atlas workspaces needing attention:\n%s' "$alerts" | sh -c "$ALERT_COMMAND"
    fi
else
    echo "All workspaces are within their plans' limits."
fi
exit 0
