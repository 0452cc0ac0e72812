"""Build stage: build one component image, label it, check its size budget, push it (``component``)."""
