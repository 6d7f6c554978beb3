"""Running a plan: source fingerprints, assessment, compilation, the worker pool, steps, checks, locks."""
