"""Approximate nearest-neighbour indexes and an exact int8 scan for large pools."""
