"""The command line: click commands over assetflow.api, rendering, and the dev loop."""
