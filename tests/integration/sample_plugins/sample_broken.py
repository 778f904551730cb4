"""A plugin whose import fails, for tests."""

raise ImportError("sample_broken needs a module that is not installed")
