#!/usr/bin/env bash
# README command 1: the whole pipeline end to end on the bundled offline news sample.
# Installs what is missing, starts the local stack (left running afterwards), serves the sample on
# 127.0.0.1, runs the Prefect poll flow and the four consumers, prints the Slack alerts and a summary, then serves
# the web app on http://127.0.0.1:8088 and prints a demo admin token to log in with (Ctrl-C stops it).
#   ./deploy/demo.sh          run it (again: nothing is published or alerted twice)
#   ./deploy/demo.sh --no-web exit after the summary; --web-port N serves the web app on another port
#   ./deploy/demo.sh --down   stop the local stack
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap-env.sh"
if [ "${1:-}" = "--down" ]; then exec govwatch stack down; fi
exec govwatch demo "$@"
