"""What a run found, at a glance: figures, report.html / report.md, run listings and comparisons."""
