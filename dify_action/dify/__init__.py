"""What the Dify image itself says: versions, the Alembic revision graph, image facts, app DSL.

``versions`` orders Dify versions and reads the base version of a Dockerfile; ``migrations``
parses ``/app/api/migrations/versions`` into a revision graph; ``facts`` reads those files from an
image (engine or registry) and serializes them for the gate record; ``registryfacts`` finds an
image's facts in a registry (record, layers, label); ``migrationreport`` says what a bump runs and
whether the target environment runs it safely; ``dsl`` checks exported app DSL files against the
DSL version of the image shipped.
"""
