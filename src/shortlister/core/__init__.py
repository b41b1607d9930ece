"""The base floor: errors a user can cause, ids, safe output writing, logging, config.

Everything else in shortlister may import from here; nothing here imports shortlister
outside `core` (see `.importlinter`)."""
