"""The Faust stream app and its pure counting code."""
