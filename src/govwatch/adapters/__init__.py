"""Adapters: Elasticsearch, Kafka, HTTP fetch and its SSRF guard, dead letters. They import only the base modules
(settings, errors, models, log, metrics, identity) and each other."""
