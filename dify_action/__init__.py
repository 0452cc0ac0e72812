"""dify-action: build, test, scan and ship customized Dify images through GitOps."""

__version__ = "0.1.0"
