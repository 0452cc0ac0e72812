"""One module per CLI command: argparse arguments in, a typed request out, the core called once."""
