"""Save-time rules for a subscription's Slack destination (the send-time twin is in ``slack_send``; the host rule is
shared, in ``slack_destination``).

* **Webhook hosts.** A webhook URL must point at a host in ``GOVWATCH_SLACK_WEBHOOK_HOSTS`` (default: Slack's
  own). A destination is user input: without this, anyone who may create a subscription could make the notifier
  POST JSON to an internal address the SSRF allowlist admits for feeds (Elasticsearch on 127.0.0.1:9200 takes a
  POST to ``/<index>/_doc``). The sender checks again before every post, so a destination saved before the setting
  changed is refused then (dead-lettered with the reason), never posted.
* **The organisation's bot token is for admins.** The web form used to fill in ``GOVWATCH_SLACK_BOT_TOKEN`` when a
  subscription named only a channel. That token can post to (and, for the once-only check, read) every channel the
  bot was invited to, private ones included, so a user typing a channel name silently borrowed it. Now only an
  admin's subscription may carry it; anyone else is told to give a destination of their own (a webhook URL, or
  their own bot token with the channel). A subscription an admin set up that way keeps working when its owner
  edits other fields; pointing it at another channel is again an admin's decision.
* **Other channels** (``channel_rules``): a Teams URL must be on ``GOVWATCH_TEAMS_WEBHOOK_HOSTS``, a JSON webhook on
  ``GOVWATCH_JSON_WEBHOOK_HOSTS``; e-mail needs an operator's SMTP server and recipients in
  ``GOVWATCH_EMAIL_DOMAINS`` (when set).
"""

from __future__ import annotations

from govwatch.alerts.channel_rules import host_problem, recipient_problem
from govwatch.alerts.slack_destination import webhook_host_problem
from govwatch.alerts.subscriptions import Destination
from govwatch.errors import InvalidQuery
from govwatch.settings import Settings

OWN_DESTINATION = ("give a Slack incoming-webhook URL (https://hooks.slack.com/services/...), or a bot token of "
                   "your own together with the channel")


def check_destination(destination: Destination, settings: Settings, *, admin: bool,
                      previous: Destination | None = None) -> None:
    """Raise InvalidQuery, naming the problem and the fix, when ``destination`` may not be saved."""
    _check_other_channel(destination, settings)
    if destination.kind == "webhook" and destination.webhook_url is not None:
        problem = webhook_host_problem(destination.webhook_url.get_secret_value(), tuple(settings.slack_webhook_hosts))
        if problem is not None:
            raise InvalidQuery(f"the webhook URL is refused: {problem}. Use a Slack incoming-webhook URL, or ask an "
                               "operator to add the host to GOVWATCH_SLACK_WEBHOOK_HOSTS")
    org = settings.slack_bot_token
    if (destination.kind == "bot" and org is not None and destination.bot_token is not None and not admin
            and destination.bot_token.get_secret_value() == org.get_secret_value() and destination != previous):
        raise InvalidQuery("a channel alone is not a destination: the organisation's bot token is used only by admins "
                           f"(it can post to every channel the bot is in); {OWN_DESTINATION}")


def _check_other_channel(destination: Destination, settings: Settings) -> None:
    problem: str | None = None
    if destination.kind == "teams" and destination.webhook_url is not None:
        problem = host_problem("teams", destination.webhook_url.get_secret_value(), settings.teams_webhook_hosts,
                               "GOVWATCH_TEAMS_WEBHOOK_HOSTS")
    elif destination.kind == "json" and destination.webhook_url is not None:
        problem = host_problem("json", destination.webhook_url.get_secret_value(), settings.json_webhook_hosts,
                               "GOVWATCH_JSON_WEBHOOK_HOSTS")
    elif destination.kind == "email":
        problem = ("e-mail is not set up on this server (an operator sets GOVWATCH_SMTP_HOST)" if not settings.smtp_host
                   else recipient_problem(destination.to, settings.email_domains))
    if problem is not None:
        raise InvalidQuery(f"the {destination.kind} destination is refused: {problem}")
