"""One way to wire a process from settings: every client and service a govwatch process runs on is built here.

One module per process (its Elasticsearch indices named there, so each role's privileges can be read off its
module): :mod:`.poll` (the poll flow's runtime), :mod:`.digests` (the digest run of the CLI and the flow),
:mod:`.enrich`, :mod:`.index`, :mod:`.alert`, :mod:`.notify` (the consumers' stages), :mod:`.web` (the subscription
service of the web app and the CLI), :mod:`.dlq` (dead-letter replay); :mod:`.clients` builds what several share.

The rule: this package may import anything in govwatch except govwatch.cli, govwatch.commands and govwatch.web;
the web app, the CLI commands, the flows (govwatch_flows) and the consumers (govwatch_consumers) get their parts
from it; the domain (alerts, enrich, feeds, kibana), the stages, the loop and the adapters never import it.
"""
