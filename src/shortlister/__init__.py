"""shortlister: rank job candidates by fit to a target role."""

__version__ = "0.1.0"
