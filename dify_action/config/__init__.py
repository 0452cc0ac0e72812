"""The ``dify-action.yaml`` config: load and validate (``load``), YAML with line marks (``yamlmarks``)."""
