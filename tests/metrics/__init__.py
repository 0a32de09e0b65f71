"""Tests of physgen.metrics (a package, so that module basenames may repeat across test folders)."""
