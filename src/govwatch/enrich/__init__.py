"""Enrichment: extraction, language, entities, topics, near-duplicates (pure logic, no adapters)."""
