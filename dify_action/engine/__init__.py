"""The Docker engine adapter shared by build, smoke and scan: the SDK/CLI client (``docker``),
registry credentials for the docker CLI (``credentials``), and the engine as a GitHub job sees it (``job``)."""
