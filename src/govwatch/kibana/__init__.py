"""Kibana dashboards as code: data views, saved searches and dashboards generated from the mappings.

``objects`` builds the saved objects (Lens panels by value) and their NDJSON, ``queries`` translates a
Lens panel into the equivalent Elasticsearch aggregation (what the tests run on the real index),
``importer`` posts the NDJSON to Kibana's import API and explains the answer. Nothing here needs Kibana.
"""

from govwatch.kibana.dashboards import DASHBOARDS
from govwatch.kibana.importer import ImportReport, import_ndjson
from govwatch.kibana.objects import KIBANA_MIN_VERSION, ndjson, saved_objects, to_ndjson

__all__ = ["DASHBOARDS", "KIBANA_MIN_VERSION", "ImportReport", "import_ndjson", "ndjson", "saved_objects",
           "to_ndjson"]
