"""Reports for recruiters: exploratory figures and tables of a candidate pool."""
