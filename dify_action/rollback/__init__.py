"""Rollback stage: revert a merged bump (``run``), find it (``source``), guard Dify migrations
(``guard``); the request, the merged bump and the result live in ``model``, which run and source
both import."""
