"""Scan stage: the policy and gate (``policy``), the scanners (``tools``), the Markdown report
(``report``), SARIF for code scanning (``sarif``), SBOMs attached in the registry (``sbom``)."""
