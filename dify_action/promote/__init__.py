"""Promote stage: copy what environment A runs to environment B of the GitOps repository (``run``)."""
