"""Engines: where SQL runs and data lands. Each engine is one module behind `base.Engine`."""
