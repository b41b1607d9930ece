"""Reports for recruiters: exploratory figures and tables of a candidate pool.

Pure functions shared by the ``eda`` stage and ``notebooks/eda.ipynb``: `titles` (word
frequencies of titles and their word cloud), `scores` (screening scores by country and
location), `countries` and `maps` (candidates per country, on a world map); `config` holds
the stage's knobs. Only `save` touches the disk.
"""
