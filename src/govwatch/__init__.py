"""govwatch: an open news-monitoring pipeline for AI-governance stories."""

__version__ = "0.1.0"
