"""The pipeline: the stages protocol and its real implementation (``stages``), and the run that
chains build -> test -> scan -> gates -> bump into one ``Result`` (``run``)."""
