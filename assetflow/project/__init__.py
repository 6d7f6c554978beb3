"""Loading a project: assetflow.toml, SQL and Python asset files, seeds -> an immutable Project."""
