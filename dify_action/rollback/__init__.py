"""Rollback stage: revert a merged bump (``run``), find it (``source``), guard Dify migrations (``guard``)."""
