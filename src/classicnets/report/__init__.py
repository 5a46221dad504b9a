"""The HTML report: collect run records, say what they show, write one self-contained page."""
